package folders

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/flows"
	"github.com/millrun/millrun/engine/kept"
	"github.com/millrun/millrun/engine/resources"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

func newService(t *testing.T, items ...string) *Service {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &Service{DB: db, ItemPaths: func(context.Context, string) []string { return items }}
}

func ptr[T any](v T) *T { return &v }

func TestCreateAndUpdateKeepWindmillsFields(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	f, err := s.Create(ctx, "local", Input{Name: "ops", Owners: json.RawMessage(`["u/me"]`), ExtraPerms: json.RawMessage(`{"g/all":false}`)})
	if err != nil {
		t.Fatal(err)
	}
	if f.DisplayName != "ops" || f.Owners != `["u/me"]` || f.ExtraPerms != `{"g/all":false}` {
		t.Fatalf("created: %+v", f)
	}
	// An update names what it changes; the rest, and the name, stay.
	if _, err := s.Update(ctx, "local", "ops", Input{Name: "other", Summary: ptr("deploys")}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "local", "ops")
	if err != nil || *got.Summary != "deploys" || got.Owners != `["u/me"]` || got.DisplayName != "ops" {
		t.Fatalf("updated: %+v %v", got, err)
	}
	if !s.Exists(ctx, "local", "ops") || s.Exists(ctx, "local", "other") {
		t.Fatal("exists")
	}
	if list, err := s.List(ctx, "local"); err != nil || len(list) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
}

func TestRefusals(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	if _, err := s.Create(ctx, "local", Input{Name: "ops"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in   Input
		want string
	}{
		{Input{Name: "a/b"}, `folder name "a/b": use letters`},
		{Input{Name: "x", Owners: json.RawMessage(`"me"`)}, "owners should be a list of names"},
		{Input{Name: "x", ExtraPerms: json.RawMessage(`[]`)}, "extra_perms should be an object"},
		{Input{Name: "ops"}, "Folder ops already exists"},
	} {
		_, err := s.Create(ctx, "local", c.in)
		var inv *errs.Invalid
		if !errors.As(err, &inv) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an input error %q", c.in, err, c.want)
		}
	}
	for _, err := range []error{
		func() error { _, err := s.Get(ctx, "local", "nope"); return err }(),
		func() error { _, err := s.Update(ctx, "local", "nope", Input{}); return err }(),
		func() error { _, err := s.Delete(ctx, "local", "nope"); return err }(),
	} {
		var nf *errs.NotFound
		if !errors.As(err, &nf) || err.Error() != "folder nope" || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%v, want not found: folder nope", err)
		}
	}
}

// A folder whose items exist but whose metadata was never stored deletes
// without an error, so a wmill push that removes its folder.meta goes on.
func TestDeletingAFolderOnlyItsItemsName(t *testing.T) {
	s := newService(t, "u/me/x", "f/ops/deploy")
	ctx := context.Background()
	if stored, err := s.Delete(ctx, "local", "ops"); err != nil || stored {
		t.Fatalf("a folder in use, never stored: %v %v", stored, err)
	}
	if _, err := s.Delete(ctx, "local", "op"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("f/op/ is not f/ops/: %v", err)
	}
	if _, err := s.Create(ctx, "local", Input{Name: "ops"}); err != nil {
		t.Fatal(err)
	}
	if stored, err := s.Delete(ctx, "local", "ops"); err != nil || !stored {
		t.Fatalf("a stored folder: %v %v", stored, err)
	}
}

// New finds a folder's items wherever they are kept: scripts, flows,
// resources, variables and apps.
func TestNewFindsItemsInEveryStore(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := resources.Open(db, dir)
	if err != nil {
		t.Fatal(err)
	}
	sc := scripts.NewCatalog(db)
	items := &kept.Items{DB: db}
	s := New(db, sc, flows.NewCatalog(db, sc), res, items)
	ctx := context.Background()
	if _, _, err := sc.Save(ctx, "local", scripts.CreateRequest{Path: "f/ops/deploy", Language: "bash", Content: "echo\n"}); err != nil {
		t.Fatal(err)
	}
	if err := items.Put(ctx, "local", kept.App, "f/board/main", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	for name, inUse := range map[string]bool{"ops": true, "board": true, "empty": false} {
		stored, err := s.Delete(ctx, "local", name)
		if inUse && (err != nil || stored) || !inUse && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v %v", name, stored, err)
		}
	}
}
