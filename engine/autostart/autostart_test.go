package autostart

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestDesktopEntryQuotesAsTheSpecSays(t *testing.T) {
	t.Parallel()
	got := desktopEntry([]string{"/usr/bin/millrun", "desktop", "--hidden", "--data", "/home/ann/My Data/$x", "100%"})
	want := `Exec=/usr/bin/millrun desktop --hidden --data "/home/ann/My Data/\\$x" 100%%`
	if !strings.Contains(got, want+"\n") {
		t.Fatalf("entry:\n%s\nwant the line\n%s", got, want)
	}
	for _, line := range []string{"[Desktop Entry]", "Type=Application", "Name=millrun", "Terminal=false"} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("entry lacks %q", line)
		}
	}
}

func TestLaunchAgentAndRunValue(t *testing.T) {
	t.Parallel()
	plist := launchAgent([]string{"/Applications/millrun.app/Contents/MacOS/millrun", "desktop", "--hidden", "--data", "/Users/ann/a&b"})
	for _, s := range []string{"<string>dev.millrun.engine</string>", "<string>--hidden</string>", "<string>/Users/ann/a&amp;b</string>", "<key>RunAtLoad</key>\n\t<true/>"} {
		if !strings.Contains(plist, s) {
			t.Errorf("plist lacks %q:\n%s", s, plist)
		}
	}
	got := runValue([]string{`C:\Users\Ann Lee\AppData\Local\millrun\millrun.exe`, "desktop", "--hidden", "--data", `C:\data dir\`, `say "hi"`})
	want := `"C:\Users\Ann Lee\AppData\Local\millrun\millrun.exe" desktop --hidden --data "C:\data dir\\" "say \"hi\""`
	if got != want {
		t.Fatalf("Run value:\n got  %s\n want %s", got, want)
	}
}

// On Linux the entry goes where the desktop looks, and goes away again.
func TestEnableAndDisableWriteTheXDGEntry(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skip("the XDG writer; the others are tested by what they write")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	if on, err := Enabled(); err != nil || on {
		t.Fatalf("before: %v %v", on, err)
	}
	if err := Enable(Entry{Command: []string{"/usr/bin/millrun", "desktop", "--hidden"}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(home, ".config", "autostart", "millrun.desktop"))
	if err != nil || !strings.Contains(string(b), "Exec=/usr/bin/millrun desktop --hidden\n") {
		t.Fatalf("entry: %v\n%s", err, b)
	}
	if on, _ := Enabled(); !on {
		t.Fatal("Enabled after Enable is false")
	}
	if err := Disable(); err != nil {
		t.Fatal(err)
	}
	if err := Disable(); err != nil {
		t.Fatalf("disabling twice: %v", err)
	}
	if on, _ := Enabled(); on {
		t.Fatal("Enabled after Disable is true")
	}
}
