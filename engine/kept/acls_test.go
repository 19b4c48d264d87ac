package kept

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"testing"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/store"
)

func newItems(t *testing.T) *Items {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &Items{DB: db}
}

func TestGrantMergesIntoTheItemsPermissions(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	if perms := k.ACL(ctx, "local", "app", "f/ops/board"); perms == nil || len(perms) != 0 {
		t.Fatalf("an item never granted on: %v, want an empty map", perms)
	}
	for _, owner := range []string{"u/ann", "g/ops"} {
		if err := k.Grant(ctx, "local", "app", "f/ops/board", owner, owner == "g/ops", true); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Grant(ctx, "local", "app", "f/ops/board", "u/ann", true, true); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"u/ann": true, "g/ops": true}
	if perms := k.ACL(ctx, "local", "app", "f/ops/board"); !maps.Equal(perms, want) {
		t.Fatalf("after three grants: %v, want %v", perms, want)
	}
	if err := k.Grant(ctx, "local", "app", "f/ops/board", "g/ops", false, false); err != nil {
		t.Fatal(err)
	}
	if perms := k.ACL(ctx, "local", "app", "f/ops/board"); !maps.Equal(perms, map[string]bool{"u/ann": true}) {
		t.Fatalf("after removing g/ops: %v", perms)
	}
	if perms := k.ACL(ctx, "local", "script", "f/ops/board"); len(perms) != 0 {
		t.Fatalf("a script at the app's path shares its grants: %v", perms)
	}
}

func TestGrantRefusesAnOwnerWindmillWouldNotName(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	var inv *errs.Invalid
	for _, owner := range []string{"ann", "", "x/ann"} {
		if err := k.Grant(ctx, "local", "flow", "f/a/b", owner, true, true); !errors.As(err, &inv) {
			t.Fatalf("owner %q: %v, want an *errs.Invalid", owner, err)
		}
	}
	if _, err := k.Get(ctx, "local", ACL, "flow/f/a/b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused grant was kept: %v", err)
	}
}
