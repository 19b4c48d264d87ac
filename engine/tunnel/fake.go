package tunnel

import (
	"context"
	"net"
	"sync"
	"time"
)

// Fake is a Backend for tests: a loopback listener posing as the public
// endpoint, with knobs for the failures a real tunnel has.
type Fake struct {
	mu      sync.Mutex
	Delay   time.Duration // before Listen answers
	Err     error         // Listen fails with this
	onState func(State, error)
	last    Config
}

// LastConfig is what the last Listen was asked for.
func (f *Fake) LastConfig() Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

type fakeListener struct {
	net.Listener
	url string
}

func (l *fakeListener) URL() string { return l.url }

// Listen opens a loopback listener after Delay, or fails with Err.
func (f *Fake) Listen(ctx context.Context, cfg Config, onState func(State, error)) (Listener, error) {
	f.mu.Lock()
	delay, ferr := f.Delay, f.Err
	f.onState = onState
	f.last = cfg
	f.mu.Unlock()
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if ferr != nil {
		return nil, ferr
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &fakeListener{Listener: ln, url: "http://" + ln.Addr().String()}, nil
}

// Drop simulates a lost connection the provider is retrying.
func (f *Fake) Drop(err error) { f.report(Reconnecting, err) }

// Restore simulates the provider reconnecting.
func (f *Fake) Restore() { f.report(Online, nil) }

func (f *Fake) report(st State, err error) {
	f.mu.Lock()
	cb := f.onState
	f.mu.Unlock()
	if cb != nil {
		cb(st, err)
	}
}
