// Package app is millrun's desktop shell, in two processes: App hosts the
// engine in the background (`millrun engine`: its loopback listener and
// the desktop routes), and the Wails window (window.go) attaches to it
// through a Remote, found or started by the Launcher. It only wires; the
// engine does the work.
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
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/millrun/millrun/app/statusicon"
	"github.com/millrun/millrun/engine"
	"github.com/millrun/millrun/engine/alerts"
	"github.com/millrun/millrun/engine/connlimit"
	"github.com/millrun/millrun/engine/instance"
	"github.com/millrun/millrun/engine/store"
)

// Options configure the desktop app.
type Options struct {
	DataDir   string
	Listen    string // loopback address for webhooks while millrun runs
	Workspace string
	Version   string
	UI        http.Handler // the embedded frontend
	Logger    *slog.Logger
	// StartCommand is what the start_at_login setting writes into the
	// platform's autostart entry; StartService, what a systemd user
	// service runs instead where systemd runs the session.
	StartCommand, StartService []string
	// IncludeHeaders and NgrokAuthtoken come from the environment (main
	// reads it): see engine.Config.
	IncludeHeaders []string
	NgrokAuthtoken string
	// WindowCommand opens a window attached to this engine (the desktop
	// app with its --data flag), for a notification clicked while no
	// window is open. Empty: such a click only logs.
	WindowCommand []string
	// Notifier shows desktop notifications; nil is the platform's
	// (alerts.NewSender). Clicking one opens its page.
	Notifier func(open func(page string)) Notifier
	// Program is the engine's own executable: replaced (an upgrade), the
	// engine finishes its running jobs and Serve returns *Restart; removed,
	// it finishes them and stops. Empty: not watched.
	Program string
	// StatusIcon shows the engine in the desktop's status area
	// (statusicon.Start); nil shows none (tests, serve).
	StatusIcon func(statusicon.Actions, *slog.Logger) statusicon.Icon
}

// Notifier shows desktop notifications until closed.
type Notifier interface {
	alerts.Sender
	Close()
}

// The desktop routes live on the loopback listener, guarded by the
// instance secret that only the data directory's owner can read: a second
// launch asks to show the open window; the window attaches (one at a
// time) to receive show, open and quit; the window's Quit stops the
// engine. A request carrying the secret acts as the window, with full
// access and no token.
const (
	showPath   = "/api/millrun/desktop/show"
	attachPath = "/api/millrun/desktop/attach"
	quitPath   = "/api/millrun/desktop/quit"
)

const secretHeader = "X-Millrun-Instance"

// App holds the running engine and its loopback listener. Nothing starts
// before Serve or Startup.
type App struct {
	opts Options

	lock     *instance.Lock
	secret   string
	notes    Notifier
	icon     statusicon.Icon
	reaper   reaper
	quit     chan struct{} // closed when the window's Quit asks to stop
	quitOnce sync.Once
	stopping chan struct{} // closed when Shutdown begins: attached windows quit
	stopOnce sync.Once

	mu       sync.Mutex
	eng      *engine.Engine
	srv      *http.Server
	addr     string
	window   chan string // commands for the attached window; nil: none
	startErr error
	change   error // the program's change that stopped the engine
}

// New returns an app that starts the engine in Startup.
func New(opts Options) *App {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return &App{opts: opts, secret: instance.NewSecret(), quit: make(chan struct{}), stopping: make(chan struct{})}
}

// Serve runs the engine the desktop window attaches to until ctx ends or
// the window's Quit asks it to stop, then stops it gracefully.
func (a *App) Serve(ctx context.Context) error {
	lock, err := instance.Acquire(a.opts.DataDir)
	if err != nil {
		return err
	}
	a.lock = lock
	return a.serveLocked(ctx)
}

// serveLocked is Serve once the data directory is held.
func (a *App) serveLocked(ctx context.Context) error {
	a.Startup(ctx)
	if a.startErr != nil {
		return a.startErr
	}
	watch, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go a.watchProgram(watch)
	select {
	case <-ctx.Done():
	case <-a.quit:
	}
	a.mu.Lock()
	change := a.change
	a.mu.Unlock()
	if change != nil {
		a.opts.Logger.Info(change.Error())
	} else if ctx.Err() == nil {
		a.opts.Logger.Info("the window asked to quit")
	}
	a.Shutdown(context.Background())
	if errors.Is(change, errRemoved) {
		if err := a.dropStartAtLogin(); err != nil {
			a.opts.Logger.Warn("cannot remove the start-at-login entry of the removed program", "err", err)
		}
		return nil
	}
	return change
}

// Startup opens the engine and the loopback listener.
func (a *App) Startup(ctx context.Context) {
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
	newNotifier := a.opts.Notifier
	if newNotifier == nil {
		newNotifier = func(open func(string)) Notifier { return alerts.NewSender(open) }
	}
	notes := newNotifier(a.openAt)
	a.notes = notes
	// Read before the engine marks them failed: what a crash interrupted.
	var crashed *alerts.Notice
	if prev := a.lock.Previous(); prev != nil {
		crashed = crashNotice(prev, interruptedJobs(a.opts.DataDir, a.opts.Workspace, a.opts.Logger))
		notice = strings.TrimSpace(notice + " " + crashed.Body)
		a.opts.Logger.Warn(crashed.Title, "previous_pid", prev.PID)
	}
	e, err := engine.Open(engine.Config{DataDir: a.opts.DataDir, Workspace: a.opts.Workspace, BaseURL: base + "/api",
		UI: a.opts.UI, Logger: a.opts.Logger, Version: a.opts.Version, Lock: a.lock, Notice: notice, StartCommand: a.opts.StartCommand,
		StartService: a.opts.StartService, Notifier: notes, IncludeHeaders: a.opts.IncludeHeaders, NgrokAuthtoken: a.opts.NgrokAuthtoken, SettleMemory: debug.FreeOSMemory})
	if err != nil {
		ln.Close()
		a.startErr = err
		return
	}
	// The garbage of a flood of large requests would otherwise be
	// collected only once the heap doubled (GOMEMLIMIT, if set, wins).
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(e.MemoryLimit())
	}
	if err := e.Announce(instance.KindDesktop, base, a.secret); err != nil {
		a.opts.Logger.Warn("cannot write instance info; a second launch will not find this window", "err", err)
	}
	if crashed != nil && e.Settings().Notifications != alerts.Off {
		go notes.Send(*crashed)
	}
	if done, err := e.ClaimStartAtLogin(); err != nil {
		a.opts.Logger.Warn("the start-at-login entry is not this millrun's and could not be rewritten", "err", err)
	} else if done {
		a.opts.Logger.Info("start at login now starts this millrun (its entry ran another program)")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+showPath, a.withSecret(a.serveShow))
	mux.HandleFunc("GET "+attachPath, a.withSecret(a.serveAttach))
	mux.HandleFunc("POST "+quitPath, a.withSecret(a.serveQuit))
	window := e.DesktopHandler()
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(secretHeader) != "" {
			if !a.secretOK(r) {
				http.Error(w, "Not authorized", http.StatusUnauthorized)
				return
			}
			// Nothing downstream (the request inspector) keeps the secret.
			r.Header.Del(secretHeader)
			window.ServeHTTP(w, r)
			return
		}
		e.Handler().ServeHTTP(w, r)
	}))
	limited := connlimit.New(ln, connlimit.Local())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ConnState: limited.ConnState}
	go func() {
		if err := srv.Serve(limited); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.opts.Logger.Error("loopback listener stopped", "err", err)
		}
	}()
	a.mu.Lock()
	a.eng, a.srv = e, srv
	a.mu.Unlock()
	if a.opts.StatusIcon != nil {
		a.icon = a.opts.StatusIcon(statusicon.Actions{Open: a.openAt, Pause: a.pauseSchedules, Quit: a.requestQuit}, a.opts.Logger)
		go a.feedIcon(e, 2*time.Second)
	}
	a.opts.Logger.Info("millrun desktop started", "listen", base, "data", a.opts.DataDir)
}

// interruptedJobs lists the runs a previous engine left running (it
// crashed or was killed): the engine marks them failed as it opens.
func interruptedJobs(dataDir, workspace string, log *slog.Logger) []*store.Job {
	db, err := store.Open(filepath.Join(dataDir, "millrun.db"))
	if err != nil {
		log.Warn("cannot read what the last run of millrun left running", "err", err)
		return nil
	}
	defer db.Close()
	jobs, err := db.ListJobs(context.Background(), store.JobFilter{Workspace: workspace, Statuses: []string{store.StatusRunning}, Limit: 20})
	if err != nil {
		log.Warn("cannot read what the last run of millrun left running", "err", err)
	}
	return jobs
}

// crashNotice says that millrun came back after it stopped unexpectedly,
// and what it was running then: for the window's notice and a desktop
// notification.
func crashNotice(prev *instance.Info, running []*store.Job) *alerts.Notice {
	n := &alerts.Notice{Title: "millrun restarted after it stopped unexpectedly", Open: "/runs"}
	if len(running) == 0 {
		n.Body = fmt.Sprintf("millrun (pid %d) stopped unexpectedly (it crashed or was killed, or the computer went down) and was started again; no run was under way.", prev.PID)
		return n
	}
	var paths []string
	for _, j := range running {
		what := j.ScriptPath
		if j.Kind == "flow" {
			what = "flow " + what
		}
		if !slices.Contains(paths, what) {
			paths = append(paths, what)
		}
	}
	runs := "1 run was"
	if len(running) > 1 {
		runs = fmt.Sprintf("%d runs were", len(running))
	}
	n.Body = fmt.Sprintf("millrun (pid %d) stopped unexpectedly (it crashed or was killed, or the computer went down) and was started again. %s under way and marked failed: %s.", prev.PID, runs, strings.Join(paths, ", "))
	if len(running) == 1 {
		n.Open = "/runs/" + running[0].ID
	}
	return n
}

// iconState is what the status icon shows of the engine's status.
func iconState(st engine.Status) statusicon.State {
	s := statusicon.State{Running: st.Running, Queued: st.Queued, Tunnel: string(st.Tunnel.State), TunnelURL: st.Tunnel.URL, Paused: st.SchedulesPaused}
	if f := st.LastFailure; f != nil {
		s.LastFailure = f.Path + " at " + f.At.Format("15:04") + ": " + f.Reason
		s.LastFailurePage = "/runs/" + f.JobID
	}
	return s
}

// feedIcon keeps the status icon up to date until millrun stops. Reading
// the status every few seconds costs less than a line from every job.
func (a *App) feedIcon(e *engine.Engine, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		a.icon.Update(iconState(e.Status()))
		select {
		case <-a.stopping:
			return
		case <-t.C:
		}
	}
}

// pauseSchedules is the status icon's Pause schedules: a setting, so the
// Settings page shows it and a restart keeps it.
func (a *App) pauseSchedules(paused bool) {
	a.mu.Lock()
	e := a.eng
	a.mu.Unlock()
	if e == nil {
		return
	}
	s := e.Settings()
	s.SchedulesPaused = paused
	if err := e.UpdateSettings(context.Background(), s); err != nil {
		a.opts.Logger.Warn("cannot pause the schedules", "err", err)
		return
	}
	a.opts.Logger.Info("schedules paused from the status icon", "paused", paused)
	a.icon.Update(iconState(e.Status()))
}

// requestQuit stops millrun as the window's Quit does.
func (a *App) requestQuit() { a.quitOnce.Do(func() { close(a.quit) }) }

func (a *App) secretOK(r *http.Request) bool {
	return subtle.ConstantTimeCompare([]byte(r.Header.Get(secretHeader)), []byte(a.secret)) == 1
}

func (a *App) withSecret(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.secretOK(r) {
			http.Error(w, "Not authorized", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

// tell hands a command to the attached window; false when none is.
func (a *App) tell(cmd string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.window == nil {
		return false
	}
	select {
	case a.window <- cmd:
	default: // a window that stopped reading gets no pile of commands
	}
	return true
}

// serveShow shows the open window; 409 tells the launch asking that no
// window is open, so it opens one itself.
func (a *App) serveShow(w http.ResponseWriter, r *http.Request) {
	a.opts.Logger.Info("another launch asked to show the window")
	cmd := "show"
	if page := r.URL.Query().Get("page"); page != "" {
		if strings.ContainsFunc(page, unicode.IsControl) { // one command a line
			http.Error(w, "the page has control characters", http.StatusBadRequest)
			return
		}
		cmd = "open " + page
	}
	if !a.tell(cmd) {
		http.Error(w, "no window is open", http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// openAt shows the window at a UI path (a clicked notification's run;
// "" where it was), opening one when none is.
func (a *App) openAt(path string) {
	cmd := "show"
	if path != "" {
		cmd = "open " + path
	}
	if a.tell(cmd) {
		return
	}
	if len(a.opts.WindowCommand) == 0 {
		a.opts.Logger.Info("a notification was clicked; launch millrun to see it", "page", path)
		return
	}
	args := append([]string{}, a.opts.WindowCommand...)
	if path != "" {
		args = append(args, "--open", path)
	}
	window := exec.Command(args[0], args[1:]...)
	a.reaper.prepare(window)
	if err := window.Start(); err != nil {
		a.opts.Logger.Warn("cannot open a window", "err", err)
		return
	}
	a.reaper.started(window.Process.Pid)
	go func() {
		_ = window.Wait()
		a.reaper.exited(window.Process.Pid)
	}()
}

// serveAttach streams commands to the window, one line each, while it is
// open; the window closing ends the request.
func (a *App) serveAttach(w http.ResponseWriter, r *http.Request) {
	cmds := make(chan string, 8)
	a.mu.Lock()
	if a.window != nil {
		a.mu.Unlock()
		http.Error(w, "a window is already open", http.StatusConflict)
		return
	}
	a.window = cmds
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.window = nil
		a.mu.Unlock()
	}()
	a.opts.Logger.Info("window attached")
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	for {
		select {
		case c := <-cmds:
			fmt.Fprintln(w, c)
			_ = rc.Flush()
		case <-a.stopping:
			a.mu.Lock()
			_, restart := a.change.(*Restart)
			a.mu.Unlock()
			if restart {
				fmt.Fprintln(w, "restart") // the window waits for the new engine
			} else {
				fmt.Fprintln(w, "quit")
			}
			_ = rc.Flush()
			return
		case <-r.Context().Done():
			a.opts.Logger.Info("window closed; millrun keeps serving webhooks")
			return
		}
	}
}

func (a *App) serveQuit(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusNoContent)
	a.requestQuit()
}

// Shutdown stops the listener and closes the engine gracefully.
func (a *App) Shutdown(ctx context.Context) {
	a.stopOnce.Do(func() { close(a.stopping) })
	if a.icon != nil {
		a.icon.Close()
	}
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

const startFailedPage = `<!doctype html><meta charset="utf-8"><title>millrun could not start</title>
<body style="font:15px system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222">
<h1 style="font-size:1.3em">millrun could not start</h1>
<p style="background:#fdecea;border:1px solid #f5c2c0;padding:.8em;border-radius:6px">%s</p>
<p>Data directory: <code>%s</code></p>
<p>Fix the problem above and launch millrun again (millrun &gt; Quit closes this window).</p>`

// failedPage is what a window shows when the engine could not start.
func failedPage(err error, dataDir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, startFailedPage, html.EscapeString(err.Error()), html.EscapeString(dataDir))
	})
}

// stopHolderPath is where the page of a launch refused by a `serve`
// posts to stop it.
const stopHolderPath = "/millrun-desktop/stop-holder"

const heldPageText = `<!doctype html><meta charset="utf-8"><title>millrun is already running headless</title>
<body style="font:15px system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222">
<h1 style="font-size:1.3em">Another millrun holds your data folder</h1>
<p style="background:#fff4e5;border:1px solid #f5d7a8;padding:.8em;border-radius:6px">%s</p>
<p>It serves the same scripts and webhooks without a window (<code>millrun serve</code>, perhaps started at login).
One millrun at a time can use a data folder. Stop it to open millrun here; its running jobs get their grace period,
and start at login will start this app instead.</p>
<form method="post" action="` + stopHolderPath + `"><button style="font:inherit;padding:.5em 1.2em;background:#2f6f4f;color:#fff;border:0;border-radius:6px;cursor:pointer">Stop it and open millrun</button></form>
<p>Or keep it running and open <a href="%s">%s</a> in a browser.</p>
<p style="color:#666">Data directory: <code>%s</code></p>`

// heldBy is the headless millrun that refused a launch the data folder,
// when there is one the user may stop from the window.
func heldBy(err error) *instance.Info {
	var inUse *instance.InUseError
	if errors.As(err, &inUse) && inUse.Info != nil && inUse.Info.Kind == instance.KindServe {
		return inUse.Info
	}
	return nil
}

// heldPage is what a window shows when a `serve` holds the data folder:
// which process it is, and a button that stops it, then calls opened
// (which starts the engine and attaches the window) and reloads the UI.
func heldPage(err error, who *instance.Info, dataDir string, opened func() error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == stopHolderPath && r.Method == http.MethodPost {
			if err := instance.StopHolder(dataDir, who, 30*time.Second); err != nil {
				failedPage(err, dataDir).ServeHTTP(w, r)
				return
			}
			if err := opened(); err != nil {
				failedPage(err, dataDir).ServeHTTP(w, r)
				return
			}
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		u := html.EscapeString(who.URL)
		fmt.Fprintf(w, heldPageText, html.EscapeString(err.Error()), u, u, html.EscapeString(dataDir))
	})
}

// firstClose reports whether the window is being closed for the first time
// ever with this data directory, and remembers that it was.
func firstClose(dataDir string, log *slog.Logger) bool {
	marker := filepath.Join(dataDir, "told-window-close")
	if _, err := os.Stat(marker); err == nil {
		return false
	}
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		log.Warn("cannot remember the close notice", "err", err)
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

// The window's size where it fits, and the least it may be.
const (
	windowWidth, windowHeight = 1280, 860
	minWidth, minHeight       = 900, 560
)

// fitWindow is the window's size on a screen of sw×sh logical pixels: the
// default where it fits with its title bar, else what leaves room for the
// title bar and the desktop's panels, so that neither opens above the
// screen (1366×768, a common laptop screen, was one). ok is false when
// the default fits.
func fitWindow(sw, sh int) (w, h int, ok bool) {
	w, h = windowWidth, windowHeight
	if sh > 0 && h+40 > sh {
		h = max(minHeight, sh-100)
	}
	if sw > 0 && w > sw {
		w = max(minWidth, sw-40)
	}
	return w, h, w != windowWidth || h != windowHeight
}

// openFile opens path with the desktop's program for it (the engine's
// log in a text editor).
func openFile(path string) error {
	name, args := "xdg-open", []string{path}
	switch goruntime.GOOS {
	case "darwin":
		name = "open"
	case "windows":
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler", path}
	}
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}

// Addr is the loopback address webhooks reach (after Startup).
func (a *App) Addr() string { return a.addr }
