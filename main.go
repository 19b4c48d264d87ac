// Command millrun turns scripts on this computer into webhooks. With no
// command it opens the desktop window (in desktop builds); `millrun serve`
// runs the same engine headless with the UI served to a browser.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// version is millrun's; the Makefile sets it to wails.json's
// productVersion (-ldflags "-X main.version=v...").
var version = "v0.1.0-dev"

func main() {
	attachConsole(os.Args[1:])
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usageError marks errors caused by how millrun was called; they print the
// command's help hint and exit with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

const topUsage = `millrun turns scripts on this computer into webhooks (Windmill-compatible).

Usage:
  millrun                 open the desktop window (desktop builds; otherwise this help)
  millrun desktop [flags] the same, with --data and --listen
  millrun serve [flags]   run headless: the engine, its webhooks and the UI on a local port
  millrun engine [flags]  the desktop app's background engine (launching the app starts it)
  millrun quit [flags]    stop the millrun that uses the data folder, gracefully
  millrun token <create|list|revoke> [flags]
                          manage the tokens that guard the webhooks and the API
  millrun version         print the version

Run 'millrun <command> --help' for a command's flags.
Data lives in %s unless --data or MILLRUN_DATA says otherwise.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		if openDesktop != nil {
			return openDesktop(stderr)
		}
		fmt.Fprintf(stdout, topUsage, defaultDataDir())
		return 0
	}
	// `millrun --data DIR` in a desktop build means the window with flags.
	if desktopCommand != nil && strings.HasPrefix(args[0], "-") && !slices.Contains([]string{"-h", "--help", "-help", "--version"}, args[0]) {
		return desktopCommand(args, stderr)
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(args[1:], stdout, stderr)
	case "token":
		err = cmdToken(args[1:], stdout, stderr)
	case "engine":
		err = cmdEngine(args[1:], stdout, stderr)
	case "quit":
		err = cmdQuit(args[1:], stdout, stderr)
	case "desktop":
		if desktopCommand == nil {
			fmt.Fprintln(stderr, "millrun: this build has no desktop window; use 'millrun serve', or build the window with 'make build-desktop'")
			return 2
		}
		return desktopCommand(args[1:], stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "millrun", version)
		return 0
	case "help", "-h", "--help", "-help":
		fmt.Fprintf(stdout, topUsage, defaultDataDir())
		return 0
	default:
		fmt.Fprintf(stderr, "millrun: unknown command %q\n\n", args[0])
		fmt.Fprintf(stderr, topUsage, defaultDataDir())
		return 2
	}
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "millrun: %s\n", ue.msg)
		return 2
	}
	fmt.Fprintf(stderr, "millrun: %s\n", err)
	return 1
}

// openDesktop and desktopCommand are set by the desktop build (desktop.go).
var (
	openDesktop    func(stderr io.Writer) int
	desktopCommand func(args []string, stderr io.Writer) int
)
