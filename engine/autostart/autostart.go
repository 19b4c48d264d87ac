// Package autostart writes and removes the platform's own entry that
// starts millrun at login: an XDG autostart file on Linux and the BSDs, a
// LaunchAgent on macOS, the per-user Run key on Windows. What starts is the
// command line millrun gives it (the engine, with no window shown).
package autostart

import (
	"fmt"
	"strings"
)

// Name is the entry's name on every platform.
const Name = "millrun"

// desktopEntry is the XDG autostart file for args.
func desktopEntry(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = quoteExecArg(a)
	}
	return strings.Join([]string{
		"[Desktop Entry]",
		"Type=Application",
		"Name=millrun",
		"Comment=Scripts on this computer as webhooks: starts at login, with no window",
		"Exec=" + strings.Join(quoted, " "),
		"Icon=millrun",
		"Terminal=false",
		"X-GNOME-Autostart-enabled=true",
		"",
	}, "\n")
}

// quoteExecArg quotes one argument of a desktop entry's Exec key, as the
// Desktop Entry Specification says: in double quotes when it holds a
// reserved character, with ", `, $ and \ escaped; a literal % doubled.
func quoteExecArg(a string) string {
	a = strings.ReplaceAll(a, "%", "%%")
	if a != "" && !strings.ContainsAny(a, " \t\n\"'\\><~|&;$*?#()`") {
		return a
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`", `$`, `\$`)
	// Inside the key's value a backslash is itself escaped once more.
	return strings.ReplaceAll(`"`+r.Replace(a)+`"`, `\`, `\\`)
}

// launchAgent is the macOS LaunchAgent property list for args.
func launchAgent(args []string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>` + agentLabel + `</string>
	<key>ProgramArguments</key>
	<array>
`)
	for _, a := range args {
		fmt.Fprintf(&b, "\t\t<string>%s</string>\n", xmlEscape(a))
	}
	b.WriteString(`	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>ProcessType</key>
	<string>Background</string>
</dict>
</plist>
`)
	return b.String()
}

const agentLabel = "dev.millrun.engine"

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}

// runValue is the Windows Run key's value for args: a command line as
// CommandLineToArgvW reads it.
func runValue(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = windowsQuote(a)
	}
	return strings.Join(out, " ")
}

func windowsQuote(a string) string {
	if a != "" && !strings.ContainsAny(a, " \t\"") {
		return a
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for _, c := range a {
		switch c {
		case '\\':
			slashes++
			continue
		case '"':
			b.WriteString(strings.Repeat(`\`, 2*slashes+1))
		default:
			b.WriteString(strings.Repeat(`\`, slashes))
		}
		slashes = 0
		b.WriteRune(c)
	}
	b.WriteString(strings.Repeat(`\`, 2*slashes))
	b.WriteByte('"')
	return b.String()
}

// Entry is what starts millrun at login.
type Entry struct {
	// Command starts millrun and returns (the engine goes on in the
	// background): what the XDG entry, the LaunchAgent and the Run key run.
	Command []string
	// Service runs the engine itself, in the foreground, for a supervisor
	// that starts it again when it crashes (a systemd user service);
	// nil for none.
	Service []string
	// DataDir is the data directory the engine serves.
	DataDir string
}

// dataKey marks the unit's data directory, for ServiceFor (systemd
// ignores keys starting with X-).
const dataKey = "X-Millrun-Data="

// serviceUnit is the systemd user unit running e.Service: restarted when
// it fails or is killed, not when it is stopped or quits.
func serviceUnit(e Entry) string {
	quoted := make([]string, len(e.Service))
	for i, a := range e.Service {
		quoted[i] = quoteUnitArg(a)
	}
	return strings.Join([]string{
		"# Written by millrun (Settings > Start at login); millrun rewrites it.",
		"[Unit]",
		"Description=millrun: scripts on this computer as webhooks",
		"After=graphical-session.target",
		dataKey + e.DataDir,
		"",
		"[Service]",
		"ExecStart=" + strings.Join(quoted, " "),
		"Restart=on-failure",
		"RestartSec=1",
		// Running jobs get their grace period on a stop.
		"TimeoutStopSec=30",
		// What the engine started (a window opened from a notification)
		// is not killed with it on a stop; jobs are the engine's to end.
		"KillMode=process",
		"",
		"[Install]",
		"WantedBy=graphical-session.target",
		"",
	}, "\n")
}

// quoteUnitArg quotes one word of a unit's ExecStart as systemd reads it:
// double quotes around a word with spaces or quotes, backslashes escaped,
// and % and $ doubled (specifiers and variables).
func quoteUnitArg(a string) string {
	a = strings.NewReplacer("%", "%%", "$", "$$").Replace(a)
	if a != "" && !strings.ContainsAny(a, " \t\n\"'\\;") {
		return a
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(a) + `"`
}
