//go:build linux

package autostart

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var engineEntry = Entry{
	Command: []string{"/usr/bin/millrun", "desktop", "--data", "/home/ann/my data", "--hidden"},
	Service: []string{"/usr/lib/millrun/millrun-engine", "engine", "--data", "/home/ann/my data", "--log", "/home/ann/my data/millrun.log", "--window-app", "/usr/bin/millrun", "--listen", "127.0.0.1:8700"},
	DataDir: "/home/ann/my data",
}

func TestServiceUnit(t *testing.T) {
	t.Parallel()
	got := serviceUnit(engineEntry)
	for _, line := range []string{
		"[Service]",
		`ExecStart=/usr/lib/millrun/millrun-engine engine --data "/home/ann/my data" --log "/home/ann/my data/millrun.log" --window-app /usr/bin/millrun --listen 127.0.0.1:8700`,
		"Restart=on-failure",
		"[Install]",
		"WantedBy=graphical-session.target",
		"X-Millrun-Data=/home/ann/my data",
	} {
		if !strings.Contains(got, "\n"+line+"\n") {
			t.Errorf("the unit lacks the line %q:\n%s", line, got)
		}
	}
	if q := quoteUnitArg(`50%$HOME "x"\`); q != `"50%%$$HOME \"x\"\\"` {
		t.Errorf("quoted: %s", q)
	}
}

// fakeSystemd stands in for a session systemd runs: a booted marker and a
// systemctl that records what it was asked and says the graphical session
// is up when active is true.
func fakeSystemd(t *testing.T, active bool) (calls func() []string) {
	t.Helper()
	dir := t.TempDir()
	booted := filepath.Join(dir, "booted")
	os.Mkdir(booted, 0o755)
	saved := systemdBooted
	systemdBooted = booted
	t.Cleanup(func() { systemdBooted = saved })
	log := filepath.Join(dir, "calls")
	state := "inactive"
	if active {
		state = "active"
	}
	script := "#!/bin/sh\necho \"$*\" >> " + log + "\nif [ \"$2\" = is-active ]; then echo " + state + "; fi\n"
	if err := os.WriteFile(filepath.Join(dir, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	return func() []string {
		b, _ := os.ReadFile(log)
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
}

// Where systemd runs the session, start at login is a user service that
// systemd restarts after a crash; disabling removes it; an old XDG entry
// is replaced by it.
func TestEnableWritesTheUserServiceWhereSystemdRunsTheSession(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	calls := fakeSystemd(t, true)
	xdg := filepath.Join(home, ".config", "autostart", "millrun.desktop")
	unit := filepath.Join(home, ".config", "systemd", "user", "millrun.service")
	os.MkdirAll(filepath.Dir(xdg), 0o755)
	os.WriteFile(xdg, []byte("[Desktop Entry]\nExec=/opt/old/millrun serve\n"), 0o644)
	if Matches(engineEntry) {
		t.Fatal("an old XDG entry matches the service")
	}
	if err := Enable(engineEntry); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(unit); err != nil || string(b) != serviceUnit(engineEntry) {
		t.Fatalf("unit: %v\n%s", err, b)
	}
	if _, err := os.Stat(xdg); !os.IsNotExist(err) {
		t.Fatalf("the XDG entry stays beside the service: %v", err)
	}
	if !Matches(engineEntry) || !ServiceFor("/home/ann/my data") || ServiceFor("/home/ann") {
		t.Fatal("the service is not recognised as this millrun's")
	}
	if on, _ := Enabled(); !on {
		t.Fatal("not enabled")
	}
	if w := Where(); !strings.Contains(w, unit) {
		t.Fatalf("Where: %s", w)
	}
	if got := calls(); !strings.Contains(strings.Join(got, "|"), "--user daemon-reload|--user enable millrun.service") {
		t.Fatalf("systemctl was asked %q", got)
	}
	if err := Disable(); err != nil {
		t.Fatal(err)
	}
	if on, _ := Enabled(); on {
		t.Fatal("enabled after Disable")
	}
	if got := calls(); !strings.Contains(strings.Join(got, "|"), "--user disable millrun.service") {
		t.Fatalf("Disable did not disable the unit: %q", got)
	}
}

// Where systemd does not run the graphical session (Xfce), the XDG entry
// starts millrun, and a unit left from before is removed.
func TestEnableWritesTheXDGEntryElsewhere(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	fakeSystemd(t, false)
	unit := filepath.Join(home, ".config", "systemd", "user", "millrun.service")
	os.MkdirAll(filepath.Dir(unit), 0o755)
	os.WriteFile(unit, []byte(serviceUnit(engineEntry)), 0o644)
	if err := Enable(engineEntry); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(unit); !os.IsNotExist(err) {
		t.Fatalf("the unit stays: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(home, ".config", "autostart", "millrun.desktop"))
	if err != nil || !strings.Contains(string(b), `Exec=/usr/bin/millrun desktop --data "/home/ann/my data" --hidden`) {
		t.Fatalf("XDG entry: %v\n%s", err, b)
	}
	if !Matches(engineEntry) {
		t.Fatal("the entry just written does not match")
	}
}
