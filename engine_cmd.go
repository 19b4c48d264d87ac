package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/millrun/millrun/app"
	"github.com/millrun/millrun/app/statusicon"
	"github.com/millrun/millrun/engine/instance"
)

// cmdEngine runs the background half of the desktop app.
func cmdEngine(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("engine", "millrun engine [--data DIR] [--listen 127.0.0.1:8700] [--window-app PATH]",
		"Runs the engine the millrun window attaches to, with no window: webhooks, jobs,\nschedules, the tunnel and desktop notifications. Launching the desktop app starts\nit when it is not running; closing the window leaves it running; the window's\nmillrun > Quit (or SIGTERM) stops it gracefully. For a server, use 'millrun serve'.", stderr)
	data := fs.String("data", defaultDataDir(), "data directory (database and settings)")
	listen := fs.String("listen", envOr("MILLRUN_LISTEN", "127.0.0.1:8700"), "loopback address for webhooks (a free port when it is taken)")
	windowApp := fs.String("window-app", "", "the desktop app's binary: opens a window when a notification is clicked,\nand is what start at login runs")
	logPath := fs.String("log", "", "append the log to this file (how a service started at login logs) instead of stderr")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{msg: fmt.Sprintf("unexpected argument %q (see --help)", fs.Arg(0))}
	}
	if err := checkListen(*listen, false, stderr); err != nil {
		return err
	}
	dir := absData(*data)
	if *logPath != "" {
		f, err := app.OpenLog(*logPath)
		if err != nil {
			return err
		}
		defer f.Close()
		stderr = f
	}
	opts := app.Options{DataDir: dir, Listen: *listen, Workspace: "local", Version: version, UI: uiHandler(),
		IncludeHeaders: includeHeadersEnv(), NgrokAuthtoken: os.Getenv("NGROK_AUTHTOKEN"), StatusIcon: statusicon.Start,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if *windowApp != "" {
		opts.WindowCommand = []string{*windowApp, "desktop", "--data", dir}
		opts.StartCommand = []string{*windowApp, "desktop", "--data", dir, "--hidden", "--listen", *listen}
		if self, err := os.Executable(); err == nil {
			opts.StartService = []string{self, "engine", "--data", dir, "--listen", *listen, "--window-app", *windowApp, "--log", app.EngineLog(dir)}
		}
	} else {
		opts.StartCommand = startCommand("engine", dir, "--listen", *listen)
	}
	if self, err := os.Executable(); err == nil {
		opts.Program = self
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := app.New(opts).Serve(ctx)
	var restart *app.Restart
	if errors.As(err, &restart) {
		return restartAs(restart.Program)
	}
	return err
}

func absData(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// includeHeadersEnv is Windmill's INCLUDE_HEADERS: the request headers jobs
// get by default, comma-separated.
func includeHeadersEnv() []string {
	var out []string
	for _, h := range strings.Split(os.Getenv("INCLUDE_HEADERS"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// cmdQuit stops the millrun holding a data folder as its own Quit would:
// running jobs get their grace period. The Windows installer runs it
// before it replaces or removes millrun.exe.
func cmdQuit(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("quit", "millrun quit [--data DIR] [--wait 60s]",
		"Stops the millrun (the desktop app's engine, or serve) that uses the data folder,\ngracefully, and waits for it to stop. Nothing running is not an error.", stderr)
	data := fs.String("data", defaultDataDir(), "data directory")
	wait := fs.Duration("wait", time.Minute, "how long to wait for it to stop")
	if err := parse(fs, args); err != nil {
		return err
	}
	dir := absData(*data)
	if lock, err := instance.Acquire(dir); err == nil {
		lock.Release()
		fmt.Fprintf(stdout, "No millrun is using %s.\n", dir)
		return nil
	}
	info, err := instance.Read(dir)
	if err != nil {
		return fmt.Errorf("a millrun is using %s but has not said who it is yet; try again", dir)
	}
	if info.Kind == instance.KindDesktop {
		if err := app.Quit(*info); err != nil {
			return fmt.Errorf("%s did not answer: %w", info.Describe(), err)
		}
	} else if err := instance.StopHolder(dir, info, *wait); err != nil {
		return err
	}
	for deadline := time.Now().Add(*wait); ; time.Sleep(100 * time.Millisecond) {
		if lock, err := instance.Acquire(dir); err == nil {
			lock.Release()
			fmt.Fprintf(stdout, "Stopped %s.\n", info.Describe())
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not stop within %s", info.Describe(), *wait)
		}
	}
}
