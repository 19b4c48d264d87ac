package connlimit

import (
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

func listen(t *testing.T, lim Limits) (*Listener, string) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := New(raw, lim)
	t.Cleanup(func() { ln.Close() })
	return ln, raw.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closed reports whether the server closed c (a read ends at once with
// something other than a timeout).
func closed(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func acceptInto(ln net.Listener) chan net.Conn {
	accepted := make(chan net.Conn, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	return accepted
}

// One address cannot hold more connections than its share: its newest
// connection takes the place of its oldest one still waiting to send a
// request.
func TestPerAddressCapMakesRoomFromTheSameAddress(t *testing.T) {
	t.Parallel()
	ln, addr := listen(t, Limits{PerAddr: 2, Total: 10})
	accepted := acceptInto(ln)
	first := dial(t, addr)
	<-accepted
	dial(t, addr)
	<-accepted
	dial(t, addr)
	select {
	case <-accepted:
	case <-time.After(2 * time.Second):
		t.Fatal("the newest connection was not accepted")
	}
	if !closed(first) {
		t.Fatal("the oldest waiting connection of the address was kept open past its cap")
	}
	if n := ln.Open(); n != 2 {
		t.Fatalf("%d connections counted, want 2", n)
	}
}

// Connections busy with a request are never closed to make room: a
// connection over the cap is refused instead.
func TestBusyConnectionsAreKept(t *testing.T) {
	t.Parallel()
	ln, addr := listen(t, Limits{PerAddr: 2, Total: 10})
	release := make(chan struct{})
	srv := &http.Server{ConnState: ln.ConnState, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { close(release); srv.Close() })
	busy := []net.Conn{dial(t, addr), dial(t, addr)}
	for _, c := range busy {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && ln.waitingCount() > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	third := dial(t, addr)
	if !closed(third) {
		t.Fatal("a connection over the cap was accepted while the others were busy")
	}
	for _, c := range busy {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		if !(errors.As(err, &ne) && ne.Timeout()) {
			t.Fatalf("a busy connection was closed: %v", err)
		}
	}
}

func (l *Listener) waitingCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for c := range l.conns {
		if c.waiting {
			n++
		}
	}
	return n
}

// Connections that never finish their request header (a slowloris) fill
// the listener; a normal call still gets in at once, in place of the
// oldest of them, and the count stays within the cap.
func TestSlowlorisDoesNotStarveANormalCall(t *testing.T) {
	t.Parallel()
	ln, addr := listen(t, Limits{Total: 8})
	srv := &http.Server{ConnState: ln.ConnState, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	for range 20 {
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	res, err := client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("a normal call during a slowloris: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "ok" || time.Since(start) > time.Second {
		t.Fatalf("a normal call during a slowloris answered %q after %s", b, time.Since(start))
	}
	if n := ln.Open(); n > 8 {
		t.Fatalf("%d connections open, cap 8", n)
	}
}

// A local listener's callers all share 127.0.0.1: the per-address cap
// does not apply to them, only the total.
func TestLoopbackIsExemptFromThePerAddressCap(t *testing.T) {
	t.Parallel()
	ln, addr := listen(t, Limits{PerAddr: 1, Total: 10, ExemptLoopback: true})
	accepted := acceptInto(ln)
	var conns []net.Conn
	for range 3 {
		conns = append(conns, dial(t, addr))
		<-accepted
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		if !(errors.As(err, &ne) && ne.Timeout()) {
			t.Fatalf("a loopback connection was closed by the per-address cap: %v", err)
		}
	}
}

// The total leaves descriptors for everything that is not a connection.
func TestLocalTotal(t *testing.T) {
	t.Parallel()
	for fds, want := range map[int]int{0: 1024, 64: 48, 256: 192, 1024: 768, 20000: 1024, 8: 16} {
		if got := localTotal(fds); got != want {
			t.Errorf("localTotal(%d) = %d, want %d", fds, got, want)
		}
	}
}
