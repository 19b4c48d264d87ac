package engine

import (
	"context"
	"fmt"
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

// applyStartAtLogin writes or removes the autostart entry when the
// setting differs from what is on disk.
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
	if want == on {
		return nil
	}
	if !want {
		return autostart.Disable()
	}
	if err := autostart.Enable(e.cfg.StartCommand); err != nil {
		return fmt.Errorf("start_at_login: %w", err)
	}
	return nil
}
