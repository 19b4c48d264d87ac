//go:build desktop || dev

package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/millrun/millrun/app"
)

func init() {
	openDesktop = func(stderr io.Writer) int { return runDesktop(nil, stderr) }
	desktopCommand = runDesktop
}

// runDesktop opens the window with the engine inside it.
func runDesktop(args []string, stderr io.Writer) int {
	fs := newFlags("desktop", "millrun [desktop] [--data DIR] [--listen 127.0.0.1:8700]",
		"Opens the millrun window. The engine runs inside it and webhooks reach it on the\nloopback address; closing the window keeps them working (millrun > Quit stops it).", stderr)
	data := fs.String("data", defaultDataDir(), "data directory (database and settings)")
	listen := fs.String("listen", envOr("MILLRUN_LISTEN", "127.0.0.1:8700"), "loopback address for webhooks while millrun runs")
	hidden := fs.Bool("hidden", false, "start with the window hidden (how start-at-login starts millrun); launching millrun again shows it")
	if err := parse(fs, args); err != nil {
		if err.Error() == "flag: help requested" {
			return 0
		}
		fmt.Fprintln(stderr, "millrun:", err)
		return 2
	}
	if err := checkListen(*listen, false, stderr); err != nil {
		fmt.Fprintln(stderr, "millrun:", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a := app.New(app.Options{DataDir: *data, Listen: *listen, Workspace: "local", Version: version, UI: uiHandler(), Logger: logger,
		StartHidden: *hidden, StartCommand: startCommand("desktop", *data, "--hidden", "--listen", *listen)})
	if err := a.Run(); err != nil {
		fmt.Fprintln(stderr, "millrun:", err)
		return 1
	}
	return 0
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
