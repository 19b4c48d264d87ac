//go:build linux || freebsd || openbsd || netbsd

package alerts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// DBus sends notices to the freedesktop notification service on the
// session bus (GNOME, KDE, Xfce and the others), as Wails' own
// notifications do; clicking one calls Open with its UI path.
//
// The engine can outlive its session bus (a logout and login with
// KillUserProcesses=no, the bus restarted): a connection found closed is
// dropped and the next notice connects anew; a bus that could not be
// reached is tried again after a while, not never.
type DBus struct {
	Open func(path string)

	mu       sync.Mutex
	conn     *dbus.Conn
	opens    map[uint32]string
	failedAt time.Time
	lastErr  error

	// retryAfter is how long a failed connection is trusted to stay
	// failed (default 30 s): sends in between cost nothing.
	retryAfter time.Duration
}

const (
	notifyDest = "org.freedesktop.Notifications"
	notifyPath = dbus.ObjectPath("/org/freedesktop/Notifications")
)

// bodyMarkup escapes a body for services that read it as markup (GNOME,
// KDE): a script's error text is shown as text, never as a link or tags.
var bodyMarkup = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// connect returns a live connection to the session bus, reaching it anew
// when the last one closed.
func (d *DBus) connect() (*dbus.Conn, error) {
	if d.conn != nil && d.conn.Connected() {
		return d.conn, nil
	}
	d.drop()
	retry := d.retryAfter
	if retry <= 0 {
		retry = 30 * time.Second
	}
	if !d.failedAt.IsZero() && time.Since(d.failedAt) < retry {
		return nil, fmt.Errorf("no D-Bus session bus: %w", d.lastErr)
	}
	if !sessionBusNamed() {
		d.failedAt, d.lastErr = time.Now(), errors.New("no session bus address (DBUS_SESSION_BUS_ADDRESS, $XDG_RUNTIME_DIR/bus)")
		return nil, d.lastErr
	}
	conn, err := dbus.ConnectSessionBus()
	if err == nil {
		if err = conn.AddMatchSignal(dbus.WithMatchInterface(notifyDest), dbus.WithMatchMember("ActionInvoked")); err != nil {
			conn.Close()
		}
	}
	if err != nil {
		d.failedAt, d.lastErr = time.Now(), err
		return nil, err
	}
	d.failedAt, d.lastErr = time.Time{}, nil
	signals := make(chan *dbus.Signal, 16)
	conn.Signal(signals)
	go d.clicks(signals)
	d.conn, d.opens = conn, map[uint32]string{}
	return conn, nil
}

// sessionBusNamed reports whether the session names its bus. Without an
// address godbus would start one of its own with dbus-launch, where that
// is installed: a bus nobody listens on, and a new one at every retry.
func sessionBusNamed() bool {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return true
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, "bus"))
	return err == nil
}

// drop forgets a connection (its clicks go with it: the notices it showed
// belonged to a bus that is gone).
func (d *DBus) drop() {
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
}

// Send shows n with a default action, so clicking it opens n.Open. A
// connection that turns out closed is replaced once, and n sent again.
func (d *DBus) Send(n Notice) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for attempt := 0; ; attempt++ {
		conn, err := d.connect()
		if err != nil {
			return false, err
		}
		id, err := d.notify(conn, n)
		if err != nil {
			if !conn.Connected() && attempt == 0 {
				continue
			}
			return false, err
		}
		if n.Open != "" {
			if len(d.opens) > 256 {
				clear(d.opens)
			}
			d.opens[id] = n.Open
		}
		return true, nil
	}
}

func (d *DBus) notify(conn *dbus.Conn, n Notice) (uint32, error) {
	var id uint32
	call := conn.Object(notifyDest, notifyPath).Call(notifyDest+".Notify", 0,
		"millrun", uint32(0), "millrun", n.Title, bodyMarkup.Replace(n.Body), []string{"default", "Open"},
		map[string]dbus.Variant{"desktop-entry": dbus.MakeVariant("millrun")}, int32(-1))
	return id, call.Store(&id)
}

func (d *DBus) clicks(signals <-chan *dbus.Signal) {
	for s := range signals {
		if s.Name != notifyDest+".ActionInvoked" || len(s.Body) < 1 {
			continue
		}
		id, _ := s.Body[0].(uint32)
		d.mu.Lock()
		path, ok := d.opens[id]
		d.mu.Unlock()
		if ok && d.Open != nil {
			d.Open(path)
		}
	}
}

// Close leaves the bus.
func (d *DBus) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.drop()
}

// NewSender returns the platform's sender.
func NewSender(open func(path string)) interface {
	Sender
	Close()
} {
	return &DBus{Open: open}
}
