package flows

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

func TestExistsAndExtra(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := NewCatalog(db, scripts.NewCatalog(db))
	ctx := context.Background()
	if _, _, err := c.scripts.Save(ctx, "local", scripts.CreateRequest{Path: "u/me/a", Language: "bash", Content: "echo\n"}); err != nil {
		t.Fatal(err)
	}
	hash, _, err := c.Save(ctx, "local", CreateRequest{Path: "f/ops/x",
		Value: json.RawMessage(`{"modules":[{"id":"a","value":{"type":"script","path":"u/me/a","input_transforms":{}}}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetExtra(ctx, "local", hash, `{"timeout":5}`); err != nil {
		t.Fatal(err)
	}
	if f, err := c.Latest(ctx, "local", "f/ops/x"); err != nil || f.Extra != `{"timeout":5}` {
		t.Fatalf("extra: %+v %v", f, err)
	}
	if err := c.Archive(ctx, "local", "f/ops/x", true); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Exists(ctx, "local", "f/ops/x"); !ok || err != nil {
		t.Fatalf("an archived flow exists: %v %v", ok, err)
	}
	if ok, err := c.Exists(ctx, "local", "f/ops/y"); ok || err != nil {
		t.Fatalf("no flow: %v %v", ok, err)
	}
}
