// Package tunnel publishes the webhook handler to the internet through a
// tunnel provider (ngrok), behind a small interface with a loopback fake
// for tests. It owns the connection state a user sees: off, connecting,
// online, reconnecting, error.
package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/millrun/millrun/engine/connlimit"
)

// State is the tunnel's connection state.
type State string

// States, in the order a healthy start goes through them.
const (
	Off          State = "off"
	Connecting   State = "connecting"
	Online       State = "online"
	Reconnecting State = "reconnecting"
	Failed       State = "error"
)

// Status is what the UI shows.
type Status struct {
	State State     `json:"state"`
	URL   string    `json:"url,omitempty"`
	Error string    `json:"error,omitempty"`
	Since time.Time `json:"since"`
}

// Config is one tunnel start.
type Config struct {
	Authtoken string
	// Domain is a reserved domain (e.g. me.ngrok.app); empty for a random one.
	Domain string
	// AllowCIDRs, when set, are the only sources ngrok's edge lets through.
	AllowCIDRs []string
}

// Listener is a public endpoint whose connections arrive here.
type Listener interface {
	net.Listener
	URL() string
}

// Backend opens public listeners. Listen blocks until the endpoint is up
// or ctx ends; ctx then stays with the session (cancelling it closes the
// tunnel). onState reports later connection changes (Online, Reconnecting).
type Backend interface {
	Listen(ctx context.Context, cfg Config, onState func(State, error)) (Listener, error)
}

// Manager runs at most one tunnel and serves handler on it.
type Manager struct {
	backend        Backend
	handler        http.Handler
	log            *slog.Logger
	ConnectTimeout time.Duration

	mu      sync.Mutex
	stopped bool // by Stop: no Connect until Start
	status  Status
	gen     int // bumped by every Connect and Disconnect, so stale callbacks are ignored
	cancel  context.CancelFunc
	srv     *http.Server
	subs    map[chan Status]struct{}
}

// NewManager returns a manager that will serve handler, with no tunnel
// up until Connect.
func NewManager(b Backend, handler http.Handler, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{backend: b, handler: handler, log: log, ConnectTimeout: 20 * time.Second,
		status: Status{State: Off, Since: time.Now().UTC()}, subs: map[chan Status]struct{}{}}
}

// Status returns the current state.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status
}

// Subscribe returns a channel of state changes (the current one first) and
// a function to stop them. Slow readers miss intermediate states, never the
// latest.
func (m *Manager) Subscribe() (<-chan Status, func()) {
	ch := make(chan Status, 8)
	m.mu.Lock()
	m.subs[ch] = struct{}{}
	ch <- m.status
	m.mu.Unlock()
	return ch, func() {
		m.mu.Lock()
		delete(m.subs, ch)
		m.mu.Unlock()
	}
}

// set changes the status; the caller holds m.mu.
func (m *Manager) set(st State, url, errMsg string) {
	m.status = Status{State: st, URL: url, Error: errMsg, Since: time.Now().UTC()}
	m.log.Info("tunnel", "state", st, "url", url, "error", errMsg)
	for ch := range m.subs {
		select {
		case ch <- m.status:
		default:
			select { // full: drop the oldest so the newest gets in
			case <-ch:
			default:
			}
			select {
			case ch <- m.status:
			default:
			}
		}
	}
}

// ErrNoAuthtoken is returned by Connect without an authtoken.
var ErrNoAuthtoken = errors.New("no ngrok authtoken: paste yours from https://dashboard.ngrok.com/get-started/your-authtoken")

// errStopped is returned by Connect between Stop and Start.
var errStopped = errors.New("millrun is shutting down")

// Start begins the manager's lifetime: Connect works until Stop. A new
// manager needs no Start; nothing runs until Connect.
func (m *Manager) Start(context.Context) error {
	m.mu.Lock()
	m.stopped = false
	m.mu.Unlock()
	return nil
}

// Stop closes the tunnel and refuses Connect until Start.
func (m *Manager) Stop(context.Context) {
	m.mu.Lock()
	m.stopped = true
	m.mu.Unlock()
	m.Disconnect()
}

// Connect begins connecting and returns at once; Status and Subscribe
// tell how it goes. A running tunnel is replaced.
func (m *Manager) Connect(cfg Config) error {
	if strings.TrimSpace(cfg.Authtoken) == "" {
		return ErrNoAuthtoken
	}
	m.Disconnect()
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return errStopped
	}
	m.gen++
	gen := m.gen
	// The session's context must outlive this call: the backend keeps it.
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.set(Connecting, "", "")
	m.mu.Unlock()
	go m.connect(ctx, cancel, gen, cfg)
	return nil
}

func (m *Manager) connect(ctx context.Context, cancel context.CancelFunc, gen int, cfg Config) {
	var timedOut bool
	var tmu sync.Mutex
	// A timer, not context.WithTimeout: the deadline would also end the
	// session once connected.
	timer := time.AfterFunc(m.ConnectTimeout, func() {
		tmu.Lock()
		timedOut = true
		tmu.Unlock()
		cancel()
	})
	ln, err := m.backend.Listen(ctx, cfg, func(st State, err error) { m.backendState(gen, st, err) })
	timer.Stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen != m.gen { // stopped or restarted meanwhile
		if ln != nil {
			ln.Close()
		}
		return
	}
	if err != nil {
		tmu.Lock()
		to := timedOut
		tmu.Unlock()
		cancel()
		m.set(Failed, "", Describe(err, to, m.ConnectTimeout))
		return
	}
	// Anonymous callers on the internet would otherwise use up millrun's
	// connections with slow ones.
	limited := connlimit.New(ln, connlimit.Tunnel)
	srv := &http.Server{Handler: m.handler, ReadHeaderTimeout: 15 * time.Second, IdleTimeout: 2 * time.Minute, ConnState: limited.ConnState}
	m.srv = srv
	m.set(Online, ln.URL(), "")
	go func() {
		if err := srv.Serve(limited); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.backendState(gen, Failed, err)
		}
	}()
}

func (m *Manager) backendState(gen int, st State, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen != m.gen || m.status.State == Off || m.status.State == Connecting {
		return // the first Online is reported by connect itself
	}
	msg := ""
	if err != nil {
		msg = Describe(err, false, 0)
	}
	m.set(st, m.status.URL, msg)
}

// Disconnect closes the tunnel; local webhooks are unaffected.
func (m *Manager) Disconnect() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	if m.cancel != nil {
		m.cancel()
		m.cancel = nil
	}
	if m.srv != nil {
		srv := m.srv
		m.srv = nil
		go srv.Close()
	}
	if m.status.State != Off {
		m.set(Off, "", "")
	}
}

// coded is ngrok's error shape: a message with an ERR_NGROK_ code.
type coded interface {
	error
	Code() string
}

// Describe words a start failure for people.
func Describe(err error, timedOut bool, timeout time.Duration) string {
	if timedOut {
		msg := fmt.Sprintf("could not reach ngrok within %s: check the network connection (millrun keeps working locally)", timeout)
		if _, detail, ok := strings.Cut(err.Error(), ": "); ok && !errors.Is(err, context.DeadlineExceeded) {
			msg += "; last attempt: " + firstLine(detail)
		}
		return msg
	}
	var c coded
	if errors.As(err, &c) {
		switch strings.ToUpper(c.Code()) {
		case "ERR_NGROK_105", "ERR_NGROK_106", "ERR_NGROK_107":
			return "ngrok refused the authtoken: copy it again from https://dashboard.ngrok.com/get-started/your-authtoken (" + c.Code() + ")"
		case "ERR_NGROK_4018":
			return "ngrok needs a verified account and its authtoken (" + c.Code() + ")"
		case "ERR_NGROK_108":
			return "your ngrok account already has as many agents online as it allows: stop the other one (" + c.Code() + ")"
		case "ERR_NGROK_320", "ERR_NGROK_7117", "ERR_NGROK_7118", "ERR_NGROK_319":
			return "that domain is not reserved on this ngrok account: reserve it at https://dashboard.ngrok.com/domains or leave the domain empty (" + c.Code() + ")"
		}
		return "ngrok: " + firstLine(c.Error()) + " (" + c.Code() + ")"
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	if errors.As(err, &dnsErr) || errors.As(err, &opErr) {
		return "cannot reach ngrok: no network? (" + firstLine(err.Error()) + ")"
	}
	return firstLine(err.Error())
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
