package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/autostart"
	"github.com/millrun/millrun/engine/settings"
)

// Settings returns the current settings.
func (e *Engine) Settings() settings.Settings {
	s := *e.settings.Load()
	s.StartAtLogin, _ = autostart.Enabled()
	if e.cfg.StartCommand == nil {
		s.StartAtLogin = false
	}
	return s
}

// UpdateSettings validates and stores new settings. Worker count changes
// take effect on the next start.
func (e *Engine) UpdateSettings(ctx context.Context, s settings.Settings) error {
	if s.IncludeHeaders == nil {
		s.IncludeHeaders = []string{}
	}
	if err := s.Validate(); err != nil {
		return err
	}
	if s.WorkspaceWebhookURL != "" && s.WorkspaceWebhookSecret == "" {
		s.WorkspaceWebhookSecret = newWebhookSecret()
	}
	if err := e.applyStartAtLogin(s.StartAtLogin); err != nil {
		return err
	}
	if err := settings.Save(ctx, e.db, s, e.resources); err != nil {
		return err
	}
	e.settings.Store(&s)
	e.queue.SetMaxQueued(s.MaxQueued)
	e.limiter.SetRate(s.RateLimitPerSecond, s.RateLimitBurst)
	e.warm.SetLimits(s.WarmWorkers, time.Duration(s.WarmIdleTimeoutS)*time.Second)
	e.sched.SetPaused(s.SchedulesPaused)
	return nil
}

func newWebhookSecret() string { return "whsec_" + auth.NewSecret() }

// startEntry is what this millrun writes to start at login.
func (e *Engine) startEntry() autostart.Entry {
	dir := e.cfg.DataDir
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return autostart.Entry{Command: e.cfg.StartCommand, Service: e.cfg.StartService, DataDir: dir}
}

// applyStartAtLogin writes or removes the autostart entry. An entry that
// is there but not this millrun's (written by `serve`, an older install,
// for a binary since removed) is rewritten: the entry is millrun's to
// own, and the program that saves the setting is the one that starts.
func (e *Engine) applyStartAtLogin(want bool) error {
	if e.cfg.StartCommand == nil {
		// Not this millrun's to manage (tests, embedders): an entry another
		// millrun wrote is left alone.
		if want {
			return fmt.Errorf("start_at_login is not available for this millrun (run the installed app or 'millrun serve')")
		}
		return nil
	}
	on, err := autostart.Enabled()
	if err != nil {
		return fmt.Errorf("start_at_login: %w", err)
	}
	if !want {
		if on {
			return autostart.Disable()
		}
		return nil
	}
	if on && autostart.Matches(e.startEntry()) {
		return nil
	}
	if err := autostart.Enable(e.startEntry()); err != nil {
		return fmt.Errorf("start_at_login: %w", err)
	}
	return nil
}

// ClaimStartAtLogin rewrites a start-at-login entry that is there but
// does not start this millrun (the desktop app calls it when its engine
// starts: an entry that runs `serve`, or a binary since removed, would
// keep the app from opening at the next login). It reports whether it did.
func (e *Engine) ClaimStartAtLogin() (bool, error) {
	if e.cfg.StartCommand == nil {
		return false, nil
	}
	if on, err := autostart.Enabled(); err != nil || !on || autostart.Matches(e.startEntry()) {
		return false, err
	}
	if err := autostart.Enable(e.startEntry()); err != nil {
		return false, fmt.Errorf("rewrite the start-at-login entry: %w", err)
	}
	return true, nil
}

// DropStartAtLogin removes the start-at-login entry when it is this
// millrun's: its program was removed (the package uninstalled), and an
// entry left behind would start nothing, or an older copy, at login.
func (e *Engine) DropStartAtLogin() error {
	if e.cfg.StartCommand == nil || !autostart.Matches(e.startEntry()) {
		return nil
	}
	return autostart.Disable()
}
