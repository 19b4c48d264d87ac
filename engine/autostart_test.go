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
