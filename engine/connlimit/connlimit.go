// Package connlimit bounds the connections a listener hands to an HTTP
// server, so that callers who open connections and never finish a request
// (a slowloris) cannot take the file descriptors, or the server's
// attention, that a normal call needs.
package connlimit

import (
	"net"
	"net/http"
	"sync"
)

// Limits are the caps a Listener enforces.
type Limits struct {
	// PerAddr caps the connections one remote address holds at once; 0
	// means no cap.
	PerAddr int
	// Total caps all connections together; 0 means no cap.
	Total int
	// ExemptLoopback lifts PerAddr for loopback callers: on a local
	// listener every caller (the UI, curl, local services) is 127.0.0.1,
	// so a per-address cap there would be the total cap under another name.
	ExemptLoopback bool
}

// Tunnel is what the tunnel's listener allows: every caller on the
// internet gets a small share, so one cannot crowd the others out.
var Tunnel = Limits{PerAddr: 32, Total: 512}

// localMax bounds a local listener's connections whatever the file
// descriptor limit: each costs a goroutine and its buffers (~20 KiB).
const localMax = 1024

// Local is what a local listener (loopback, or the LAN with
// --allow-remote) allows: remote addresses get the tunnel's share, and all
// callers together stay below the process's file descriptor limit, with
// room left for the database, the jobs' pipes and the tunnel.
func Local() Limits {
	return Limits{PerAddr: Tunnel.PerAddr, Total: localTotal(fdLimit()), ExemptLoopback: true}
}

func localTotal(fds int) int {
	if fds <= 0 {
		return localMax
	}
	// A quarter of the descriptors (at most 256) stays for everything
	// that is not a connection.
	return max(16, min(localMax, fds-min(256, fds/4)))
}

// Listener applies Limits at Accept. A connection over a cap does not
// wait in the kernel's accept queue, where it would starve the calls
// behind it: it makes room by closing the oldest connection that has not
// sent a complete request header yet (or sits idle between requests) from
// the address holding the most connections, or, when every connection is
// busy with a request, it is closed itself. The server must report its
// connections' states through ConnState for this to know which are busy.
type Listener struct {
	net.Listener
	lim Limits

	mu     sync.Mutex
	seq    uint64
	conns  map[*conn]struct{}
	byAddr map[string]int
}

// New wraps ln.
func New(ln net.Listener, lim Limits) *Listener {
	return &Listener{Listener: ln, lim: lim, conns: map[*conn]struct{}{}, byAddr: map[string]int{}}
}

// Accept returns the next connection within the limits.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr, loopback := remoteHost(c)
		l.mu.Lock()
		var evicted []*conn
		ok := true
		if perAddr := l.lim.PerAddr; perAddr > 0 && !(loopback && l.lim.ExemptLoopback) && l.byAddr[addr] >= perAddr {
			if v := l.victim(addr); v != nil {
				evicted = append(evicted, v)
			} else {
				ok = false
			}
		}
		if ok && l.lim.Total > 0 && len(l.conns) >= l.lim.Total {
			if v := l.victim(""); v != nil {
				evicted = append(evicted, v)
			} else {
				ok = false
			}
		}
		var nc *conn
		if ok {
			l.seq++
			nc = &conn{Conn: c, l: l, addr: addr, seq: l.seq, waiting: true}
			l.conns[nc] = struct{}{}
			l.byAddr[addr]++
		}
		l.mu.Unlock()
		for _, v := range evicted {
			v.Conn.Close()
		}
		if nc == nil {
			c.Close()
			continue
		}
		return nc, nil
	}
}

// victim picks, and forgets, the connection to close to make room: one
// waiting for a request (from addr, when given), from the address with the
// most connections, the oldest first. nil when every candidate is busy.
// The caller holds l.mu.
func (l *Listener) victim(addr string) *conn {
	var best *conn
	for c := range l.conns {
		if !c.waiting || (addr != "" && c.addr != addr) {
			continue
		}
		if best == nil || l.byAddr[c.addr] > l.byAddr[best.addr] ||
			(l.byAddr[c.addr] == l.byAddr[best.addr] && c.seq < best.seq) {
			best = c
		}
	}
	if best != nil {
		l.forget(best)
	}
	return best
}

// forget stops counting c; the caller holds l.mu.
func (l *Listener) forget(c *conn) {
	if _, ok := l.conns[c]; !ok {
		return
	}
	delete(l.conns, c)
	if l.byAddr[c.addr]--; l.byAddr[c.addr] <= 0 {
		delete(l.byAddr, c.addr)
	}
}

// ConnState is the http.Server hook that tells the listener which
// connections are busy with a request and which only wait for one.
func (l *Listener) ConnState(nc net.Conn, st http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch st {
	case http.StateNew, http.StateIdle:
		c.waiting = true
	case http.StateActive:
		c.waiting = false
	case http.StateHijacked:
		// Whoever took it (a WebSocket) owns it now; it still counts.
		c.waiting = false
	case http.StateClosed:
		l.forget(c)
	}
}

// Open returns how many connections are counted now.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

type conn struct {
	net.Conn
	l    *Listener
	addr string
	seq  uint64
	// waiting: no complete request header yet, or idle between requests.
	waiting bool
}

// CloseWrite lets the server end its answer to a caller still sending a
// body it will not read (FIN, then a pause, then close) without a reset
// that could destroy the answer on its way.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *conn) Close() error {
	c.l.mu.Lock()
	c.l.forget(c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// remoteHost is the caller's address without the port (the tunnel's
// connections report the client's address, not the provider's).
func remoteHost(c net.Conn) (string, bool) {
	a := c.RemoteAddr()
	if a == nil {
		return "", false
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		host = a.String()
	}
	ip := net.ParseIP(host)
	return host, ip != nil && ip.IsLoopback()
}
