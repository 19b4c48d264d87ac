//go:build linux

package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// start_at_login writes the XDG autostart entry with the command millrun
// gave, reads back from it, and removes it; a millrun without a start
// command refuses it and leaves any entry alone.
func TestStartAtLoginSetting(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	entry := filepath.Join(home, ".config", "autostart", "millrun.desktop")
	f := setup(t, func(c *Config) {
		c.StartCommand = []string{"/usr/bin/millrun", "desktop", "--data", "/home/ann/data", "--hidden"}
	})
	set := func(f *fixture, on bool, status int) {
		t.Helper()
		var view struct{ Settings map[string]any }
		json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/millrun/settings", "", "").body), &view)
		view.Settings["start_at_login"] = on
		b, _ := json.Marshal(view.Settings)
		f.mustDo(status, "POST", "/api/millrun/settings", "application/json", string(b))
	}
	set(f, true, 200)
	b, err := os.ReadFile(entry)
	if err != nil || !strings.Contains(string(b), "Exec=/usr/bin/millrun desktop --data /home/ann/data --hidden\n") {
		t.Fatalf("entry: %v\n%s", err, b)
	}
	if !strings.Contains(f.mustDo(200, "GET", "/api/millrun/settings", "", "").body, `"start_at_login":true`) {
		t.Fatal("the setting does not read back as on")
	}
	set(f, false, 200)
	if _, err := os.Stat(entry); !os.IsNotExist(err) {
		t.Fatalf("the entry is still there: %v", err)
	}

	other := setup(t) // no start command: tests, embedders
	set(f, true, 200)
	set(other, true, 400)
	set(other, false, 200)
	if _, err := os.Stat(entry); err != nil {
		t.Fatalf("a millrun without a start command removed another's entry: %v", err)
	}
}

// An entry that is there but not this millrun's (`serve` wrote it, or a
// binary since removed) read "on" and was never rewritten: saving the
// setting rewrites it for the program that saves, and the desktop's
// engine claims it when it starts.
func TestAStaleStartAtLoginEntryIsRewritten(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	entry := filepath.Join(home, ".config", "autostart", "millrun.desktop")
	stale := "[Desktop Entry]\nType=Application\nName=millrun\nExec=/opt/old/millrun serve --data /home/ann/data\n"
	if err := os.MkdirAll(filepath.Dir(entry), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(entry, []byte(stale), 0o644)
	want := "Exec=/usr/bin/millrun desktop --data /home/ann/data --hidden\n"
	f := setup(t, func(c *Config) {
		c.StartCommand = []string{"/usr/bin/millrun", "desktop", "--data", "/home/ann/data", "--hidden"}
	})
	s := f.e.Settings()
	if !s.StartAtLogin {
		t.Fatal("the stale entry does not read as on")
	}
	if err := f.e.UpdateSettings(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(entry); !strings.Contains(string(b), want) {
		t.Fatalf("saving the setting left the entry:\n%s", b)
	}

	os.WriteFile(entry, []byte(stale), 0o644)
	if done, err := f.e.ClaimStartAtLogin(); !done || err != nil {
		t.Fatalf("claim: %v %v", done, err)
	}
	if b, _ := os.ReadFile(entry); !strings.Contains(string(b), want) {
		t.Fatalf("claiming left the entry:\n%s", b)
	}
	if done, err := f.e.ClaimStartAtLogin(); done || err != nil {
		t.Fatalf("claiming its own entry again: %v %v", done, err)
	}
	os.Remove(entry)
	if done, _ := f.e.ClaimStartAtLogin(); done {
		t.Fatal("claiming wrote an entry where there was none")
	}
}
