package main

import (
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/windows"
)

// millrun.exe is a GUI-subsystem program (no console window flashes when
// the desktop app starts), so Windows gives it no console: `serve`,
// `token create` and `--help` typed in cmd or PowerShell printed nothing.
// A command run from a console attaches to that console and prints there;
// output redirected to a file or a pipe is left as it is.
func attachConsole(args []string) {
	if len(args) == 0 || slices.Contains([]string{"desktop", "engine"}, args[0]) {
		return
	}
	if strings.HasPrefix(args[0], "-") && !slices.Contains([]string{"-h", "--help", "-help", "--version"}, args[0]) {
		return // the window, with flags
	}
	if h, err := windows.GetStdHandle(windows.STD_OUTPUT_HANDLE); err == nil && h != 0 && h != windows.InvalidHandle {
		return // redirected: the handle is the file or pipe
	}
	const attachParentProcess = ^uintptr(0) // ATTACH_PARENT_PROCESS, (DWORD)-1
	attach := windows.NewLazySystemDLL("kernel32.dll").NewProc("AttachConsole")
	if r, _, _ := attach.Call(attachParentProcess); r == 0 {
		return // started from Explorer or a shortcut: no console to print to
	}
	if out, err := os.OpenFile("CONOUT$", os.O_WRONLY, 0); err == nil {
		os.Stdout, os.Stderr = out, out
	}
	if in, err := os.OpenFile("CONIN$", os.O_RDONLY, 0); err == nil {
		os.Stdin = in
	}
}
