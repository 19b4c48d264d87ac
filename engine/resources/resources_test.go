package resources

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/millrun/millrun/engine/store"
)

func open(t *testing.T, dir string) (*Store, *store.DB) {
	t.Helper()
	db, err := store.Open(filepath.Join(dir, "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := Open(db, dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}

// A signing secret is readable by millrun, masked for the UI, and absent
// in clear from the database file.
func TestSecretsAreSealedAndMasked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, db := open(t, dir)
	ctx := context.Background()
	secret := "8f742231b10e8888abcd99yyyzzz85a5"
	if err := s.Put(ctx, "local", "u/me/slack", "signature_auth", "", map[string]any{"provider": "slack", "secret": secret}, true); err != nil {
		t.Fatal(err)
	}
	v, typ, err := s.Value(ctx, "local", "u/me/slack")
	if err != nil || v.(map[string]any)["secret"] != secret || typ != "signature_auth" {
		t.Fatalf("Value: %v %s %v", v, typ, err)
	}
	r, err := s.Get(ctx, "local", "u/me/slack")
	if masked, _ := r.Value.(map[string]any); err != nil || masked["secret"] != "••••85a5" || masked["provider"] != "slack" {
		t.Fatalf("Get: %+v %v", r, err)
	}
	if err := s.Put(ctx, "local", "u/me/slack", "signature_auth", "", nil, true); err != store.ErrDuplicate {
		t.Fatalf("second create: %v", err)
	}
	db.Close()
	for _, f := range []string{"millrun.db", "millrun.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte("85a5\"")) {
			t.Fatalf("the secret is in %s in clear", f)
		}
	}
	st, _ := os.Stat(filepath.Join(dir, KeyFile))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode().Perm())
	}
}

// A value moved to another path by hand does not open.
func TestSealedValueIsBoundToItsPath(t *testing.T) {
	t.Parallel()
	s, db := open(t, t.TempDir())
	ctx := context.Background()
	if err := s.Put(ctx, "local", "u/me/a", "x", "", map[string]any{"token": "abcdefghijkl"}, true); err != nil {
		t.Fatal(err)
	}
	r, _ := db.GetResource(ctx, "local", "u/me/a")
	r.Path = "u/me/b"
	if err := db.PutResource(ctx, *r, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Value(ctx, "local", "u/me/b"); err == nil {
		t.Fatal("a sealed value opened under another path")
	}
}

func TestBadPathsRefused(t *testing.T) {
	t.Parallel()
	s, _ := open(t, t.TempDir())
	for _, p := range []string{"", "slack", "/u/me/x", "u/me/", "x/me/y", "u/me/../y"} {
		if err := s.Put(context.Background(), "local", p, "x", "", nil, true); err == nil {
			t.Errorf("path %q accepted", p)
		}
	}
}

// "$var:" and "$res:" references are read through, inside lists too; a
// missing one and a resource that names itself are errors saying which.
func TestInterpolate(t *testing.T) {
	t.Parallel()
	s, _ := open(t, t.TempDir())
	ctx := context.Background()
	if err := s.PutVariable(ctx, "local", "u/me/pw", "hunter2", true, "", true); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "local", "u/me/inner", "x", "", map[string]any{"password": "$var:u/me/pw"}, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "local", "u/me/loop", "x", "", map[string]any{"again": "$res:u/me/loop"}, true); err != nil {
		t.Fatal(err)
	}
	value, err := s.Interpolate(ctx, "local", map[string]any{"a": "$var:u/me/pw", "list": []any{"$var:u/me/pw", "plain", 3.0},
		"nested": map[string]any{"r": "$res:u/me/inner"}, "n": 1.0})
	if err != nil {
		t.Fatal(err)
	}
	got := value.(map[string]any)
	if got["a"] != "hunter2" || got["list"].([]any)[0] != "hunter2" || got["list"].([]any)[1] != "plain" ||
		got["nested"].(map[string]any)["r"].(map[string]any)["password"] != "hunter2" || got["n"] != 1.0 {
		t.Fatalf("interpolated: %v", got)
	}
	for want, v := range map[string]map[string]any{
		"field secret names variable u/me/gone, which does not exist": {"secret": "$var:u/me/gone"},
		"field x[1] names resource u/me/gone, which does not exist":   {"x": []any{"", "$res:u/me/gone"}},
		"more than 8 deep": {"r": "$res:u/me/loop"},
	} {
		if _, err := s.Interpolate(ctx, "local", v); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: %v (want %q)", v, err, want)
		}
	}
}

// Exported, secret fields are sealed (references and the rest stay
// readable), the same value seals the same way twice, and Put opens what
// this key sealed; another key's sealed text is refused naming the field.
func TestExportValueRoundTrip(t *testing.T) {
	t.Parallel()
	s, _ := open(t, t.TempDir())
	ctx := context.Background()
	v := map[string]any{"provider": "standard", "header": "X-Sig", "secret": "s3cr3t-value", "secrets": []any{"whsec_a", "whsec_b"},
		"password": "$var:u/me/pw", "nested": map[string]any{"api_key": "k-nested"}, "public_key": "abcd"}
	out := s.ExportValue("local", v).(map[string]any)
	b, _ := json.Marshal(out)
	for _, clear := range []string{"s3cr3t-value", "whsec_a", "whsec_b", "k-nested"} {
		if strings.Contains(string(b), clear) {
			t.Fatalf("%s in clear in %s", clear, b)
		}
	}
	if out["password"] != "$var:u/me/pw" || out["header"] != "X-Sig" || out["public_key"] != "abcd" || out["provider"] != "standard" {
		t.Fatalf("non-secret fields changed: %s", b)
	}
	if again, _ := json.Marshal(s.ExportValue("local", v)); string(again) != string(b) {
		t.Fatal("the same value sealed differently")
	}
	if err := s.Put(ctx, "local", "u/me/back", "x", "", out, true); err != nil {
		t.Fatal(err)
	}
	back, _, _ := s.Value(ctx, "local", "u/me/back")
	if fmt.Sprint(back) != fmt.Sprint(v) {
		t.Fatalf("round trip: %v, want %v", back, v)
	}
	other, _ := open(t, t.TempDir())
	err := other.Put(ctx, "local", "u/me/foreign", "x", "", out, true)
	if err == nil || !strings.Contains(err.Error(), "resource u/me/foreign, field ") || !strings.Contains(err.Error(), "enter the secret again") {
		t.Fatalf("another key's export: %v", err)
	}
}

// Secret fields of objects inside lists (a list of replicas, each with
// its password) are masked and sealed like top-level ones; a reference
// to a variable is shown as it is, holding no secret.
func TestSecretsInListsAreMaskedAndSealed(t *testing.T) {
	t.Parallel()
	s, _ := open(t, t.TempDir())
	v := map[string]any{"replicas": []any{map[string]any{"host": "db1", "password": "pw-replica-one-123"},
		map[string]any{"host": "db2", "auth": map[string]any{"token": "tok-replica-two-456"}}},
		"api_key": "$var:u/me/key"}
	masked, _ := json.Marshal(Mask(v))
	sealed, _ := json.Marshal(s.ExportValue("local", v))
	for _, out := range []string{string(masked), string(sealed)} {
		for _, clear := range []string{"pw-replica-one-123", "tok-replica-two-456"} {
			if strings.Contains(out, clear) {
				t.Errorf("%s in clear in %s", clear, out)
			}
		}
		if !strings.Contains(out, `"host":"db1"`) || !strings.Contains(out, `"api_key":"$var:u/me/key"`) {
			t.Errorf("fields that hold no secret changed: %s", out)
		}
	}
}
