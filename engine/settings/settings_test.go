package settings

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/millrun/millrun/engine/store"
)

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
	db, err := store.Open(filepath.Join(t.TempDir(), "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.PutSettings(ctx, map[string]string{storeKey: `{"workers": 3, "a_setting_from_the_future": 1}`}); err != nil {
		t.Fatal(err)
	}
	s, err := Load(ctx, db, Defaults(nil))
	if err != nil {
		t.Fatal(err)
	}
	if s.Workers != 3 || s.SyncTimeoutS != Defaults(nil).SyncTimeoutS {
		t.Fatalf("loaded %+v", s)
	}
	s.RetentionDays = 7
	if err := Save(ctx, db, *s); err != nil {
		t.Fatal(err)
	}
	again, _ := Load(ctx, db, Defaults(nil))
	if again.RetentionDays != 7 || again.Workers != 3 {
		t.Fatalf("after save: %+v", again)
	}
	if err := db.PutSettings(ctx, map[string]string{storeKey: `{"workers": "many"}`}); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, db, Defaults(nil)); err == nil || !strings.Contains(err.Error(), "stored settings are unreadable") {
		t.Fatalf("unreadable settings: %v", err)
	}
}
