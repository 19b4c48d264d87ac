package scripts

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/millrun/millrun/engine/store"
)

func setupCatalog(t *testing.T) *Catalog {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return NewCatalog(db)
}

// The UI's "Save anyway" sends a schema of its own: a main whose
// parameters cannot be read is then saved with that schema, as Windmill
// (which never reads main on the server) saves it; without one the
// caller learns why.
func TestSaveUnreadableMain(t *testing.T) {
	t.Parallel()
	c := setupCatalog(t)
	ctx := context.Background()
	req := CreateRequest{Path: "u/me/broken", Language: "python3", Content: "def main(a, b\n    return a\n"}
	if _, _, err := c.Save(ctx, "local", req); err == nil || !strings.Contains(err.Error(), "main's parameters") {
		t.Fatalf("without a schema: got %v, want main's parameters error", err)
	}
	req.Schema = json.RawMessage(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{},"required":[]}`)
	hash, created, err := c.Save(ctx, "local", req)
	if err != nil || !created {
		t.Fatalf("with a schema: %v (created %v)", err, created)
	}
	v, err := c.ByHash(ctx, "local", hash)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Parsed.Properties) != 0 || v.NoMainFunc {
		t.Fatalf("saved schema %+v, library %v: want no arguments, runnable", v.Parsed, v.NoMainFunc)
	}
}
