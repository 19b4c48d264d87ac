//go:build desktop || dev

package app

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/millrun/millrun/engine/instance"
	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/menu"
	"github.com/wailsapp/wails/v2/pkg/menu/keys"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/options/linux"
	"github.com/wailsapp/wails/v2/pkg/runtime"
)

//go:embed icon.png
var icon []byte

// LaunchOptions say what a launch of the desktop app does.
type LaunchOptions struct {
	DataDir string
	Listen  string // loopback address, when this launch starts the engine
	Logger  *slog.Logger
	// Hidden starts the engine and opens no window (start at login).
	Hidden bool
	// OpenPath is a UI page to open the window at (a notification's run).
	OpenPath string
	// Version is millrun's, for About.
	Version string
}

// window is the Wails side: lifecycle, menu, the line to the engine.
type window struct {
	opts      LaunchOptions
	launcher  *Launcher
	remote    *Remote
	ctx       context.Context
	mu        sync.Mutex
	quitting  bool
	signalled chan struct{} // closed on SIGINT/SIGTERM
	// page is what the window serves: the engine's UI, or why there is
	// none. It changes when the engine is replaced under the window (an
	// upgrade, a restart after a crash) or the user stops a `serve`.
	page atomic.Pointer[http.Handler]
}

func (w *window) use(h http.Handler) { w.page.Store(&h) }

// Launch is what starting the desktop app does: find the engine of the
// data directory or start it in the background, then, unless Hidden, open
// a window attached to it, or show the one already open. The window's
// process ends when it closes; the engine goes on serving webhooks.
func Launch(opts LaunchOptions) (err error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if !opts.Hidden {
		if err := checkDisplay(goruntime.GOOS, os.Getenv); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	engineCmd, err := EngineCommand()
	if err != nil {
		return err
	}
	l := &Launcher{DataDir: opts.DataDir, Listen: opts.Listen, Engine: engineCmd, WindowApp: self}
	remote, connectErr := l.Connect()
	if connectErr != nil && opts.Hidden {
		return connectErr
	}
	if opts.Hidden {
		opts.Logger.Info("millrun is running in the background; launch millrun to open its window", "listen", remote.URL())
		return nil
	}
	if connectErr == nil {
		shown, err := remote.Show(opts.OpenPath)
		if err != nil {
			return fmt.Errorf("millrun is already running but did not answer: %w", err)
		}
		if shown {
			opts.Logger.Info("millrun is already running; showed its window")
			return nil
		}
	}
	// GTK panics when it cannot reach the display $DISPLAY names.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("could not open the window (%v): check that DISPLAY or WAYLAND_DISPLAY names a running desktop, or run 'millrun serve' for the browser UI", p)
		}
	}()
	w := &window{opts: opts, launcher: l, remote: remote, signalled: make(chan struct{})}
	return w.run(connectErr)
}

// run opens the window: the engine's UI, or why it could not start.
func (w *window) run(connectErr error) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		w.opts.Logger.Info("signal received, closing the window")
		close(w.signalled)
	}()
	appMenu := menu.NewMenu()
	file := appMenu.AddSubmenu("millrun")
	file.AddText("Show window", keys.CmdOrCtrl("0"), func(*menu.CallbackData) { w.show() })
	file.AddText("Engine log", nil, func(*menu.CallbackData) { w.openLog() })
	file.AddText("About millrun", nil, func(*menu.CallbackData) { w.about() })
	file.AddSeparator()
	file.AddText("Quit", keys.CmdOrCtrl("q"), func(*menu.CallbackData) { w.quit(true) })
	// On macOS the web view gets Cmd+C/V/X/A/Z only through the standard
	// Edit menu. Elsewhere WebKit handles those keys itself, and menu items
	// bound to them would swallow the keys (Ctrl+C and Ctrl+V did nothing).
	if goruntime.GOOS == "darwin" {
		appMenu.Append(menu.EditMenu())
	}
	// The page served can change once: from a `serve`'s hold on the data
	// folder to millrun's UI, when the user stops it from the window.
	use := w.use
	switch who := heldBy(connectErr); {
	case connectErr == nil:
		use(w.ui())
	case who != nil:
		use(heldPage(connectErr, who, w.opts.DataDir, func() error {
			remote, err := w.launcher.Connect()
			if err != nil {
				return err
			}
			w.mu.Lock()
			w.remote = remote
			ctx := w.ctx
			w.mu.Unlock()
			use(w.ui())
			w.opts.Logger.Info("stopped the headless millrun that held the data folder", "pid", who.PID)
			go w.attach(ctx)
			return nil
		}))
	default:
		use(failedPage(connectErr, w.opts.DataDir))
	}
	handler := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { (*w.page.Load()).ServeHTTP(rw, r) })
	return wails.Run(&options.App{
		Title:            "millrun",
		Width:            windowWidth,
		Height:           windowHeight,
		MinWidth:         minWidth,
		MinHeight:        minHeight,
		Menu:             appMenu,
		AssetServer:      &assetserver.Options{Handler: handler},
		BackgroundColour: &options.RGBA{R: 247, G: 247, B: 245, A: 255},
		OnStartup: func(ctx context.Context) {
			w.mu.Lock()
			w.ctx = ctx
			w.mu.Unlock()
			w.fit(ctx)
			if connectErr == nil {
				go w.attach(ctx)
			}
		},
		OnDomReady: func(ctx context.Context) {
			if w.opts.OpenPath != "" {
				w.navigate(w.opts.OpenPath)
				w.opts.OpenPath = ""
			}
		},
		OnBeforeClose: w.beforeClose,
		// Single instance is the engine's data-directory lock, not Wails'
		// SingleInstanceLock (that one needs a D-Bus session on Linux).
		Linux: &linux.Options{ProgramName: "millrun", Icon: icon, WindowIsTranslucent: false},
	})
}

// fit makes the window smaller where the screen is (a 1366×768 laptop).
func (w *window) fit(ctx context.Context) {
	screens, err := runtime.ScreenGetAll(ctx)
	if err != nil || len(screens) == 0 {
		return
	}
	screen := screens[0]
	for _, s := range screens {
		if s.IsCurrent || (s.IsPrimary && !screen.IsCurrent) {
			screen = s
		}
	}
	if width, height, ok := fitWindow(screen.Size.Width, screen.Size.Height); ok {
		runtime.WindowSetSize(ctx, width, height)
		// Centred by hand: WindowCenter, asked now, centres the size
		// before this one (the window went 46 pixels above the screen).
		runtime.WindowSetPosition(ctx, max(0, (screen.Size.Width-width)/2), max(0, (screen.Size.Height-height)/2))
	}
}

// openLog opens the engine's log, where a person looks first when
// something went wrong.
func (w *window) openLog() {
	if err := openFile(EngineLog(w.opts.DataDir)); err != nil {
		w.opts.Logger.Warn("cannot open the engine's log", "err", err)
		if ctx := w.context(); ctx != nil {
			_, _ = runtime.MessageDialog(ctx, runtime.MessageDialogOptions{Type: runtime.InfoDialog, Title: "millrun's log",
				Message: "The engine's log is " + EngineLog(w.opts.DataDir)})
		}
	}
}

// about says which millrun this is and where its files are.
func (w *window) about() {
	ctx := w.context()
	if ctx == nil {
		return
	}
	_, _ = runtime.MessageDialog(ctx, runtime.MessageDialogOptions{Type: runtime.InfoDialog, Title: "About millrun",
		Message: "millrun " + w.opts.Version + "\n\nScripts on this computer as Windmill-compatible webhooks.\n\nData: " + w.opts.DataDir + "\nEngine log: " + EngineLog(w.opts.DataDir)})
}

// ui is the engine's UI, reached through its loopback listener.
func (w *window) ui() http.Handler {
	proxy := w.engine().Handler(func(err error) http.Handler { return failedPage(err, w.opts.DataDir) })
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/millrun/whoami" {
			w.opts.Logger.Info("window loaded the UI")
		}
		proxy.ServeHTTP(rw, r)
	})
}

// attach keeps the window's line to the engine: the engine shows it,
// moves it to a page, or closes it when millrun quits. A line that breaks
// otherwise means the engine stopped unasked.
func (w *window) attach(ctx context.Context) {
	quitSent, restartSent := false, false
	was := w.engine()
	err := was.Attach(ctx, func(cmd string) {
		switch {
		case cmd == "show":
			w.show()
		case strings.HasPrefix(cmd, "open "):
			w.navigate(strings.TrimPrefix(cmd, "open "))
		case cmd == "quit":
			quitSent = true
		case cmd == "restart":
			restartSent = true
		}
	})
	if errors.Is(err, errWindowOpen) {
		_, _ = w.engine().Show(w.opts.OpenPath)
		w.quit(false)
		return
	}
	w.mu.Lock()
	quitting := w.quitting
	w.mu.Unlock()
	if ctx.Err() != nil || quitting {
		return
	}
	// The engine restarting into a new program (an upgrade), or started
	// again by its supervisor after a crash: the window stays, attaches to
	// the new one and reloads (the new UI; the notice of a crash).
	if !quitSent {
		wait := 10 * time.Second
		if restartSent {
			wait = 2 * time.Minute
		}
		if next := w.nextEngine(was, wait); next != nil {
			w.mu.Lock()
			w.remote = next
			w.mu.Unlock()
			w.use(w.ui())
			w.opts.Logger.Info("attached to millrun's new engine", "pid", next.info.PID)
			runtime.WindowReloadApp(ctx)
			go w.attach(ctx)
			return
		}
	}
	if !quitSent {
		w.opts.Logger.Warn("millrun's engine stopped", "err", err)
		_, _ = runtime.MessageDialog(ctx, runtime.MessageDialogOptions{
			Type:    runtime.ErrorDialog,
			Title:   "millrun stopped",
			Message: "millrun's engine stopped, so webhooks are not answered.\n\nLaunch millrun again to start it. Its log: " + EngineLog(w.opts.DataDir),
		})
	}
	w.quit(false)
}

// nextEngine waits for an engine of the data directory other than was.
func (w *window) nextEngine(was *Remote, wait time.Duration) *Remote {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		info, _ := instance.Read(w.opts.DataDir)
		if info != nil && info.Secret != was.info.Secret {
			if r := dial(info); r != nil {
				return r
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// engine is the engine the window is attached to; nil while none is.
func (w *window) engine() *Remote {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.remote
}

func (w *window) context() context.Context {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ctx
}

func (w *window) show() {
	ctx := w.context()
	if ctx == nil {
		return
	}
	runtime.WindowShow(ctx)
	runtime.WindowUnminimise(ctx)
}

// navigate shows the window at a UI path (a notification's run).
func (w *window) navigate(path string) {
	w.show()
	ctx := w.context()
	if ctx == nil {
		return
	}
	b, _ := json.Marshal("#" + path)
	runtime.WindowExecJS(ctx, "location.hash = "+string(b))
}

// quit closes the window; stopEngine also stops millrun (the menu's Quit).
func (w *window) quit(stopEngine bool) {
	w.mu.Lock()
	w.quitting = true
	ctx := w.ctx
	w.mu.Unlock()
	if r := w.engine(); stopEngine && r != nil {
		if err := r.Quit(); err != nil {
			w.opts.Logger.Warn("cannot stop millrun's engine", "err", err)
		} else {
			w.opts.Logger.Info("asked millrun to quit")
		}
	}
	runtime.Quit(ctx)
}

// beforeClose lets the window close, ending this process; millrun goes on
// serving webhooks in the engine. The first close ever, it says so.
func (w *window) beforeClose(ctx context.Context) bool {
	w.mu.Lock()
	quitting := w.quitting
	w.mu.Unlock()
	if quitting || w.engine() == nil {
		return false
	}
	// Wails' signal handler and ours run concurrently; give ours a moment.
	select {
	case <-w.signalled:
		return false
	case <-time.After(150 * time.Millisecond):
	}
	if firstClose(w.opts.DataDir, w.opts.Logger) {
		_, _ = runtime.MessageDialog(ctx, runtime.MessageDialogOptions{
			Type:    runtime.InfoDialog,
			Title:   "millrun keeps running",
			Message: "Your webhooks keep working while the window is closed.\n\nLaunch millrun again to open it, or use millrun > Quit (Ctrl+Q) to stop it.",
		})
	}
	w.opts.Logger.Info("window closed; millrun keeps serving webhooks in the background")
	return false
}
