package resources

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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
	if err != nil || v["secret"] != secret || typ != "signature_auth" {
		t.Fatalf("Value: %v %s %v", v, typ, err)
	}
	r, err := s.Get(ctx, "local", "u/me/slack")
	if err != nil || r.Value["secret"] != "••••85a5" || r.Value["provider"] != "slack" {
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
