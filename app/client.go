package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/autostart"
	"github.com/millrun/millrun/engine/instance"
)

// The window and the engine are two processes: the engine (webhooks, jobs,
// schedules, the tunnel, notifications) runs in the background and the
// window attaches to it over the loopback listener, so closing the window
// ends its process and frees WebKit while webhooks go on.

// Remote is a running engine a window attaches to.
type Remote struct {
	info   instance.Info
	client *http.Client
}

func newRemote(info instance.Info) *Remote {
	return &Remote{info: info, client: &http.Client{Timeout: 5 * time.Second}}
}

// URL is the engine's loopback address.
func (r *Remote) URL() string { return r.info.URL }

func (r *Remote) post(path string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, r.info.URL+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set(secretHeader, r.info.Secret)
	res, err := r.client.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// Show asks the engine to show its open window, at a UI page unless page
// is empty; false when no window is open.
func (r *Remote) Show(page string) (bool, error) {
	path := showPath
	if page != "" {
		path += "?page=" + url.QueryEscape(page)
	}
	code, err := r.post(path)
	switch {
	case err != nil:
		return false, err
	case code == http.StatusNoContent:
		return true, nil
	case code == http.StatusConflict:
		return false, nil
	}
	return false, fmt.Errorf("millrun (pid %d) answered %d to show", r.info.PID, code)
}

// Quit asks the engine to stop.
func (r *Remote) Quit() error {
	code, err := r.post(quitPath)
	if err == nil && code != http.StatusNoContent {
		err = fmt.Errorf("millrun answered %d to quit", code)
	}
	return err
}

// Quit asks the desktop engine described by info to stop (millrun quit).
func Quit(info instance.Info) error { return newRemote(info).Quit() }

// errWindowOpen: another window is attached already.
var errWindowOpen = errors.New("a millrun window is already open")

// Attach holds the window's line to the engine, calling on for each
// command (show, open <path>, quit) until ctx ends or the engine goes.
func (r *Remote) Attach(ctx context.Context, on func(cmd string)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.info.URL+attachPath, nil)
	if err != nil {
		return err
	}
	req.Header.Set(secretHeader, r.info.Secret)
	res, err := http.DefaultClient.Do(req) // no timeout: it lasts as long as the window
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusConflict {
		return errWindowOpen
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("millrun answered %s to the window", res.Status)
	}
	lines := bufio.NewScanner(res.Body)
	for lines.Scan() {
		on(lines.Text())
	}
	if err := lines.Err(); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// Handler is what the window loads: the engine, reached through its
// loopback listener as the window (the secret), streams passed on as they
// come (live runs, request events).
func (r *Remote) Handler(onError func(error) http.Handler) http.Handler {
	target, _ := url.Parse(r.info.URL)
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set(secretHeader, r.info.Secret)
		},
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			onError(fmt.Errorf("millrun's engine at %s is not answering (%v); launch millrun again", r.info.URL, err)).ServeHTTP(w, req)
		},
	}
}

// dial returns the desktop engine holding dataDir when it answers.
func dial(info *instance.Info) *Remote {
	if info == nil || info.Kind != instance.KindDesktop || info.URL == "" || info.Secret == "" {
		return nil
	}
	r := newRemote(*info)
	req, err := http.NewRequest(http.MethodGet, info.URL+"/api/version", nil)
	if err != nil {
		return nil
	}
	res, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return nil
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil
	}
	return r
}

// EngineLog is where a background engine writes its log.
func EngineLog(dataDir string) string { return filepath.Join(dataDir, "millrun.log") }

// Launcher finds or starts the engine for a data directory.
type Launcher struct {
	DataDir string
	Listen  string
	// Engine is the command that runs the engine ("<binary> engine");
	// the launcher adds --data, --listen and --window-app.
	Engine []string
	// WindowApp is the desktop binary, for the engine to open windows and
	// write the start-at-login entry with.
	WindowApp string
	Timeout   time.Duration // default 30 s
}

// Connect returns the running engine, starting one when none runs. A
// headless `millrun serve` holding the directory is an error naming it.
func (l *Launcher) Connect() (*Remote, error) {
	timeout := l.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	deadline := time.Now().Add(timeout)
	var exited chan error
	started := false
	for {
		lock, err := instance.Acquire(l.DataDir)
		var inUse *instance.InUseError
		switch {
		case err == nil:
			lock.Release()
			if !started {
				if exited, err = l.start(); err != nil {
					return nil, err
				}
				started = true
			}
		case errors.As(err, &inUse):
			if inUse.Info != nil && inUse.Info.Kind != instance.KindDesktop {
				return nil, err
			}
			if r := dial(inUse.Info); r != nil {
				return r, nil
			}
		default:
			return nil, err
		}
		select {
		case err := <-exited:
			// Another launch may have started one at the same moment.
			if info, _ := instance.Read(l.DataDir); dial(info) != nil {
				return dial(info), nil
			}
			return nil, fmt.Errorf("millrun's engine did not start: %s", engineFailure(l.DataDir, err))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("millrun's engine did not answer within %s (its log: %s)", timeout, EngineLog(l.DataDir))
		}
	}
}

// start runs the engine detached from this process (it outlives the
// window), logging to the data directory.
//
// Where start at login is a systemd user service for this data directory,
// the launch starts that service instead, so that the engine it starts is
// started again if it crashes; it has no exit to report (nil channel).
func (l *Launcher) start() (chan error, error) {
	if err := os.MkdirAll(l.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", l.DataDir, err)
	}
	if autostart.ServiceFor(l.DataDir) {
		err := autostart.StartService()
		if err == nil {
			return nil, nil
		}
		// A unit systemd will not start (no user manager after all) must
		// not keep millrun from opening.
		fmt.Fprintln(os.Stderr, "millrun: starting the engine directly:", err)
	}
	logFile, err := OpenLog(EngineLog(l.DataDir))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	args := append(append([]string{}, l.Engine[1:]...), "--data", l.DataDir, "--listen", l.Listen)
	if l.WindowApp != "" {
		args = append(args, "--window-app", l.WindowApp)
	}
	cmd := exec.Command(l.Engine[0], args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start millrun's engine (%s): %w", l.Engine[0], err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return exited, nil
}

// engineFailure is the reason an engine gave on its way out: the last
// "millrun: ..." line of its log.
func engineFailure(dataDir string, exit error) string {
	b, _ := os.ReadFile(EngineLog(dataDir))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := len(lines) - 1; i >= 0 && i >= len(lines)-20; i-- {
		if msg, ok := strings.CutPrefix(lines[i], "millrun: "); ok {
			return msg
		}
	}
	return fmt.Sprintf("%v (its log: %s)", exit, EngineLog(dataDir))
}

// OpenLog opens the engine's log for appending, keeping one older log
// beside it once it grows past 4 MiB.
func OpenLog(path string) (*os.File, error) {
	rotate(path, 4<<20)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the engine's log: %w", err)
	}
	return f, nil
}

// rotate keeps one older log beside a log grown past max.
func rotate(path string, max int64) {
	if st, err := os.Stat(path); err == nil && st.Size() > max {
		_ = os.Rename(path, path+".1")
	}
}

// EngineCommand is how to run the engine: the headless millrun installed
// with this desktop app when there is one (on Linux the desktop binary
// maps GTK and WebKit at start, some 50 MB more than the headless one),
// else this binary itself.
func EngineCommand() ([]string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	dir := filepath.Dir(self)
	ext := ""
	if runtime.GOOS == "windows" {
		ext = ".exe"
	}
	candidates := []string{
		filepath.Join(dir, "millrun-engine"+ext),
		filepath.Join(dir, "..", "lib", "millrun", "millrun-engine"+ext),
		filepath.Join(dir, "millrun"+ext), // beside millrun-desktop in a source build
	}
	for _, c := range candidates {
		if c == self || !isHeadlessMillrun(c) {
			continue
		}
		return []string{c, "engine"}, nil
	}
	return []string{self, "engine"}, nil
}

// isHeadlessMillrun checks that path is a millrun with the engine command
// (and not, say, an older millrun without it).
func isHeadlessMillrun(path string) bool {
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "engine", "--help")
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd.Run() == nil && strings.Contains(out.String(), "millrun engine")
}
