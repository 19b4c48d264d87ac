// Package app is millrun's desktop shell: the Wails window around the
// engine. It only wires; the engine does the work.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/millrun/millrun/engine"
)

// Options configure the desktop app.
type Options struct {
	DataDir   string
	Listen    string // loopback address for webhooks while the window is open
	Workspace string
	Version   string
	UI        http.Handler // the embedded frontend
	Logger    *slog.Logger
}

// App holds the running engine and its loopback listener. Nothing starts
// before Startup: `wails build` runs main to generate bindings.
type App struct {
	opts Options

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
	return &App{opts: opts, ready: make(chan struct{})}
}

// Startup opens the engine and the loopback listener.
func (a *App) Startup(ctx context.Context) {
	defer close(a.ready)
	ln, err := net.Listen("tcp", a.opts.Listen)
	if err != nil {
		// Another program (or a headless millrun) holds the port: take any
		// free one rather than fail, and show it in the UI.
		a.opts.Logger.Warn("listen address taken, using a free port", "address", a.opts.Listen, "err", err)
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			a.startErr = fmt.Errorf("listen: %w", err)
			return
		}
	}
	a.addr = ln.Addr().String()
	e, err := engine.Open(engine.Config{DataDir: a.opts.DataDir, Workspace: a.opts.Workspace, BaseURL: "http://" + a.addr + "/api",
		UI: a.opts.UI, Logger: a.opts.Logger, Version: a.opts.Version})
	if err != nil {
		ln.Close()
		a.startErr = err
		return
	}
	srv := &http.Server{Handler: e.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.opts.Logger.Error("loopback listener stopped", "err", err)
		}
	}()
	a.mu.Lock()
	a.eng, a.srv = e, srv
	a.mu.Unlock()
	a.opts.Logger.Info("millrun desktop started", "listen", "http://"+a.addr, "data", a.opts.DataDir)
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
}

// Handler is what the window loads: the engine's trusted in-process
// handler once it is up, a plain message if it failed to start.
func (a *App) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-a.ready
		a.mu.Lock()
		e := a.eng
		a.mu.Unlock()
		if e == nil {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "millrun could not start: %v\n", a.startErr)
			return
		}
		if r.URL.Path == "/api/millrun/whoami" {
			a.opts.Logger.Info("window loaded the UI")
		}
		e.DesktopHandler().ServeHTTP(w, r)
	})
}

// Addr is the loopback address webhooks reach (after Startup).
func (a *App) Addr() string { return a.addr }
