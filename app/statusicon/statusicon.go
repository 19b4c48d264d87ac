// Package statusicon shows millrun in the desktop's status area: the
// StatusNotifierItem of KDE, Xfce, GNOME with the AppIndicator extension
// and the others on Linux, the notification area on Windows. It lives in
// the engine's process, not the window's, so it is there while no window
// (and no WebKit) is; where there is no status area it does nothing.
package statusicon

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"fmt"
	"log/slog"
	"strings"
)

// The icon at the sizes status areas show (16 to 48 pixels): small, since
// the StatusNotifierItem sends every pixel over D-Bus, and made ahead
// (ImageMagick, from build/appicon.png) so that the engine decodes no
// large image at start: that cost the engine 2.7 MB it kept.
var (
	//go:embed icon48.png
	icon48 []byte
	//go:embed icon32.png
	icon32 []byte
)

// State is what the icon shows.
type State struct {
	Running, Queued int
	// Tunnel is the tunnel's state (off, connecting, online,
	// reconnecting, error) and URL its public address when online.
	Tunnel, TunnelURL string
	// LastFailure is the newest failed run in one line, and its page in
	// the UI; empty when none failed since millrun started.
	LastFailure, LastFailurePage string
	Paused                       bool
}

// Actions are what the menu does; each runs on a goroutine of the icon.
type Actions struct {
	// Open shows the window at a UI page ("" for where it was).
	Open func(page string)
	// Pause pauses or resumes the schedules.
	Pause func(paused bool)
	// Quit stops millrun, as the window's millrun > Quit does.
	Quit func()
}

// Icon is a status icon being shown.
type Icon interface {
	// Update shows s.
	Update(s State)
	// Close removes the icon.
	Close()
}

// Start shows the icon where the desktop has a status area, and returns
// one that does nothing elsewhere.
func Start(a Actions, log *slog.Logger) Icon {
	if log == nil {
		log = slog.Default()
	}
	return start(a, log)
}

// none stands where there is no status area.
type none struct{}

func (none) Update(State) {}
func (none) Close()       {}

// Labels of the menu's lines, as a person reads them.

func statusLine(s State) string {
	switch {
	case s.Running == 1:
		return "millrun is running 1 job"
	case s.Running > 1:
		return fmt.Sprintf("millrun is running %d jobs", s.Running)
	}
	return "millrun is running"
}

func tunnelLine(s State) string {
	switch s.Tunnel {
	case "", "off":
		return "Tunnel: off"
	case "online":
		if s.TunnelURL != "" {
			return "Tunnel: online at " + s.TunnelURL
		}
		return "Tunnel: online"
	case "error":
		return "Tunnel: failed (open the Tunnel page)"
	}
	return "Tunnel: offline (" + s.Tunnel + ")"
}

func failureLine(s State) string {
	if s.LastFailure == "" {
		return "No failed runs"
	}
	return "Last failure: " + clip(s.LastFailure, 80)
}

// tooltip is the state in a few lines, for the pointer over the icon.
func tooltip(s State) string {
	lines := []string{statusLine(s), tunnelLine(s)}
	if s.LastFailure != "" {
		lines = append(lines, failureLine(s))
	}
	if s.Paused {
		lines = append(lines, "Schedules paused")
	}
	return strings.Join(lines, "\n")
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// icoFromPNG wraps a PNG in an .ico (Windows Vista and later read PNG
// entries), which is what the notification area loads.
func icoFromPNG(p []byte, size int) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, [3]uint16{0, 1, 1}) // reserved, type icon, one image
	dim := byte(size)
	if size >= 256 {
		dim = 0
	}
	b.Write([]byte{dim, dim, 0, 0})
	_ = binary.Write(&b, binary.LittleEndian, [2]uint16{1, 32})                  // planes, bits per pixel
	_ = binary.Write(&b, binary.LittleEndian, [2]uint32{uint32(len(p)), 6 + 16}) // size, offset
	b.Write(p)
	return b.Bytes()
}
