package kept

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/store"
)

func TestItemsAreGivenBackAsPut(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k := &Items{DB: db}
	ctx := context.Background()
	if err := k.Put(ctx, "local", "app", "f/ops/board", map[string]any{"value": map[string]any{"grid": []int{1}}}); err != nil {
		t.Fatal(err)
	}
	it, err := k.Get(ctx, "local", "app", "f/ops/board")
	if err != nil || it.Value != `{"value":{"grid":[1]}}` {
		t.Fatalf("get: %+v %v", it, err)
	}
	if list, err := k.List(ctx, "local", "app"); err != nil || len(list) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if list, _ := k.List(ctx, "local", "group"); len(list) != 0 {
		t.Fatalf("another kind: %+v", list)
	}
	if err := k.Prune(ctx, "local", "app", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get(ctx, "local", "app", "f/ops/board"); err != nil {
		t.Fatal("a fresh item was pruned")
	}
	if err := k.Prune(ctx, "local", "app", -time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := k.Delete(ctx, "local", "app", "f/ops/board"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an item older than the age was kept: %v", err)
	}
}
