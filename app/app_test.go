package app

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/app/statusicon"
	"github.com/millrun/millrun/engine/alerts"
	"github.com/millrun/millrun/engine/instance"
	"github.com/millrun/millrun/engine/testkit"
)

// TestMain lets the test binary stand in for `millrun engine` when a test
// launches one (MILLRUN_TEST_ENGINE set).
func TestMain(m *testing.M) {
	if os.Getenv("MILLRUN_TEST_ENGINE") == "" {
		os.Exit(m.Run())
	}
	fs := flag.NewFlagSet("engine", flag.ExitOnError)
	data := fs.String("data", "", "")
	listen := fs.String("listen", "", "")
	fs.String("window-app", "", "")
	fs.Parse(os.Args[2:]) // after "engine"
	a := New(Options{DataDir: *data, Listen: *listen, Workspace: "local", Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err := a.Serve(context.Background()); err != nil {
		os.Stderr.WriteString("millrun: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(0)
}

func quietApp(dir string) *App {
	return New(Options{DataDir: dir, Listen: "127.0.0.1:0", Workspace: "local", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// start runs a's engine in this process, as `millrun engine` does.
func start(t *testing.T, a *App) *Remote {
	t.Helper()
	lock, err := instance.Acquire(a.opts.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	a.lock = lock
	a.Startup(context.Background())
	if a.startErr != nil {
		t.Fatalf("Startup: %v", a.startErr)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	info, err := instance.Read(a.opts.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	return newRemote(*info)
}

// attachWindow attaches a stand-in window, whose commands arrive on the
// returned channel; the window closes with the test.
func attachWindow(t *testing.T, r *Remote) chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmds := make(chan string, 8)
	done := make(chan error, 1)
	go func() { done <- r.Attach(ctx, func(c string) { cmds <- c }) }()
	t.Cleanup(func() { cancel(); <-done })
	testkit.WaitUntil(t, "the window to attach", 10*time.Second, func() bool {
		shown, _ := r.Show("")
		if shown {
			<-cmds // that show
		}
		return shown
	})
	return cmds
}

// Launching millrun again shows the open window instead of starting a
// second engine; with no window open it says so, so the launch opens one.
func TestSecondLaunchShowsTheOpenWindow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := start(t, quietApp(dir))
	l := &Launcher{DataDir: dir, Listen: "127.0.0.1:0", Engine: []string{"/nonexistent/millrun", "engine"}}
	found, err := l.Connect()
	if err != nil || found.URL() != r.URL() {
		t.Fatalf("Connect to the running engine: %v %v", found, err)
	}
	if shown, err := found.Show(""); err != nil || shown {
		t.Fatalf("show with no window open: shown=%v err=%v", shown, err)
	}
	cmds := attachWindow(t, found)
	if shown, err := found.Show("/runs/42"); err != nil || !shown {
		t.Fatalf("show with a window open: shown=%v err=%v", shown, err)
	}
	if got := <-cmds; got != "open /runs/42" {
		t.Fatalf("the window was told %q", got)
	}
	// A page is one command line: no smuggling a second command in.
	if _, err := found.Show("/runs\nquit"); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("show with a newline in the page: %v", err)
	}
	// One window at a time: a second one is told the first is open.
	if err := found.Attach(context.Background(), func(string) {}); !errors.Is(err, errWindowOpen) {
		t.Fatalf("second window attach: %v", err)
	}
}

// Only someone who can read the data directory may raise, attach to or
// stop the engine, or act as the window.
func TestDesktopRoutesNeedTheInstanceSecret(t *testing.T) {
	t.Parallel()
	a := quietApp(t.TempDir())
	r := start(t, a)
	for _, secret := range []string{"", "wrong"} {
		bad := newRemote(instance.Info{URL: r.URL(), Secret: secret})
		if _, err := bad.Show(""); err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("show with secret %q: %v", secret, err)
		}
		if err := bad.Quit(); err == nil {
			t.Fatalf("quit with secret %q accepted", secret)
		}
		if err := bad.Attach(context.Background(), func(string) {}); err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("attach with secret %q: %v", secret, err)
		}
	}
	get := func(secret string) (int, string) {
		var hdr []string
		if secret != "" {
			hdr = []string{secretHeader, secret}
		}
		res := testkit.Client{URL: r.URL()}.Do(t, "GET", "/api/millrun/whoami", "", "", hdr...)
		return res.Status, res.Body
	}
	if code, body := get(r.info.Secret); code != 200 || !strings.Contains(body, `"desktop":true`) {
		t.Fatalf("whoami as the window: %d %s", code, body)
	}
	for _, secret := range []string{"", "wrong"} {
		if code, body := get(secret); code != 401 || strings.Contains(body, `"desktop":true`) {
			t.Fatalf("whoami with secret %q: %d %s", secret, code, body)
		}
	}
}

// A headless millrun on the same data directory is named, not fought with.
func TestHeadlessHolderIsNamed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock, err := instance.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	lock.Publish(instance.Info{PID: 4242, Kind: instance.KindServe, URL: "http://127.0.0.1:8700"})
	_, err = (&Launcher{DataDir: dir, Listen: "127.0.0.1:0", Engine: []string{"/nonexistent/millrun", "engine"}}).Connect()
	if err == nil || !strings.Contains(err.Error(), "millrun serve at http://127.0.0.1:8700 (pid 4242, ") {
		t.Fatalf("Connect against serve: %v", err)
	}
}

// launchEngine launches this test binary as the engine (it is millrun's
// engine when MILLRUN_TEST_ENGINE is set) for the data folder dir.
func launchEngine(t *testing.T, dir string) (*Launcher, *Remote) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	l := &Launcher{DataDir: dir, Listen: "127.0.0.1:0", Engine: []string{"/usr/bin/env", "MILLRUN_TEST_ENGINE=1", self, "engine"}}
	r, err := l.Connect()
	if err != nil {
		t.Fatal(err)
	}
	return l, r
}

// The first launch starts the engine in a process of its own that
// outlives the launch; the window's Quit stops it and frees the folder.
func TestLaunchStartsTheEngineInTheBackground(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, r := launchEngine(t, dir)
	t.Cleanup(func() { _ = r.Quit() }) // should the test stop early
	if r.info.PID == os.Getpid() || r.info.PID == 0 {
		t.Fatalf("the engine runs in pid %d, this test is %d", r.info.PID, os.Getpid())
	}
	cmds := attachWindow(t, r)
	again, err := l.Connect()
	if err != nil || again.info.PID != r.info.PID {
		t.Fatalf("a second launch started another engine: %+v %v", again, err)
	}
	if err := r.Quit(); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-cmds:
		if c != "quit" {
			t.Fatalf("the window was told %q on quit", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the window was not told millrun quit")
	}
	testkit.WaitUntil(t, "the engine to free the data folder", 10*time.Second, func() bool {
		lock, err := instance.Acquire(dir)
		if err == nil {
			lock.Release()
		}
		return err == nil
	})
}

// An engine that cannot start says why, in its own words.
func TestLaunchSaysWhyTheEngineDidNotStart(t *testing.T) {
	t.Parallel()
	l := &Launcher{DataDir: t.TempDir(), Listen: "127.0.0.1:0",
		Engine: []string{"/bin/sh", "-c", `echo "millrun: the database is damaged" >&2; exit 1`, "engine"}}
	_, err := l.Connect()
	if err == nil || err.Error() != "millrun's engine did not start: the database is damaged" {
		t.Fatalf("Connect: %v", err)
	}
}

// When the engine cannot be reached the window says why instead of
// going blank.
func TestWindowExplainsAFailedStart(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	failedPage(errors.New("the <database> is damaged"), "/data").ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "millrun could not start") ||
		!strings.Contains(rec.Body.String(), "the &lt;database&gt; is damaged") {
		t.Fatalf("failed start page: %d %s", rec.Code, rec.Body.String())
	}
}

// The close notice is said once per data directory, across launches.
func TestCloseNoticeOnlyOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if !firstClose(dir, log) {
		t.Fatal("first close not noticed")
	}
	if firstClose(dir, log) {
		t.Fatal("close notice repeated after a restart")
	}
}

// Without a display GTK would panic with a stack trace; say it instead.
func TestNoDisplayIsSaidPlainly(t *testing.T) {
	t.Parallel()
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	if err := checkDisplay("linux", env(nil)); err != ErrNoDisplay || !strings.Contains(err.Error(), "millrun serve") {
		t.Fatalf("linux without a display: %v", err)
	}
	for _, vars := range []map[string]string{{"DISPLAY": ":0"}, {"WAYLAND_DISPLAY": "wayland-0"}} {
		if err := checkDisplay("linux", env(vars)); err != nil {
			t.Fatalf("%v: %v", vars, err)
		}
	}
	if err := checkDisplay("windows", env(nil)); err != nil {
		t.Fatalf("windows: %v", err)
	}
}

// When the usual port is taken the engine still starts, on another port,
// and the UI says so: callers set up with the usual port would miss it.
func TestTakenPortIsSaid(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	a := quietApp(t.TempDir())
	a.opts.Listen = busy.Addr().String()
	r := start(t, a)
	if a.Addr() == busy.Addr().String() {
		t.Fatal("listening on a taken port")
	}
	rec := httptest.NewRecorder()
	r.Handler(func(err error) http.Handler { return failedPage(err, "") }).ServeHTTP(rec, httptest.NewRequest("GET", "/api/millrun/whoami", nil))
	if !strings.Contains(rec.Body.String(), "Another program is using "+busy.Addr().String()+", so this time webhooks are on "+a.Addr()) {
		t.Fatalf("whoami: %s", rec.Body.String())
	}
}

// A clicked notification opens its page: in the open window, or in a new
// window when none is open.
func TestNotificationClickOpensItsPage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opened := dir + "/opened"
	a := quietApp(dir)
	a.opts.WindowCommand = []string{"/bin/sh", "-c", `echo "$@" > ` + opened, "millrun", "desktop", "--data", dir}
	r := start(t, a)
	a.openAt("/runs/1")
	testkit.WaitUntil(t, "a window to be started", 10*time.Second, func() bool {
		b, _ := os.ReadFile(opened)
		return strings.TrimSpace(string(b)) == "desktop --data "+dir+" --open /runs/1"
	})
	cmds := attachWindow(t, r)
	a.openAt("/runs/2")
	if got := <-cmds; got != "open /runs/2" {
		t.Fatalf("the open window was told %q", got)
	}
}

// fakeIcon records what the engine shows in the status area and hands
// back the menu's actions.
type fakeIcon struct {
	actions statusicon.Actions
	states  chan statusicon.State
	closed  chan struct{}
}

func (f *fakeIcon) Update(s statusicon.State) {
	select {
	case f.states <- s:
	default:
	}
}
func (f *fakeIcon) Close() { close(f.closed) }

// The engine's status icon: its menu opens the window, pauses the
// schedules (the setting) and quits millrun, which removes the icon.
func TestStatusIconMenu(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	icon := &fakeIcon{states: make(chan statusicon.State, 64), closed: make(chan struct{})}
	a := quietApp(dir)
	a.opts.StatusIcon = func(act statusicon.Actions, _ *slog.Logger) statusicon.Icon { icon.actions = act; return icon }
	lock, err := instance.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	a.lock = lock
	served := make(chan error, 1)
	go func() { served <- a.serveLocked(context.Background()) }()
	var r *Remote
	testkit.WaitUntil(t, "the engine", 10*time.Second, func() bool {
		info, err := instance.Read(dir)
		if err == nil {
			r = dial(info)
		}
		return r != nil
	})
	if s := <-icon.states; s.Tunnel != "off" || s.Paused {
		t.Fatalf("first state: %+v", s)
	}
	cmds := attachWindow(t, r)
	icon.actions.Open("")
	if got := <-cmds; got != "show" {
		t.Fatalf("Open millrun told the window %q", got)
	}
	icon.actions.Pause(true)
	testkit.WaitUntil(t, "the icon to show the schedules paused", 10*time.Second, func() bool { return (<-icon.states).Paused })
	if !a.eng.Settings().SchedulesPaused {
		t.Fatal("Pause schedules did not change the setting")
	}
	icon.actions.Quit()
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Quit from the status icon did not stop millrun")
	}
	if got := <-cmds; got != "quit" {
		t.Fatalf("quitting told the window %q", got)
	}
	<-icon.closed
}

// windowDo sends a request as the window does (the instance secret).
func windowDo(t *testing.T, r *Remote, method, path, body string) string {
	t.Helper()
	req, _ := http.NewRequest(method, r.info.URL+path, strings.NewReader(body))
	req.Header.Set(secretHeader, r.info.Secret)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	return string(b)
}

type fakeNotes struct{ sent chan alerts.Notice }

func (f *fakeNotes) Send(n alerts.Notice) (bool, error) { f.sent <- n; return true, nil }
func (f *fakeNotes) Close()                             {}

// An engine killed while a run was under way: the next engine says, in
// the window's notice and in a notification, that millrun came back and
// what was running.
func TestRestartAfterACrashSaysWhatWasRunning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, r := launchEngine(t, dir)
	windowDo(t, r, "POST", "/api/w/local/scripts/create", `{"path":"u/me/slow","language":"bash","content":"sleep 60\n"}`)
	id := windowDo(t, r, "POST", "/api/w/local/jobs/run/p/u/me/slow", `{}`)
	testkit.WaitUntil(t, "the run to start", 10*time.Second, func() bool {
		return strings.Contains(windowDo(t, r, "GET", "/api/w/local/jobs/list?running=true", ""), id)
	})
	engine, _ := os.FindProcess(r.info.PID)
	engine.Kill()
	testkit.WaitUntil(t, "the killed engine to free the folder", 10*time.Second, func() bool {
		lock, err := instance.Acquire(dir)
		if err == nil {
			lock.Release() // a look, as a launch takes: the crash is kept
		}
		return err == nil
	})

	notes := &fakeNotes{sent: make(chan alerts.Notice, 4)}
	a := quietApp(dir)
	a.opts.Notifier = func(func(string)) Notifier { return notes }
	r2 := start(t, a)
	select {
	case n := <-notes.sent:
		if n.Title != "millrun restarted after it stopped unexpectedly" || !strings.Contains(n.Body, "u/me/slow") || n.Open != "/runs/"+id {
			t.Fatalf("notification: %+v", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification said millrun came back")
	}
	me := windowDo(t, r2, "GET", "/api/millrun/whoami", "")
	if !strings.Contains(me, "stopped unexpectedly") || !strings.Contains(me, "u/me/slow") {
		t.Fatalf("the window's notice: %s", me)
	}
}

// A `serve` holding the data folder (started at login by an entry it
// wrote) kept the app from opening with only "millrun could not start":
// the window names it and offers to stop it, then opens millrun.
func TestWindowOffersToStopAServeThatHoldsTheFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The holder: a process that holds the lock as serve does and ends on
	// SIGTERM.
	holder := exec.Command("python3", "-c", `
import fcntl, json, os, signal, sys
f = open(os.path.join(sys.argv[1], "millrun.lock"), "a")
fcntl.flock(f, fcntl.LOCK_EX)
json.dump({"pid": os.getpid(), "kind": "serve", "url": "http://127.0.0.1:8700", "program": "/usr/bin/millrun"}, open(os.path.join(sys.argv[1], "instance.json"), "w"))
print("held", flush=True)
signal.pause()`, dir)
	out, _ := holder.StdoutPipe()
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Process.Kill()
	bufio.NewReader(out).ReadString('\n')
	_, err := (&Launcher{DataDir: dir, Listen: "127.0.0.1:0", Engine: []string{"/nonexistent", "engine"}}).Connect()
	who := heldBy(err)
	if who == nil {
		t.Fatalf("Connect: %v", err)
	}
	opened := false
	page := heldPage(err, who, dir, func() error { opened = true; return nil })
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	body := rec.Body.String()
	for _, want := range []string{fmt.Sprintf("pid %d, /usr/bin/millrun", holder.Process.Pid), "Stop it and open millrun", stopHolderPath, "http://127.0.0.1:8700"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q:\n%s", want, body)
		}
	}
	rec = httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequest("POST", stopHolderPath, nil))
	if rec.Code != http.StatusSeeOther || !opened {
		t.Fatalf("stop: %d %s (opened %v)", rec.Code, rec.Body.String(), opened)
	}
	if err := holder.Wait(); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Fatalf("the holder ended with %v, want SIGTERM", err)
	}
}

// The window opens inside a 1366×768 screen (its title bar and menu were
// above it), and at its usual size where that fits.
func TestWindowFitsTheScreen(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ sw, sh, w, h int }{
		{1366, 768, 1280, 668},
		{1280, 900, 1280, 860},
		{1920, 1080, 1280, 860},
		{1024, 600, 984, 560},
	} {
		w, h, _ := fitWindow(c.sw, c.sh)
		if w != c.w || h != c.h {
			t.Errorf("on %d×%d: %d×%d, want %d×%d", c.sw, c.sh, w, h, c.w, c.h)
		}
	}
}
