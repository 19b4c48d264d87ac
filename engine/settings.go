package engine

import (
	"context"
	"time"

	"github.com/millrun/millrun/engine/settings"
)

// Settings returns the current settings.
func (e *Engine) Settings() settings.Settings {
	s := *e.settings.Load()
	s.StartAtLogin = e.startAtLogin.On()
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
		s.WorkspaceWebhookSecret = settings.NewWebhookSecret()
	}
	if err := e.startAtLogin.Apply(s.StartAtLogin); err != nil {
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

// ClaimStartAtLogin rewrites a start-at-login entry that is there but
// does not start this millrun; it reports whether it did.
func (e *Engine) ClaimStartAtLogin() (bool, error) { return e.startAtLogin.Claim() }

// DropStartAtLogin removes the start-at-login entry when it is this
// millrun's (its program was removed).
func (e *Engine) DropStartAtLogin() error { return e.startAtLogin.Drop() }
