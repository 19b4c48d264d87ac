package autostart

import (
	"errors"
	"fmt"
)

// Setting is the start_at_login setting of one millrun: the entry it
// writes. A millrun without a Command (tests, embedders) has the setting
// unavailable, and leaves alone an entry another millrun wrote.
type Setting struct{ Entry Entry }

// errUnavailable refuses turning the setting on where it is unavailable.
var errUnavailable = errors.New("start_at_login is not available for this millrun (run the installed app or 'millrun serve')")

// On is what the setting reads: an entry is there, and this millrun
// manages one.
func (s Setting) On() bool {
	if s.Entry.Command == nil {
		return false
	}
	on, _ := Enabled()
	return on
}

// Apply writes or removes the entry. An entry that is there but not this
// millrun's (written by `serve`, an older install, for a binary since
// removed) is rewritten: the entry is millrun's to own, and the program
// that saves the setting is the one that starts.
func (s Setting) Apply(want bool) error {
	if s.Entry.Command == nil {
		if want {
			return errUnavailable
		}
		return nil
	}
	on, err := Enabled()
	if err != nil {
		return fmt.Errorf("start_at_login: %w", err)
	}
	if !want {
		if on {
			return Disable()
		}
		return nil
	}
	if on && Matches(s.Entry) {
		return nil
	}
	if err := Enable(s.Entry); err != nil {
		return fmt.Errorf("start_at_login: %w", err)
	}
	return nil
}

// Claim rewrites an entry that is there but does not start this millrun
// (the desktop app's engine does it as it starts: an entry that runs
// `serve`, or a binary since removed, would keep the app from opening at
// the next login). It reports whether it did.
func (s Setting) Claim() (bool, error) {
	if s.Entry.Command == nil {
		return false, nil
	}
	if on, err := Enabled(); err != nil || !on || Matches(s.Entry) {
		return false, err
	}
	if err := Enable(s.Entry); err != nil {
		return false, fmt.Errorf("rewrite the start-at-login entry: %w", err)
	}
	return true, nil
}

// Drop removes the entry when it is this millrun's: its program was
// removed (the package uninstalled), and an entry left behind would
// start nothing, or an older copy, at login.
func (s Setting) Drop() error {
	if s.Entry.Command == nil || !Matches(s.Entry) {
		return nil
	}
	return Disable()
}
