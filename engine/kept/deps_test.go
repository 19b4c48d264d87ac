package kept

import (
	"context"
	"errors"
	"testing"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/store"
)

func TestDependenciesAreSavedWhereAnExportWritesThem(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	path, err := k.SaveDeps(ctx, "local", "python3", "", "requests\n")
	if err != nil || path != "dependencies/requirements.in" {
		t.Fatalf("default python3 file: %q %v", path, err)
	}
	path, err = k.SaveDeps(ctx, "local", "bun", "web", `{"dependencies":{}}`)
	if err != nil || path != "dependencies/web.package.json" {
		t.Fatalf("named bun file: %q %v", path, err)
	}
	d, err := k.GetDeps(ctx, "local", "python3", "")
	if err != nil || d.Content != "requests\n" || d.Language != "python3" || d.Name != "" || d.UpdatedAt.IsZero() {
		t.Fatalf("get: %+v %v", d, err)
	}
	list, err := k.ListDeps(ctx, "local")
	if err != nil || len(list) != 2 || list[0].Language != "bun" || list[0].Name != "web" || list[1].Language != "python3" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := k.DeleteDeps(ctx, "local", "bun", "web"); err != nil {
		t.Fatal(err)
	}
	var missing *errs.NotFound
	err = k.DeleteDeps(ctx, "local", "bun", "web")
	if !errors.As(err, &missing) || missing.Msg != "workspace dependencies dependencies/web.package.json not found" || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
	if _, err := k.GetDeps(ctx, "local", "go", ""); !errors.As(err, &missing) || missing.Msg != "workspace dependencies dependencies/go.mod not found" {
		t.Fatalf("get of none: %v", err)
	}
}

func TestDependenciesRefuseAnUnknownLanguageOrANameWithSlashes(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	var inv *errs.Invalid
	for _, c := range []struct{ language, name string }{{"cobol", ""}, {"", ""}, {"python3", "a/b"}, {"python3", `a\b`}, {"python3", ".."}} {
		if _, err := k.SaveDeps(ctx, "local", c.language, c.name, "x"); !errors.As(err, &inv) {
			t.Fatalf("%q %q: %v, want an *errs.Invalid", c.language, c.name, err)
		}
	}
	if list, _ := k.ListDeps(ctx, "local"); len(list) != 0 {
		t.Fatalf("a refused file was kept: %+v", list)
	}
}
