//go:build desktop || dev

package app

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	goruntime "runtime"
	"sync"
	"syscall"
	"time"

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

// window is the Wails side: lifecycle, menu, close-to-background.
type window struct {
	app       *App
	ctx       context.Context
	mu        sync.Mutex
	quitting  bool
	signalled chan struct{} // closed on SIGINT/SIGTERM
}

// Run opens the window and blocks until the user quits.
func (a *App) Run() (err error) {
	if err := checkDisplay(goruntime.GOOS, os.Getenv); err != nil {
		return err
	}
	// GTK panics when it cannot reach the display $DISPLAY names.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("could not open the window (%v): check that DISPLAY or WAYLAND_DISPLAY names a running desktop, or run 'millrun serve' for the browser UI", p)
		}
	}()
	running, err := a.Claim()
	if err != nil {
		return err
	}
	if running {
		a.opts.Logger.Info("millrun is already running; showed its window")
		return nil
	}
	w := &window{app: a, signalled: make(chan struct{})}
	a.onShow = w.show
	a.onOpen = w.open
	// Wails answers SIGINT/SIGTERM (a logout, a `kill`) by asking to close
	// the window, the same request the close button makes. Knowing a signal
	// came lets beforeClose quit then instead of hiding.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		a.opts.Logger.Info("signal received, quitting")
		close(w.signalled)
	}()
	appMenu := menu.NewMenu()
	file := appMenu.AddSubmenu("millrun")
	file.AddText("Show window", keys.CmdOrCtrl("0"), func(*menu.CallbackData) { w.show() })
	file.AddSeparator()
	file.AddText("Quit", keys.CmdOrCtrl("q"), func(*menu.CallbackData) { w.quit() })
	// On macOS the web view gets Cmd+C/V/X/A/Z only through the standard
	// Edit menu. Elsewhere WebKit handles those keys itself, and menu items
	// bound to them would swallow the keys (Ctrl+C and Ctrl+V did nothing).
	if goruntime.GOOS == "darwin" {
		appMenu.Append(menu.EditMenu())
	}

	return wails.Run(&options.App{
		Title:            "millrun",
		Width:            1280,
		Height:           860,
		MinWidth:         1024,
		MinHeight:        700,
		Menu:             appMenu,
		AssetServer:      &assetserver.Options{Handler: a.Handler()},
		BackgroundColour: &options.RGBA{R: 247, G: 247, B: 245, A: 255},
		StartHidden:      a.opts.StartHidden,
		OnStartup: func(ctx context.Context) {
			w.mu.Lock()
			w.ctx = ctx
			w.mu.Unlock()
			a.Startup(ctx)
		},
		OnBeforeClose: w.beforeClose,
		OnShutdown:    a.Shutdown,
		// Single instance is Claim's data-directory lock, not Wails'
		// SingleInstanceLock: that one needs a D-Bus session on Linux and
		// runs OnStartup before it decides, so a second launch could open
		// the database while the first is using it.
		Linux: &linux.Options{ProgramName: "millrun", Icon: icon, WindowIsTranslucent: false},
	})
}

func (w *window) show() {
	w.mu.Lock()
	ctx := w.ctx
	w.mu.Unlock()
	if ctx == nil {
		return
	}
	runtime.WindowShow(ctx)
	runtime.WindowUnminimise(ctx)
}

// open shows the window at a UI path (a notification's run, the tunnel).
func (w *window) open(path string) {
	w.show()
	w.mu.Lock()
	ctx := w.ctx
	w.mu.Unlock()
	if ctx == nil {
		return
	}
	b, _ := json.Marshal("#" + path)
	runtime.WindowExecJS(ctx, "location.hash = "+string(b))
}

func (w *window) quit() {
	w.mu.Lock()
	w.quitting = true
	ctx := w.ctx
	w.mu.Unlock()
	runtime.Quit(ctx)
}

// beforeClose keeps millrun serving webhooks when the window is closed; the
// menu's Quit and signals really quit. The first close ever, it says so.
func (w *window) beforeClose(ctx context.Context) bool {
	w.mu.Lock()
	quitting := w.quitting
	w.mu.Unlock()
	if quitting {
		return false
	}
	// Wails' signal handler and ours run concurrently; give ours a moment.
	select {
	case <-w.signalled:
		return false
	case <-time.After(150 * time.Millisecond):
	}
	if w.app.firstClose() {
		_, _ = runtime.MessageDialog(ctx, runtime.MessageDialogOptions{
			Type:    runtime.InfoDialog,
			Title:   "millrun keeps running",
			Message: "Your webhooks keep working while the window is closed.\n\nLaunch millrun again to show it, or use millrun > Quit (Ctrl+Q) to stop it.",
		})
	}
	runtime.WindowHide(ctx)
	w.app.opts.Logger.Info("window hidden; millrun keeps serving webhooks")
	return true
}
