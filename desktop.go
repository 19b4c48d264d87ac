//go:build desktop || dev

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/millrun/millrun/app"
)

func init() {
	openDesktop = func(stderr io.Writer) int { return runDesktop(nil, stderr) }
	desktopCommand = runDesktop
}

// runDesktop opens the window, starting the engine first if none runs.
func runDesktop(args []string, stderr io.Writer) int {
	fs := newFlags("desktop", "millrun [desktop] [--data DIR] [--listen 127.0.0.1:8700] [--hidden]",
		"Opens the millrun window. The engine runs in the background (started now if it is\nnot running) and webhooks reach it on the loopback address; closing the window\nkeeps them working and frees the window's memory (millrun > Quit stops both).", stderr)
	data := fs.String("data", defaultDataDir(), "data directory (database and settings)")
	listen := fs.String("listen", envOr("MILLRUN_LISTEN", "127.0.0.1:8700"), "loopback address for webhooks while millrun runs")
	hidden := fs.Bool("hidden", false, "start the engine only, with no window (how start at login starts millrun); launching millrun again opens the window")
	open := fs.String("open", "", "open the window at this page of the UI (e.g. /runs)")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
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
	if err := app.Launch(app.LaunchOptions{DataDir: absData(*data), Listen: *listen, Logger: logger, Hidden: *hidden, OpenPath: *open, Version: version}); err != nil {
		fmt.Fprintln(stderr, "millrun:", err)
		return 1
	}
	return 0
}
