// Package app is millrun's desktop shell: the Wails window around the
// engine. It only wires; the engine does the work.
package app

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/millrun/millrun/engine"
	"github.com/millrun/millrun/engine/alerts"
	"github.com/millrun/millrun/engine/instance"
)

// Options configure the desktop app.
type Options struct {
	DataDir   string
	Listen    string // loopback address for webhooks while millrun runs
	Workspace string
	Version   string
	UI        http.Handler // the embedded frontend
	Logger    *slog.Logger
	// StartHidden opens no window until a second launch asks for one
	// (how start at login starts millrun).
	StartHidden bool
	// StartCommand is what the start_at_login setting writes into the
	// platform's autostart entry.
	StartCommand []string
}

// showPath is where a second launch asks the running app to show its
// window. It lives on the loopback listener, guarded by the secret that
// only the data directory's owner can read.
const showPath = "/api/millrun/desktop/show"

const showSecretHeader = "X-Millrun-Instance"

// App holds the running engine and its loopback listener. Nothing starts
// before Startup: `wails build` runs main to generate bindings.
type App struct {
	opts Options

	lock   *instance.Lock
	secret string
	onShow func()            // set by the window
	onOpen func(path string) // set by the window: show it at a UI path
	notes  interface{ Close() }

	mu       sync.Mutex
	eng      *engine.Engine
	srv      *http.Server
	addr     string
	startErr error
	ready    chan struct{}
}

// New returns an app that starts the engine in Startup.
func New(opts Options) *App {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return &App{opts: opts, ready: make(chan struct{}), secret: instance.NewSecret()}
}

// Claim takes the data directory before any window opens. When a millrun
// desktop already holds it, Claim asks that one to show its window and
// returns running=true: the caller should just exit. A headless millrun
// holding it is an error that names it.
func (a *App) Claim() (running bool, err error) {
	lock, err := instance.Acquire(a.opts.DataDir)
	var inUse *instance.InUseError
	if errors.As(err, &inUse) {
		info := inUse.Info
		if info != nil && info.Kind == instance.KindDesktop && info.URL != "" {
			if err := askToShow(info); err != nil {
				return false, fmt.Errorf("millrun is already running (pid %d) but did not answer: %w", info.PID, err)
			}
			return true, nil
		}
		return false, err
	}
	if err != nil {
		return false, err
	}
	a.lock = lock
	return false, nil
}

func askToShow(info *instance.Info) error {
	req, err := http.NewRequest(http.MethodPost, info.URL+showPath, nil)
	if err != nil {
		return err
	}
	req.Header.Set(showSecretHeader, info.Secret)
	client := &http.Client{Timeout: 5 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		return fmt.Errorf("it answered %s", res.Status)
	}
	return nil
}

// Startup opens the engine and the loopback listener.
func (a *App) Startup(ctx context.Context) {
	defer close(a.ready)
	if a.lock == nil {
		a.startErr = errors.New("the data directory was not claimed (call Claim before Startup)")
		return
	}
	notice := ""
	ln, err := net.Listen("tcp", a.opts.Listen)
	if err != nil {
		// Another program holds the port: take any free one rather than
		// fail, and say so, since callers set up with the usual port will
		// not reach this one.
		a.opts.Logger.Warn("listen address taken, using a free port", "address", a.opts.Listen, "err", err)
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			a.startErr = fmt.Errorf("listen: %w", err)
			a.lock.Release()
			return
		}
		notice = fmt.Sprintf("Another program is using %s, so this time webhooks are on %s. URLs you gave out with the usual port will not reach millrun until that program stops and millrun restarts.",
			a.opts.Listen, ln.Addr().String())
	}
	a.addr = ln.Addr().String()
	base := "http://" + a.addr
	// Clicking a notification shows the window at the run or page it names.
	notes := alerts.NewSender(func(path string) {
		if a.onOpen != nil {
			a.onOpen(path)
		}
	})
	a.notes = notes
	e, err := engine.Open(engine.Config{DataDir: a.opts.DataDir, Workspace: a.opts.Workspace, BaseURL: base + "/api",
		UI: a.opts.UI, Logger: a.opts.Logger, Version: a.opts.Version, Lock: a.lock, Notice: notice, StartCommand: a.opts.StartCommand,
		Notifier: notes})
	if err != nil {
		ln.Close()
		a.startErr = err
		return
	}
	if err := e.Announce(instance.KindDesktop, base, a.secret); err != nil {
		a.opts.Logger.Warn("cannot write instance info; a second launch will not find this window", "err", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+showPath, a.serveShow)
	mux.Handle("/", e.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.opts.Logger.Error("loopback listener stopped", "err", err)
		}
	}()
	a.mu.Lock()
	a.eng, a.srv = e, srv
	a.mu.Unlock()
	a.opts.Logger.Info("millrun desktop started", "listen", base, "data", a.opts.DataDir)
}

func (a *App) serveShow(w http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get(showSecretHeader)), []byte(a.secret)) != 1 {
		http.Error(w, "Not authorized", http.StatusUnauthorized)
		return
	}
	a.opts.Logger.Info("another launch asked to show the window")
	if a.onShow != nil {
		a.onShow()
	}
	w.WriteHeader(http.StatusNoContent)
}

// Shutdown stops the listener and closes the engine gracefully.
func (a *App) Shutdown(ctx context.Context) {
	a.mu.Lock()
	e, srv := a.eng, a.srv
	a.mu.Unlock()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		go srv.Shutdown(sctx)
	}
	if e != nil {
		if err := e.Close(context.Background()); err != nil {
			a.opts.Logger.Error("close engine", "err", err)
		}
	}
	if a.notes != nil {
		a.notes.Close()
	}
	a.opts.Logger.Info("millrun desktop stopped")
}

// Handler is what the window loads: the engine's trusted in-process
// handler once it is up, a page that says what went wrong if it is not.
func (a *App) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-a.ready
		a.mu.Lock()
		e := a.eng
		a.mu.Unlock()
		if e == nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, startFailedPage, html.EscapeString(a.startErr.Error()), html.EscapeString(a.opts.DataDir))
			return
		}
		if r.URL.Path == "/api/millrun/whoami" {
			a.opts.Logger.Info("window loaded the UI")
		}
		e.DesktopHandler().ServeHTTP(w, r)
	})
}

const startFailedPage = `<!doctype html><meta charset="utf-8"><title>millrun could not start</title>
<body style="font:15px system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222">
<h1 style="font-size:1.3em">millrun could not start</h1>
<p style="background:#fdecea;border:1px solid #f5c2c0;padding:.8em;border-radius:6px">%s</p>
<p>Data directory: <code>%s</code></p>
<p>Fix the problem above and launch millrun again (millrun &gt; Quit closes this window).</p>`

// firstClose reports whether the window is being closed for the first time
// ever with this data directory, and remembers that it was.
func (a *App) firstClose() bool {
	marker := filepath.Join(a.opts.DataDir, "told-window-close")
	if _, err := os.Stat(marker); err == nil {
		return false
	}
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		a.opts.Logger.Warn("cannot remember the close notice", "err", err)
	}
	return true
}

// ErrNoDisplay says there is no screen to open the window on.
var ErrNoDisplay = errors.New("there is no display to open the millrun window on (neither DISPLAY nor WAYLAND_DISPLAY is set); run 'millrun serve' instead: it serves the same UI to a browser")

// checkDisplay finds out, before GTK does (GTK panics), whether a window
// can open: X11 and Wayland desktops say where they are in the
// environment. Windows and macOS always have their display.
func checkDisplay(goos string, getenv func(string) string) error {
	switch goos {
	case "windows", "darwin":
		return nil
	}
	if getenv("DISPLAY") == "" && getenv("WAYLAND_DISPLAY") == "" {
		return ErrNoDisplay
	}
	return nil
}

// Addr is the loopback address webhooks reach (after Startup).
func (a *App) Addr() string { return a.addr }
