package settings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/millrun/millrun/engine/resources"
	"github.com/millrun/millrun/engine/store"
)

func openDB(t *testing.T) (*store.DB, *resources.Store) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, err := resources.Open(db, dir)
	if err != nil {
		t.Fatal(err)
	}
	return db, sealer
}

// The defaults are valid and carry the headers main read from the
// environment; each bad value is refused naming its setting.
func TestDefaultsAndValidation(t *testing.T) {
	t.Parallel()
	d := Defaults([]string{"X-Request-Id"})
	if err := d.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if len(d.IncludeHeaders) != 1 || d.IncludeHeaders[0] != "X-Request-Id" || d.Workers < 8 {
		t.Fatalf("defaults: %+v", d)
	}
	for want, edit := range map[string]func(*Settings){
		"workers must be between 1 and 256":              func(s *Settings) { s.Workers = 0 },
		"sync_timeout_s must be at least 1":              func(s *Settings) { s.SyncTimeoutS = 0 },
		"notifications must be":                          func(s *Settings) { s.Notifications = "loud" },
		"workspace_webhook_url must be an http(s) URL":   func(s *Settings) { s.WorkspaceWebhookURL = "ftp://x" },
		"tunnel_allow_cidrs":                             func(s *Settings) { s.TunnelAllowCIDRs = []string{"nope"} },
		"interpreter_paths: \"cobol\" is not a language": func(s *Settings) { s.InterpreterPaths = map[string]string{"cobol": "/bin/true"} },
	} {
		s := Defaults(nil)
		edit(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q, got %v", want, err)
		}
	}
}

// Stored settings are read over the defaults: a data folder from an older
// millrun keeps the defaults of settings it never stored.
func TestLoadOverDefaults(t *testing.T) {
	t.Parallel()
	db, sealer := openDB(t)
	ctx := context.Background()
	if err := db.PutSettings(ctx, map[string]string{storeKey: `{"workers": 3, "a_setting_from_the_future": 1}`}); err != nil {
		t.Fatal(err)
	}
	s, err := Load(ctx, db, Defaults(nil), sealer)
	if err != nil {
		t.Fatal(err)
	}
	if s.Workers != 3 || s.SyncTimeoutS != Defaults(nil).SyncTimeoutS {
		t.Fatalf("loaded %+v", s)
	}
	s.RetentionDays = 7
	if err := Save(ctx, db, *s, sealer); err != nil {
		t.Fatal(err)
	}
	again, _ := Load(ctx, db, Defaults(nil), sealer)
	if again.RetentionDays != 7 || again.Workers != 3 {
		t.Fatalf("after save: %+v", again)
	}
	if err := db.PutSettings(ctx, map[string]string{storeKey: `{"workers": "many"}`}); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, db, Defaults(nil), sealer); err == nil || !strings.Contains(err.Error(), "stored settings are unreadable") {
		t.Fatalf("unreadable settings: %v", err)
	}
}

// The workspace webhook secret is stored sealed, apart from the settings
// stored as shown; one stored in clear is sealed by the next Load; one
// another key sealed is reported, the rest of the settings kept.
func TestWebhookSecretStoredSealed(t *testing.T) {
	t.Parallel()
	db, sealer := openDB(t)
	ctx := context.Background()
	s := Defaults(nil)
	s.WorkspaceWebhookURL, s.WorkspaceWebhookSecret = "https://example.com/hook", "whsec_SEALED-AT-REST"
	if err := Save(ctx, db, s, sealer); err != nil {
		t.Fatal(err)
	}
	stored, _ := db.Settings(ctx)
	if strings.Contains(fmt.Sprint(stored), "SEALED-AT-REST") || stored[secretKey] == `""` {
		t.Fatalf("stored: %v", stored)
	}
	got, err := Load(ctx, db, Defaults(nil), sealer)
	if err != nil || got.WorkspaceWebhookSecret != s.WorkspaceWebhookSecret {
		t.Fatalf("load: %v %v", got, err)
	}

	old, _ := json.Marshal(map[string]any{"workspace_webhook_url": "https://example.com/hook", "workspace_webhook_secret": "whsec_OLD-CLEAR", "workers": 5})
	if err := db.PutSettings(ctx, map[string]string{storeKey: string(old)}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err = Load(ctx, db, Defaults(nil), sealer)
		if err != nil || got.WorkspaceWebhookSecret != "whsec_OLD-CLEAR" || got.Workers != 5 {
			t.Fatalf("load of a clear secret: %+v %v", got, err)
		}
		if stored, _ := db.Settings(ctx); strings.Contains(fmt.Sprint(stored), "OLD-CLEAR") {
			t.Fatalf("still in clear: %v", stored)
		}
	}

	_, otherKey := openDB(t)
	got, err = Load(ctx, db, Defaults(nil), otherKey)
	if !errors.Is(err, ErrSecretUnreadable) || got == nil || got.WorkspaceWebhookSecret != "" || got.Workers != 5 {
		t.Fatalf("another key: %+v %v", got, err)
	}
}
