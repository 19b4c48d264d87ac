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
