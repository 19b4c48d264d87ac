//go:build linux

package statusicon

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"fyne.io/systray"
	"github.com/godbus/dbus/v5"
)

// linuxIcon is a StatusNotifierItem on the session bus. The watcher (the
// panel, or GNOME's AppIndicator extension) may come and go, which
// systray follows; the bus itself may restart under a long-lived engine
// (a logout and login), which systray does not: the item is exported
// again on the new bus.
type linuxIcon struct {
	*menu
	start, end func()
	stopped    chan struct{}
	done       chan struct{}
	once       sync.Once
	// retry is how long to wait between tries to reach a bus.
	retry time.Duration
	// exported: systray's start ran (its end closes the connection it
	// made, and fails where it made none).
	exported bool
}

func start(a Actions, log *slog.Logger) Icon {
	systray.SetIcon(icon48)
	m := newMenu(a, log)
	// With no onReady, systray's start can run again for a new bus.
	start, end := systray.RunWithExternalLoop(nil, nil)
	ic := &linuxIcon{menu: m, start: start, end: end, stopped: make(chan struct{}), done: make(chan struct{}), retry: 2 * time.Second}
	go ic.keep()
	return ic
}

// keep exports the item on the session bus, and again each time the bus
// comes back after closing. Where there is no bus (a server, SSH), it
// waits quietly for one.
func (ic *linuxIcon) keep() {
	defer close(ic.done)
	warned := false
	wait := ic.retry
	for {
		var conn *dbus.Conn
		err := errNoAddress
		if sessionBusNamed() {
			conn, err = dbus.SessionBus()
		}
		if err != nil {
			if !warned {
				ic.log.Info("no status icon: no D-Bus session bus (it is tried again)", "err", err)
				warned = true
			}
			select {
			case <-ic.stopped:
				return
			case <-time.After(wait):
				wait = min(2*wait, 30*time.Second)
				continue
			}
		}
		warned, wait = false, ic.retry
		ic.start()
		ic.exported = true
		ic.log.Info("status icon on the session bus")
		select {
		case <-ic.stopped:
			return
		case <-conn.Context().Done():
			ic.log.Info("the session bus closed; the status icon returns with it")
		}
	}
}

var errNoAddress = errors.New("the session names no bus (DBUS_SESSION_BUS_ADDRESS, $XDG_RUNTIME_DIR/bus)")

// sessionBusNamed reports whether the session names its bus. Without an
// address godbus would start one of its own with dbus-launch, where that
// is installed: a bus no panel listens on, and a new one at every retry.
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

// Close removes the item from the bus.
func (ic *linuxIcon) Close() {
	ic.once.Do(func() {
		ic.menu.stop()
		close(ic.stopped)
		<-ic.done
		if ic.exported {
			ic.end()
		}
	})
}
