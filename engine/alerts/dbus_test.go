//go:build linux

package alerts

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// fakeNotifications is the freedesktop notification service, recording.
type fakeNotifications struct{ got chan [2]string }

func (f *fakeNotifications) Notify(app string, replaces uint32, icon, summary, body string, actions []string, hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	f.got <- [2]string{summary, body}
	return 42, nil
}

// On a session bus of its own with a fake notification service: a notice
// reaches it, and clicking it (ActionInvoked) opens its page.
func TestDBusSenderShowsAndOpens(t *testing.T) {
	daemon := exec.Command("dbus-daemon", "--session", "--nofork", "--print-address=1")
	out, err := daemon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := daemon.Start(); err != nil {
		t.Fatalf("dbus-daemon (Debian's dbus-daemon package, which make setup-test installs): %v", err)
	}
	t.Cleanup(func() { _ = daemon.Process.Kill(); _ = daemon.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", strings.TrimSpace(addr))

	server, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	fake := &fakeNotifications{got: make(chan [2]string, 1)}
	if err := server.Export(fake, notifyPath, notifyDest); err != nil {
		t.Fatal(err)
	}
	if reply, err := server.RequestName(notifyDest, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("request name: %v %v", reply, err)
	}

	opened := make(chan string, 1)
	d := &DBus{Open: func(p string) { opened <- p }}
	defer d.Close()
	if ok, err := d.Send(Notice{Title: "millrun: u/me/x failed", Body: "u/me/x: ValueError: bad <a href='x'>", Open: "/runs/abc"}); !ok || err != nil {
		t.Fatalf("send: %v %v", ok, err)
	}
	select {
	case got := <-fake.got:
		if got != [2]string{"millrun: u/me/x failed", "u/me/x: ValueError: bad &lt;a href='x'&gt;"} {
			t.Fatalf("the service got %v", got)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the notification service got nothing")
	}
	if err := server.Emit(notifyPath, notifyDest+".ActionInvoked", uint32(42), "default"); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-opened:
		if p != "/runs/abc" {
			t.Fatalf("clicking opened %q", p)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("clicking the notification opened nothing")
	}
}

// sessionBus runs a private dbus-daemon at a fixed address, so that a
// second one started at the same address is the session bus coming back
// (a logout and login while millrun lives on).
type sessionBus struct {
	t      *testing.T
	addr   string
	daemon *exec.Cmd
}

func newSessionBus(t *testing.T) *sessionBus {
	b := &sessionBus{t: t, addr: "unix:path=" + t.TempDir() + "/bus"}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", b.addr)
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *sessionBus) start() {
	b.t.Helper()
	b.daemon = exec.Command("dbus-daemon", "--session", "--nofork", "--address="+b.addr, "--print-address=1")
	out, err := b.daemon.StdoutPipe()
	if err != nil {
		b.t.Fatal(err)
	}
	if err := b.daemon.Start(); err != nil {
		b.t.Fatalf("dbus-daemon (Debian's dbus-daemon package, which make setup-test installs): %v", err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		b.t.Fatal(err)
	}
}

func (b *sessionBus) stop() {
	if b.daemon != nil {
		_ = b.daemon.Process.Kill()
		_ = b.daemon.Wait()
		b.daemon = nil
	}
}

// serveNotifications puts a fake notification service on the bus.
func serveNotifications(t *testing.T) (*fakeNotifications, *dbus.Conn) {
	t.Helper()
	server, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeNotifications{got: make(chan [2]string, 4)}
	if err := server.Export(fake, notifyPath, notifyDest); err != nil {
		t.Fatal(err)
	}
	if reply, err := server.RequestName(notifyDest, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("request name: %v %v", reply, err)
	}
	return fake, server
}

// After the session bus restarts, the next notice reaches the new bus:
// the engine once logged "dbus: connection closed" and never told
// anything again.
func TestDBusSenderReconnectsAfterTheBusRestarts(t *testing.T) {
	bus := newSessionBus(t)
	fake, server := serveNotifications(t)
	d := &DBus{}
	defer d.Close()
	if ok, err := d.Send(Notice{Title: "before"}); !ok || err != nil {
		t.Fatalf("send before the restart: %v %v", ok, err)
	}
	<-fake.got
	server.Close()
	bus.stop()
	bus.start()
	fake, server = serveNotifications(t)
	defer server.Close()
	ok, err := d.Send(Notice{Title: "after"})
	if !ok || err != nil {
		t.Fatalf("send after the restart: %v %v", ok, err)
	}
	select {
	case got := <-fake.got:
		if got[0] != "after" {
			t.Fatalf("the new bus's service got %v", got)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the new bus's notification service got nothing")
	}
}

// A session without a bus at first (millrun started before the desktop
// session had one) gets notices once there is one.
func TestDBusSenderFindsABusThatCameLater(t *testing.T) {
	bus := newSessionBus(t)
	bus.stop()
	d := &DBus{retryAfter: time.Millisecond}
	defer d.Close()
	if ok, _ := d.Send(Notice{Title: "no bus"}); ok {
		t.Fatal("a send with no bus said it was shown")
	}
	bus.start()
	fake, server := serveNotifications(t)
	defer server.Close()
	time.Sleep(5 * time.Millisecond)
	if ok, err := d.Send(Notice{Title: "bus now"}); !ok || err != nil {
		t.Fatalf("send once the bus is there: %v %v", ok, err)
	}
	if got := <-fake.got; got[0] != "bus now" {
		t.Fatalf("got %v", got)
	}
}

// A session that names no bus gets no bus of godbus' making: it would run
// dbus-launch (where installed) at every retry, each a bus nobody reads.
func TestNoBusNamedStartsNone(t *testing.T) {
	dir := t.TempDir()
	launched := dir + "/launched"
	os.WriteFile(dir+"/dbus-launch", []byte("#!/bin/sh\ntouch "+launched+"\nexit 1\n"), 0o755)
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", dir)
	t.Setenv("DISPLAY", ":99")
	d := &DBus{retryAfter: time.Nanosecond}
	for i := 0; i < 3; i++ {
		if ok, _ := d.Send(Notice{Title: "x"}); ok {
			t.Fatal("shown with no bus")
		}
	}
	if _, err := os.Stat(launched); err == nil {
		t.Fatal("dbus-launch was run")
	}
}
