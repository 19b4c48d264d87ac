//go:build linux

package statusicon

import (
	"context"
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
		// systray registers once, then watches for a watcher (the panel)
		// that comes later; one that comes between the two is missed. So
		// the icon watches too, from before systray starts, and registers
		// again with whichever watcher is there.
		watchers := watchWatchers(conn)
		ic.start()
		ic.exported = true
		ic.log.Info("status icon on the session bus")
		registerWith(conn)
	wait:
		for {
			select {
			case <-ic.stopped:
				conn.RemoveSignal(watchers)
				return
			case <-conn.Context().Done():
				ic.log.Info("the session bus closed; the status icon returns with it")
				break wait
			case sig := <-watchers:
				if sig != nil && sig.Name == "org.freedesktop.DBus.NameOwnerChanged" && len(sig.Body) == 3 && sig.Body[0] == watcherName {
					if owner, _ := sig.Body[2].(string); owner != "" {
						registerWith(conn)
					}
				}
			}
		}
		conn.RemoveSignal(watchers)
	}
}

const watcherName = "org.kde.StatusNotifierWatcher"

// watchWatchers asks the bus to tell conn when the watcher's name gets a
// new owner (a panel starting or restarting).
func watchWatchers(conn *dbus.Conn) chan *dbus.Signal {
	ch := make(chan *dbus.Signal, 8)
	_ = conn.AddMatchSignal(dbus.WithMatchObjectPath("/org/freedesktop/DBus"), dbus.WithMatchInterface("org.freedesktop.DBus"),
		dbus.WithMatchSender("org.freedesktop.DBus"), dbus.WithMatchMember("NameOwnerChanged"), dbus.WithMatchArg(0, watcherName))
	conn.Signal(ch)
	return ch
}

// registerWith registers the item (systray's object path) with the
// watcher, if one is there; registering twice is harmless.
func registerWith(conn *dbus.Conn) {
	// A watcher that does not answer must not hold the icon's loop.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var there bool
	if conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, watcherName).Store(&there) != nil || !there {
		return
	}
	conn.Object(watcherName, "/StatusNotifierWatcher").CallWithContext(ctx, watcherName+".RegisterStatusNotifierItem", 0, "/StatusNotifierItem")
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
