//go:build !windows && !darwin

package autostart

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Where systemd runs the desktop session (GNOME and KDE on most
// distributions), millrun starts at login as a systemd user service, so
// that a crashed engine is started again; elsewhere (Xfce, a session
// without systemd) through the XDG autostart entry that GNOME, KDE, Xfce
// and the others read. One of the two at a time: enabling one removes the
// other.

// unitName is the systemd user unit.
const unitName = Name + ".service"

// xdgPath is $XDG_CONFIG_HOME/autostart/millrun.desktop (by default
// ~/.config/autostart/).
func xdgPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "autostart", Name+".desktop"), nil
}

// unitPath is $XDG_CONFIG_HOME/systemd/user/millrun.service, where
// `systemctl --user` finds units of the user's own.
func unitPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "systemd", "user", unitName), nil
}

// systemdBooted is where systemd says it runs the machine (sd_booted).
var systemdBooted = "/run/systemd/system"

// systemdSession reports whether systemd runs this desktop session: it
// booted the machine, the user's manager answers, and its graphical
// session target is active (GNOME and KDE start it; Xfce and a bare X
// session do not, and a unit wanted by it would never start there).
func systemdSession() bool {
	if st, err := os.Stat(systemdBooted); err != nil || !st.IsDir() {
		return false
	}
	out, err := systemctl("is-active", "graphical-session.target")
	return err == nil && strings.TrimSpace(out) == "active"
}

// systemctl runs `systemctl --user` with args.
func systemctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "systemctl", append([]string{"--user"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("systemctl --user %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// Enable makes e start at login: the user service where systemd runs the
// session and e has a service command, the XDG entry elsewhere.
func Enable(e Entry) error {
	xdg, err := xdgPath()
	if err != nil {
		return err
	}
	unit, err := unitPath()
	if err != nil {
		return err
	}
	if e.Service == nil || !systemdSession() {
		if err := disableUnit(unit); err != nil {
			return err
		}
		return writeEntry(xdg, desktopEntry(e.Command))
	}
	if err := writeEntry(unit, serviceUnit(e)); err != nil {
		return err
	}
	if _, err := systemctl("daemon-reload"); err != nil {
		return err
	}
	if _, err := systemctl("enable", unitName); err != nil {
		return err
	}
	return removeEntry(xdg)
}

// disableUnit disables and removes the user service if there is one.
func disableUnit(unit string) error {
	if on, err := exists(unit); err != nil || !on {
		return err
	}
	// Disabling removes the link that starts it at login; the engine that
	// runs now goes on until it stops.
	if _, err := systemctl("disable", unitName); err != nil {
		return err
	}
	if err := removeEntry(unit); err != nil {
		return err
	}
	_, err := systemctl("daemon-reload")
	return err
}

// Disable removes whichever entry there is; there being none is not an
// error.
func Disable() error {
	xdg, err := xdgPath()
	if err != nil {
		return err
	}
	unit, err := unitPath()
	if err != nil {
		return err
	}
	if err := disableUnit(unit); err != nil {
		return err
	}
	return removeEntry(xdg)
}

// Enabled reports whether an entry exists.
func Enabled() (bool, error) {
	for _, path := range []func() (string, error){unitPath, xdgPath} {
		p, err := path()
		if err != nil {
			return false, err
		}
		if on, err := exists(p); on || err != nil {
			return on, err
		}
	}
	return false, nil
}

// Matches reports whether the entry there is the one Enable(e) writes:
// false for one another millrun wrote (`serve`, an older install, a
// binary since removed), or of the other kind than this session wants.
func Matches(e Entry) bool {
	xdg, err1 := xdgPath()
	unit, err2 := unitPath()
	if err1 != nil || err2 != nil {
		return false
	}
	if e.Service != nil && systemdSession() {
		return holds(unit, serviceUnit(e)) && !holdsAny(xdg)
	}
	return holds(xdg, desktopEntry(e.Command)) && !holdsAny(unit)
}

func holdsAny(path string) bool {
	on, _ := exists(path)
	return on
}

// Where says where the entry goes, for the Settings page.
func Where() string {
	p, err := xdgPath()
	if e, _ := unitPath(); err == nil && (holdsAny(e) || systemdSession()) {
		return e + " (a systemd user service: started again if it crashes)"
	}
	if err != nil {
		return "your desktop's autostart folder"
	}
	return p
}

// ServiceFor reports whether millrun's user service runs the engine of
// dataDir, so that a launch starts it through systemd (which restarts it
// if it crashes) rather than as a child of its own.
func ServiceFor(dataDir string) bool {
	unit, err := unitPath()
	if err != nil {
		return false
	}
	b, err := os.ReadFile(unit)
	return err == nil && bytes.Contains(b, []byte("\n"+dataKey+dataDir+"\n"))
}

// StartService starts millrun's user service now.
func StartService() error {
	_, err := systemctl("start", unitName)
	return err
}
