package tunnel

import (
	"errors"
	"net"
	"testing"
	"time"
)

// One address cannot hold more connections open than its share.
func TestLimitConnsPerAddress(t *testing.T) {
	t.Parallel()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := limitConns(raw, 2, 10)
	defer ln.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dial()
	dial()
	for range 2 {
		select {
		case <-accepted:
		case <-time.After(2 * time.Second):
			t.Fatal("a connection within the limit was not accepted")
		}
	}
	third := dial()
	third.SetReadDeadline(time.Now().Add(2 * time.Second))
	var ne net.Error
	if _, err := third.Read(make([]byte, 1)); err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("a third connection from one address was kept open: %v", err)
	}
	select {
	case <-accepted:
		t.Fatal("the third connection reached the server")
	default:
	}
}
