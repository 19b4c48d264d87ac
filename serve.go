package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/millrun/millrun/engine"
	"github.com/millrun/millrun/engine/alerts"
	"github.com/millrun/millrun/engine/api"
	"github.com/millrun/millrun/engine/connlimit"
	"github.com/millrun/millrun/engine/instance"
	"github.com/millrun/millrun/engine/tunnel"
)

type serveOptions struct {
	listen      string
	data        string
	workspace   string
	workers     int
	allowRemote bool
	grace       time.Duration
	tunnel      bool
	authtoken   string
	domain      string
}

func cmdServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "millrun serve [--listen 127.0.0.1:8700] [--data DIR] [--workspace local]",
		"Runs millrun headless: the job engine, the webhooks and the UI on one local port.\nOn first start it prints a login URL carrying a fresh token. Ctrl-C stops it\ngracefully: running jobs get --grace to finish, queued jobs wait for the next start.", stderr)
	var o serveOptions
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8700", "address to listen on (loopback unless --allow-remote)")
	fs.StringVar(&o.data, "data", defaultDataDir(), "data directory (database and settings)")
	fs.StringVar(&o.workspace, "workspace", "local", "workspace id used in the URLs (/api/w/<workspace>/...)")
	fs.IntVar(&o.workers, "workers", 0, "jobs run at once (default: the stored setting, initially 4 per CPU and at least 8)")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow --listen on a non-loopback address (exposes millrun to your network)")
	fs.DurationVar(&o.grace, "grace", 10*time.Second, "how long running jobs may finish on shutdown before they are killed")
	fs.BoolVar(&o.tunnel, "tunnel", false, "publish the webhook routes (only those) through an ngrok tunnel")
	fs.StringVar(&o.authtoken, "ngrok-authtoken", "", "ngrok authtoken; saved in the data directory (0600) for later starts.\nWithout it: the saved one, else $NGROK_AUTHTOKEN")
	fs.StringVar(&o.domain, "tunnel-domain", "", "reserved ngrok domain to use (saved as a setting); default: a random one")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{msg: fmt.Sprintf("unexpected argument %q (see --help)", fs.Arg(0))}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, o, stdout, stderr)
}

// checkListen refuses non-loopback addresses unless allowed.
func checkListen(addr string, allowRemote bool, stderr io.Writer) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return &usageError{msg: fmt.Sprintf("--listen %q: use host:port, e.g. 127.0.0.1:8700", addr)}
	}
	ip := net.ParseIP(host)
	loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
	if !loopback {
		if !allowRemote {
			return &usageError{msg: fmt.Sprintf("--listen %s is not a loopback address: anyone on your network could reach millrun. Pass --allow-remote if you mean it", addr)}
		}
		fmt.Fprintf(stderr, "WARNING: millrun listens on %s, reachable from your network; every request still needs a token.\n", addr)
	}
	return nil
}

func serve(ctx context.Context, o serveOptions, stdout, stderr io.Writer) error {
	if err := checkListen(o.listen, o.allowRemote, stderr); err != nil {
		return err
	}
	// The folder before the port: a second serve on the usual address is
	// told which millrun holds the folder, not only that the port is taken.
	lock, err := instance.Acquire(o.data)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		lock.Release()
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%s is already in use (is millrun already running?); pick another address with --listen", o.listen)
		}
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	defer ln.Close()
	base := "http://" + ln.Addr().String()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var allowed []string
	if o.allowRemote {
		host, _, _ := net.SplitHostPort(o.listen)
		allowed = append(allowed, host)
	}
	// Clicking a notification opens its run in the browser.
	notes := alerts.NewSender(func(path string) { openBrowser(base + "/#" + path) })
	defer notes.Close()
	e, err := engine.Open(engine.Config{DataDir: o.data, Workspace: o.workspace, BaseURL: base + "/api", Workers: o.workers,
		UI: uiHandler(), Logger: logger, ShutdownGrace: o.grace, AllowedHosts: allowed, Version: version, Lock: lock,
		StartCommand: startCommand("serve", o.data, "--listen", o.listen), Notifier: notes,
		IncludeHeaders: includeHeadersEnv(), NgrokAuthtoken: os.Getenv("NGROK_AUTHTOKEN"), SettleMemory: debug.FreeOSMemory,
		OtherDataDirs: []string{defaultDataDir()}})
	if err != nil {
		return err
	}
	limitMemory(e)
	if err := e.Announce(instance.KindServe, base, ""); err != nil {
		logger.Warn("cannot write instance info", "err", err)
	}
	if err := configureTunnel(ctx, e, o); err != nil {
		e.Close(context.Background())
		return err
	}
	states, stopStates := e.Tunnel().Subscribe()
	defer stopStates()
	go printTunnelStates(stdout, states, o.workspace)
	n, err := e.TokenCount(ctx)
	if err != nil {
		e.Close(context.Background())
		return err
	}
	fmt.Fprintf(stdout, "millrun %s listening on %s (workspace %s, data %s)\n", version, base, o.workspace, o.data)
	if n == 0 {
		secret, err := e.CreateLoginToken(ctx)
		if err != nil {
			e.Close(context.Background())
			return err
		}
		fmt.Fprintf(stdout, "First start: open this one-time URL to log in (it works once, within 7 days):\n  %s/login?token=%s\n", base, secret)
		fmt.Fprintf(stdout, "For curl and scripts, make an API token: %s\n", strings.Replace(api.TokenCommand(o.data), "--label browser", "--label me", 1))
	} else {
		fmt.Fprintf(stdout, "Open %s and log in with a token made for this data folder:\n  %s\n", base, api.TokenCommand(o.data))
	}

	limited := connlimit.New(ln, connlimit.Local())
	srv := &http.Server{Handler: e.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ConnState: limited.ConnState}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(limited) }()
	select {
	case err := <-served:
		e.Close(context.Background())
		return fmt.Errorf("http server stopped: %w", err)
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "Shutting down: no new requests; running jobs get", o.grace, "to finish...")
	shutdownDone := make(chan struct{})
	go func() {
		sctx, cancel := context.WithTimeout(context.Background(), o.grace+5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		close(shutdownDone)
	}()
	err = e.Close(context.Background())
	<-shutdownDone
	if err != nil {
		return fmt.Errorf("closing the database: %w", err)
	}
	fmt.Fprintln(stdout, "millrun stopped cleanly.")
	return nil
}

// configureTunnel applies the tunnel flags and starts the tunnel if asked.
func configureTunnel(ctx context.Context, e *engine.Engine, o serveOptions) error {
	if o.authtoken != "" {
		if err := e.SetNgrokAuthtoken(o.authtoken); err != nil {
			return &usageError{msg: "--ngrok-authtoken: " + err.Error()}
		}
	}
	if o.domain != "" {
		s := e.Settings()
		s.TunnelDomain = o.domain
		if err := e.UpdateSettings(ctx, s); err != nil {
			return err
		}
	}
	if o.tunnel && e.Tunnel().Status().State == tunnel.Off {
		if err := e.StartTunnel(); err != nil {
			return &usageError{msg: "--tunnel: " + err.Error() + " (or pass --ngrok-authtoken, or set NGROK_AUTHTOKEN)"}
		}
	}
	return nil
}

func printTunnelStates(w io.Writer, states <-chan tunnel.Status, workspace string) {
	for st := range states {
		switch st.State {
		case tunnel.Connecting:
			fmt.Fprintln(w, "Tunnel: connecting to ngrok...")
		case tunnel.Online:
			fmt.Fprintf(w, "Tunnel online: %s (webhooks only, e.g. %s/api/w/%s/jobs/run_wait_result/p/<path>)\n", st.URL, st.URL, workspace)
		case tunnel.Reconnecting:
			fmt.Fprintf(w, "Tunnel reconnecting: %s\n", st.Error)
		case tunnel.Failed:
			fmt.Fprintf(w, "Tunnel error: %s\n", st.Error)
		}
	}
}

// startCommand is the command line the start_at_login setting puts in the
// autostart entry: this executable, the same data folder, no window.
func startCommand(command, data string, extra ...string) []string {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	if abs, err := filepath.Abs(data); err == nil {
		data = abs
	}
	return append([]string{exe, command, "--data", data}, extra...)
}

// openBrowser opens url in the desktop's browser, where there is one.
func openBrowser(url string) {
	name, args := "xdg-open", []string{url}
	switch goruntime.GOOS {
	case "darwin":
		name = "open"
	case "windows":
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler", url}
	}
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err == nil {
		go cmd.Wait()
	}
}

// limitMemory sets the soft memory limit the engine suggests, unless the
// user chose one with GOMEMLIMIT: without it, the garbage of a flood of
// large requests is collected only once the heap has doubled.
func limitMemory(e *engine.Engine) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(e.MemoryLimit())
	}
}
