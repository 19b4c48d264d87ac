//go:build linux

package statusicon

import (
	"bufio"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// A desktop's status area, as the protocol has it: the panel (or GNOME's
// AppIndicator extension) owns org.kde.StatusNotifierWatcher, items
// register with it, and it reads their menu over com.canonical.dbusmenu.
// No GNOME shell runs here; this fake is what one sees of millrun.
type fakeWatcher struct{ registered chan string }

// A real watcher takes a registration again without complaint; so does
// this one, keeping the first few for the test to read.
func (w *fakeWatcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	select {
	case w.registered <- string(sender):
	default:
	}
	return nil
}

type bus struct {
	t      *testing.T
	addr   string
	daemon *exec.Cmd
}

func newBus(t *testing.T) *bus {
	b := &bus{t: t, addr: "unix:path=" + t.TempDir() + "/bus"}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", b.addr)
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *bus) start() {
	b.t.Helper()
	b.daemon = exec.Command("dbus-daemon", "--session", "--nofork", "--address="+b.addr, "--print-address=1")
	out, err := b.daemon.StdoutPipe()
	if err != nil {
		b.t.Fatal(err)
	}
	if err := b.daemon.Start(); err != nil {
		b.t.Fatalf("dbus-daemon (make setup-test installs it): %v", err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		b.t.Fatal(err)
	}
}

func (b *bus) stop() {
	if b.daemon != nil {
		_ = b.daemon.Process.Kill()
		_ = b.daemon.Wait()
		b.daemon = nil
	}
}

// watch puts a fake watcher on the bus and returns the bus name of the
// first item that registers with it.
func watch(t *testing.T) (*dbus.Conn, string) {
	t.Helper()
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	w := &fakeWatcher{registered: make(chan string, 4)}
	if err := conn.Export(w, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("watcher name: %v %v", reply, err)
	}
	select {
	case item := <-w.registered:
		return conn, item
	case <-time.After(10 * time.Second):
		t.Fatal("no status icon registered with the watcher")
	}
	return nil, ""
}

type menuItem struct {
	id    int32
	props map[string]dbus.Variant
}

func (m menuItem) label() string {
	s, _ := m.props["label"].Value().(string)
	return s
}

// layout reads the item's menu as the panel does.
func layout(t *testing.T, conn *dbus.Conn, item string) []menuItem {
	t.Helper()
	var rev uint32
	var root struct {
		ID       int32
		Props    map[string]dbus.Variant
		Children []dbus.Variant
	}
	err := conn.Object(item, "/StatusNotifierItem/menu").Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root)
	if err != nil {
		t.Fatalf("GetLayout: %v", err)
	}
	var out []menuItem
	for _, c := range root.Children {
		f, ok := c.Value().([]any)
		if !ok || len(f) < 2 {
			t.Fatalf("a menu entry is %T", c.Value())
		}
		id, _ := f[0].(int32)
		props, _ := f[1].(map[string]dbus.Variant)
		out = append(out, menuItem{id: id, props: props})
	}
	return out
}

func find(t *testing.T, items []menuItem, prefix string) menuItem {
	t.Helper()
	for _, it := range items {
		if strings.HasPrefix(it.label(), prefix) {
			return it
		}
	}
	var labels []string
	for _, it := range items {
		labels = append(labels, it.label())
	}
	t.Fatalf("no menu entry %q in %q", prefix, labels)
	return menuItem{}
}

func click(t *testing.T, conn *dbus.Conn, item string, id int32) {
	t.Helper()
	if err := conn.Object(item, "/StatusNotifierItem/menu").Call("com.canonical.dbusmenu.Event", 0, id, "clicked", dbus.MakeVariant(""), uint32(0)).Err; err != nil {
		t.Fatalf("click: %v", err)
	}
}

type recorder struct {
	mu     sync.Mutex
	events chan string
}

func (r *recorder) actions() Actions {
	return Actions{
		Open:  func(page string) { r.events <- "open " + page },
		Pause: func(p bool) { r.events <- map[bool]string{true: "pause", false: "resume"}[p] },
		Quit:  func() { r.events <- "quit" },
	}
}

func (r *recorder) want(t *testing.T, what string) {
	t.Helper()
	select {
	case got := <-r.events:
		if got != what {
			t.Fatalf("the menu did %q, want %q", got, what)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the menu did nothing, want %q", what)
	}
}

// The icon registers with the desktop's watcher, its menu shows the state
// and does what it says; after the session bus restarts, it registers with
// the new bus's watcher. systray keeps one icon a process, so this is one
// test.
func TestStatusIconOnTheSessionBus(t *testing.T) {
	b := newBus(t)
	rec := &recorder{events: make(chan string, 8)}
	ic := Start(rec.actions(), nil)
	defer ic.Close()
	conn, item := watch(t)

	items := layout(t, conn, item)
	find(t, items, "millrun is running")
	find(t, items, "Tunnel: off")
	find(t, items, "No failed runs")
	if p := find(t, items, "Pause schedules"); p.props["toggle-type"].Value() != "checkmark" {
		t.Fatalf("Pause schedules is not a check box: %v", p.props)
	}
	var title string
	if err := conn.Object(item, "/StatusNotifierItem").StoreProperty("org.kde.StatusNotifierItem.Title", &title); err != nil || title != "millrun" {
		t.Fatalf("the item's title: %q %v", title, err)
	}

	ic.Update(State{Running: 2, Tunnel: "online", TunnelURL: "https://a.ngrok.app", LastFailure: "u/me/sync failed: ValueError: bad", LastFailurePage: "/runs/j1"})
	items = layout(t, conn, item)
	find(t, items, "millrun is running 2 jobs")
	find(t, items, "Tunnel: online at https://a.ngrok.app")
	fail := find(t, items, "Last failure: u/me/sync failed: ValueError: bad")

	click(t, conn, item, find(t, items, "Open millrun").id)
	rec.want(t, "open ")
	click(t, conn, item, fail.id)
	rec.want(t, "open /runs/j1")
	click(t, conn, item, find(t, items, "Pause schedules").id)
	rec.want(t, "pause")
	ic.Update(State{Paused: true})
	if p := find(t, layout(t, conn, item), "Pause schedules"); p.props["toggle-state"].Value() != int32(1) {
		t.Fatalf("paused, the check box reads %v", p.props["toggle-state"])
	}
	click(t, conn, item, find(t, items, "Pause schedules").id)
	rec.want(t, "resume")
	click(t, conn, item, find(t, items, "Quit millrun").id)
	rec.want(t, "quit")

	// The session bus restarts (a logout and login while millrun runs on).
	conn.Close()
	b.stop()
	b.start()
	conn, item = watch(t)
	defer conn.Close()
	find(t, layout(t, conn, item), "Quit millrun")
}
