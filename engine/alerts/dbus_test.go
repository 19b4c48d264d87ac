//go:build linux

package alerts

import (
	"bufio"
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
