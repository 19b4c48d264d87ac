//go:build linux || freebsd || openbsd || netbsd

package alerts

import (
	"errors"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"
)

// DBus sends notices to the freedesktop notification service on the
// session bus (GNOME, KDE, Xfce and the others), as Wails' own
// notifications do; clicking one calls Open with its UI path.
type DBus struct {
	Open func(path string)

	mu     sync.Mutex
	conn   *dbus.Conn
	opens  map[uint32]string
	failed bool
}

const (
	notifyDest = "org.freedesktop.Notifications"
	notifyPath = dbus.ObjectPath("/org/freedesktop/Notifications")
)

// bodyMarkup escapes a body for services that read it as markup (GNOME,
// KDE): a script's error text is shown as text, never as a link or tags.
var bodyMarkup = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// connect reaches the session bus once; where there is none (a server,
// SSH) every Send says so cheaply.
func (d *DBus) connect() (*dbus.Conn, error) {
	if d.conn != nil {
		return d.conn, nil
	}
	if d.failed {
		return nil, errors.New("no D-Bus session bus")
	}
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		d.failed = true
		return nil, err
	}
	if err := conn.AddMatchSignal(dbus.WithMatchInterface(notifyDest), dbus.WithMatchMember("ActionInvoked")); err != nil {
		conn.Close()
		d.failed = true
		return nil, err
	}
	signals := make(chan *dbus.Signal, 16)
	conn.Signal(signals)
	go d.clicks(signals)
	d.conn, d.opens = conn, map[uint32]string{}
	return conn, nil
}

// Send shows n with a default action, so clicking it opens n.Open.
func (d *DBus) Send(n Notice) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	conn, err := d.connect()
	if err != nil {
		return false, err
	}
	var id uint32
	call := conn.Object(notifyDest, notifyPath).Call(notifyDest+".Notify", 0,
		"millrun", uint32(0), "millrun", n.Title, bodyMarkup.Replace(n.Body), []string{"default", "Open"},
		map[string]dbus.Variant{"desktop-entry": dbus.MakeVariant("millrun")}, int32(-1))
	if err := call.Store(&id); err != nil {
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
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
}

// NewSender returns the platform's sender.
func NewSender(open func(path string)) interface {
	Sender
	Close()
} {
	return &DBus{Open: open}
}
