// Package settings holds the user-adjustable settings: their defaults,
// their validation and their storage. The engine applies them.
package settings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	goruntime "runtime"
	"slices"
	"strings"

	"github.com/millrun/millrun/engine/alerts"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/tunnel"
)

// Settings are the user-adjustable settings, stored in the database.
type Settings struct {
	SyncTimeoutS     int      `json:"sync_timeout_s"`
	Workers          int      `json:"workers"`
	IncludeHeaders   []string `json:"include_headers"`
	RetentionDays    int      `json:"retention_days"`
	RetentionMaxJobs int      `json:"retention_max_jobs"`
	MaxBodyBytes     int64    `json:"max_body_bytes"`
	MaxQueued        int      `json:"max_queued"`
	DefaultTimeoutS  int      `json:"default_timeout_s"`
	LogLimitBytes    int      `json:"log_limit_bytes"`
	// MaxResultBytes caps a script's result: a bigger one fails the job
	// with a message naming the limit instead of filling millrun's memory.
	MaxResultBytes int64 `json:"max_result_bytes"`
	// Per caller token, on the webhook routes.
	RateLimitPerSecond float64 `json:"rate_limit_per_second"`
	RateLimitBurst     int     `json:"rate_limit_burst"`
	// WorkspaceWebhookURL receives a signed POST on every workspace change.
	WorkspaceWebhookURL    string `json:"workspace_webhook_url"`
	WorkspaceWebhookSecret string `json:"workspace_webhook_secret"`
	// The tunnel's reserved domain (empty: a random one) and whether it
	// starts with millrun. The authtoken is not a setting: see tunnel.go.
	TunnelDomain    string `json:"tunnel_domain"`
	TunnelAutostart bool   `json:"tunnel_autostart"`
	// TunnelAllowCIDRs limit who may reach the tunnel, at ngrok's edge.
	TunnelAllowCIDRs []string `json:"tunnel_allow_cidrs"`
	// Warm workers (scripts with dedicated_worker): processes per script
	// version, and how long an idle one is kept.
	WarmWorkers      int `json:"warm_workers_per_script"`
	WarmIdleTimeoutS int `json:"warm_idle_timeout_s"`
	// StartAtLogin is whether the platform's autostart entry starts millrun
	// (the engine, no window) at login. The entry itself is the truth: this
	// is read from it and written to it, never only stored.
	StartAtLogin bool `json:"start_at_login"`
	// SchedulesPaused holds every schedule (the status icon's Pause
	// schedules): due times pass without a run until it is cleared.
	SchedulesPaused bool `json:"schedules_paused"`
	// Notifications: "off", "failures" (a failed run, the tunnel going
	// offline) or "all" (every run as well).
	Notifications string `json:"notifications" tstype:"\"off\" | \"failures\" | \"all\""`
	// InterpreterPaths are the interpreters the user chose, by language
	// (python, node, bun, deno, bash); a missing one is found on PATH.
	// They apply at the next start.
	InterpreterPaths map[string]string `json:"interpreter_paths" tstype:"{ [key: string]: string } | null"`
}

// defaultWorkers sizes the pool for webhooks, whose scripts mostly wait
// on the network: four per CPU, at least 8, so eight callers at once are
// not queued behind two workers. Job processes run at a lower priority
// (see runtime), so a flood of CPU-heavy jobs cannot starve the UI and the
// API however many run.
func defaultWorkers() int { return min(64, max(8, 4*goruntime.NumCPU())) }

// Defaults are what a fresh data directory starts with; includeHeaders
// are the headers jobs get by default (Windmill's INCLUDE_HEADERS, read by
// main).
func Defaults(includeHeaders []string) Settings {
	s := Settings{
		SyncTimeoutS:     600,
		Workers:          defaultWorkers(),
		Notifications:    alerts.Failures,
		IncludeHeaders:   []string{},
		RetentionDays:    30,
		RetentionMaxJobs: 100000,
		MaxBodyBytes:     10 << 20,
		MaxQueued:        10000,
		DefaultTimeoutS:  15 * 60,
		LogLimitBytes:    2 << 20,
		MaxResultBytes:   10 << 20,
		// Generous: a person's webhooks, not a public API; it stops a runaway
		// caller before it fills the disk with jobs.
		RateLimitPerSecond: 50,
		RateLimitBurst:     200,
		WarmWorkers:        1,
		WarmIdleTimeoutS:   600,
	}
	s.IncludeHeaders = append(s.IncludeHeaders, includeHeaders...)
	return s
}

// Validate says what is wrong with s, naming the setting.
func (s Settings) Validate() error {
	switch {
	case s.SyncTimeoutS < 1:
		return fmt.Errorf("sync_timeout_s must be at least 1")
	case s.Workers < 1 || s.Workers > 256:
		return fmt.Errorf("workers must be between 1 and 256")
	case s.RetentionDays < 1:
		return fmt.Errorf("retention_days must be at least 1")
	case s.RetentionMaxJobs < 100:
		return fmt.Errorf("retention_max_jobs must be at least 100")
	case s.MaxBodyBytes < 1024:
		return fmt.Errorf("max_body_bytes must be at least 1024")
	case s.MaxQueued < 1:
		return fmt.Errorf("max_queued must be at least 1")
	case s.DefaultTimeoutS < 1:
		return fmt.Errorf("default_timeout_s must be at least 1")
	case s.LogLimitBytes < 1024:
		return fmt.Errorf("log_limit_bytes must be at least 1024")
	case s.MaxResultBytes < 1024:
		return fmt.Errorf("max_result_bytes must be at least 1024")
	case s.Notifications != alerts.Off && s.Notifications != alerts.Failures && s.Notifications != alerts.All:
		return fmt.Errorf("notifications must be %q, %q or %q", alerts.Off, alerts.Failures, alerts.All)
	case s.WarmWorkers < 1 || s.WarmWorkers > 32:
		return fmt.Errorf("warm_workers_per_script must be between 1 and 32")
	case s.WarmIdleTimeoutS < 1:
		return fmt.Errorf("warm_idle_timeout_s must be at least 1")
	case s.RateLimitPerSecond < 0 || s.RateLimitBurst < 1:
		return fmt.Errorf("rate_limit_per_second must be 0 (off) or more, rate_limit_burst at least 1")
	}
	for lang, p := range s.InterpreterPaths {
		if !slices.Contains(runtime.Choosable, lang) {
			return fmt.Errorf("interpreter_paths: %q is not a language millrun runs (%s)", lang, strings.Join(runtime.Choosable, ", "))
		}
		if msg := runtime.CheckChoice(lang, p); msg != "" {
			return fmt.Errorf("interpreter_paths: %s", msg)
		}
	}
	if _, err := tunnel.NormalizeCIDRs(s.TunnelAllowCIDRs); err != nil {
		return fmt.Errorf("tunnel_allow_cidrs: %w", err)
	}
	if s.WorkspaceWebhookURL != "" {
		u, err := url.Parse(s.WorkspaceWebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("workspace_webhook_url must be an http(s) URL")
		}
	}
	return nil
}

const (
	storeKey = "engine"
	// secretKey holds the workspace webhook secret, sealed, apart from the
	// other settings, which are stored as they are shown.
	secretKey = "workspace_webhook_secret"
)

// Sealer seals the settings that are secrets with the data folder's key,
// as resources and variables are sealed (engine/resources implements it).
type Sealer interface {
	SealSetting(name, plain string) (string, error)
	OpenSetting(name, sealed string) (string, error)
}

// ErrSecretUnreadable says the stored workspace webhook secret does not
// open with this data folder's key (the key file was replaced, or the
// database copied without it). Load returns it with the settings, the
// secret left empty.
var ErrSecretUnreadable = errors.New("the stored workspace webhook secret cannot be opened with this data folder's key")

// Load reads the stored settings over defaults. A workspace webhook secret
// an older millrun stored in clear is sealed here, once: every start goes
// through Load, so no data folder keeps it in clear past an upgrade.
func Load(ctx context.Context, db *store.DB, defaults Settings, sealer Sealer) (*Settings, error) {
	s := defaults
	stored, err := db.Settings(ctx)
	if err != nil {
		return nil, err
	}
	if v, ok := stored[storeKey]; ok {
		// Unknown or missing keys keep their defaults, so older data
		// directories pick up new settings.
		if err := json.Unmarshal([]byte(v), &s); err != nil {
			return nil, fmt.Errorf("stored settings are unreadable: %w", err)
		}
	}
	if s.WorkspaceWebhookSecret != "" {
		if err := Save(ctx, db, s, sealer); err != nil {
			return nil, fmt.Errorf("seal the workspace webhook secret: %w", err)
		}
		return &s, nil
	}
	var sealed string
	if v, ok := stored[secretKey]; ok {
		if err := json.Unmarshal([]byte(v), &sealed); err != nil {
			return nil, fmt.Errorf("stored settings are unreadable: %s: %w", secretKey, err)
		}
	}
	if sealed != "" {
		plain, err := sealer.OpenSetting(secretKey, sealed)
		if err != nil {
			return &s, fmt.Errorf("%w: %w", ErrSecretUnreadable, err)
		}
		s.WorkspaceWebhookSecret = plain
	}
	return &s, nil
}

// Open is Load as millrun starts. A stored workspace webhook secret this
// data folder's key cannot open is not worth refusing to start over: the
// receiver is given a new secret to check, and the user copies it from
// the settings.
func Open(ctx context.Context, db *store.DB, defaults Settings, sealer Sealer, log *slog.Logger) (*Settings, error) {
	s, err := Load(ctx, db, defaults, sealer)
	if !errors.Is(err, ErrSecretUnreadable) || s == nil {
		return s, err
	}
	log.Warn("workspace webhook: a new signing secret replaces one this data folder's key cannot open; copy it to the receiver from the settings", "err", err)
	if s.WorkspaceWebhookURL == "" {
		return s, nil
	}
	s.WorkspaceWebhookSecret = NewWebhookSecret()
	return s, Save(ctx, db, *s, sealer)
}

// NewWebhookSecret is a new workspace webhook signing secret.
func NewWebhookSecret() string { return "whsec_" + auth.NewSecret() }

// Save stores s, its workspace webhook secret sealed.
func Save(ctx context.Context, db *store.DB, s Settings, sealer Sealer) error {
	sealed := ""
	if s.WorkspaceWebhookSecret != "" {
		var err error
		if sealed, err = sealer.SealSetting(secretKey, s.WorkspaceWebhookSecret); err != nil {
			return err
		}
	}
	s.WorkspaceWebhookSecret = ""
	b, _ := json.Marshal(s)
	sb, _ := json.Marshal(sealed)
	return db.PutSettings(ctx, map[string]string{storeKey: string(b), secretKey: string(sb)})
}
