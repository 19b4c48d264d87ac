package tunnel

import (
	"net"
	"sync"
)

// Connection limits on the tunnel: one address cannot hold more than
// perAddrConns connections open at once, everyone together no more than
// totalConns. Anonymous callers on the internet would otherwise be able
// to use up millrun's file descriptors with slow connections.
const (
	perAddrConns = 32
	totalConns   = 512
)

// limitListener closes connections over the limits as soon as they are
// accepted, so the HTTP server never sees them.
type limitListener struct {
	net.Listener
	perAddr, total int

	mu     sync.Mutex
	open   int
	byAddr map[string]int
}

func limitConns(ln net.Listener, perAddr, total int) *limitListener {
	return &limitListener{Listener: ln, perAddr: perAddr, total: total, byAddr: map[string]int{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := remoteHost(c)
		l.mu.Lock()
		if l.open >= l.total || l.byAddr[addr] >= l.perAddr {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.open++
		l.byAddr[addr]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, release: sync.OnceFunc(func() { l.release(addr) })}, nil
	}
}

func (l *limitListener) release(addr string) {
	l.mu.Lock()
	l.open--
	if l.byAddr[addr]--; l.byAddr[addr] <= 0 {
		delete(l.byAddr, addr)
	}
	l.mu.Unlock()
}

// remoteHost is the caller's address without the port (ngrok's
// connections report the client's address, not ngrok's).
func remoteHost(c net.Conn) string {
	a := c.RemoteAddr()
	if a == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	c.release()
	return c.Conn.Close()
}
