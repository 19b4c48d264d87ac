package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/millrun/millrun/engine/instance"
)

func quietApp(dir string) *App {
	return New(Options{DataDir: dir, Listen: "127.0.0.1:0", Workspace: "local", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func start(t *testing.T, a *App) {
	t.Helper()
	if running, err := a.Claim(); err != nil || running {
		t.Fatalf("Claim: running=%v err=%v", running, err)
	}
	a.Startup(context.Background())
	if a.startErr != nil {
		t.Fatalf("Startup: %v", a.startErr)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) })
}

// Launching millrun again shows the running window instead of starting a
// second engine on the same database.
func TestSecondLaunchShowsTheFirstWindow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := quietApp(dir)
	var shown atomic.Int32
	first.onShow = func() { shown.Add(1) }
	start(t, first)

	second := quietApp(dir)
	running, err := second.Claim()
	if err != nil || !running {
		t.Fatalf("second Claim: running=%v err=%v", running, err)
	}
	if shown.Load() != 1 {
		t.Fatalf("first window shown %d times, want 1", shown.Load())
	}

	// The first keeps serving webhooks on its loopback listener.
	res, err := http.Get("http://" + first.Addr() + "/api/version")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("first app after second launch: %v %v", res, err)
	}
	res.Body.Close()
}

// Only someone who can read the data directory may raise the window.
func TestShowNeedsTheInstanceSecret(t *testing.T) {
	t.Parallel()
	a := quietApp(t.TempDir())
	var shown atomic.Int32
	a.onShow = func() { shown.Add(1) }
	start(t, a)
	for _, secret := range []string{"", "wrong"} {
		err := askToShow(&instance.Info{URL: "http://" + a.Addr(), Secret: secret})
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("show with secret %q: %v", secret, err)
		}
	}
	if shown.Load() != 0 {
		t.Fatal("window shown without the secret")
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
	_, err = quietApp(dir).Claim()
	if err == nil || !strings.Contains(err.Error(), "millrun serve at http://127.0.0.1:8700 (pid 4242)") {
		t.Fatalf("Claim against serve: %v", err)
	}
}

// When the engine cannot start, the window says why instead of going blank.
func TestWindowExplainsAFailedStart(t *testing.T) {
	t.Parallel()
	a := quietApp(t.TempDir())
	a.Startup(context.Background()) // without Claim: refused
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "millrun could not start") {
		t.Fatalf("failed start page: %d %s", rec.Code, rec.Body.String())
	}
}

// The close notice is said once per data directory, across launches.
func TestCloseNoticeOnlyOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if !quietApp(dir).firstClose() {
		t.Fatal("first close not noticed")
	}
	if quietApp(dir).firstClose() {
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

// When the usual port is taken the window still starts, on another port,
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
	start(t, a)
	if a.Addr() == busy.Addr().String() {
		t.Fatal("listening on a taken port")
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/millrun/whoami", nil))
	if !strings.Contains(rec.Body.String(), "Another program is using "+busy.Addr().String()+", so this time webhooks are on "+a.Addr()) {
		t.Fatalf("whoami: %s", rec.Body.String())
	}
}
