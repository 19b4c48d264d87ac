package kept

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"testing"

	"github.com/millrun/millrun/engine/errs"
)

func TestResourceTypesKeepTheirSchemaNotTheServersFields(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	name, err := k.CreateResourceType(ctx, "local", doc(t, `{"name":"pg","schema":{"type":"object"},"workspace_id":"x","created_by":"y","edited_at":"z"}`))
	if err != nil || name != "pg" {
		t.Fatalf("create: %q %v", name, err)
	}
	if it, _ := k.Get(ctx, "local", ResourceType, "pg"); it.Value != `{"schema":{"type":"object"}}` {
		t.Fatalf("kept as %s", it.Value)
	}
	var inv *errs.Invalid
	if _, err := k.CreateResourceType(ctx, "local", doc(t, `{"name":"pg"}`)); !errors.As(err, &inv) || inv.Msg != "resource type pg already exists" {
		t.Fatalf("twice: %v", err)
	}
	for _, body := range []string{`{}`, `{"name":"a-b"}`, `{"name":"a/b"}`, `{"name":1}`} {
		if _, err := k.CreateResourceType(ctx, "local", doc(t, body)); !errors.As(err, &inv) {
			t.Fatalf("%s: %v, want an *errs.Invalid", body, err)
		}
	}
	if err := k.UpdateResourceType(ctx, "local", "pg", doc(t, `{"description":"Postgres","name":"other"}`)); err != nil {
		t.Fatal(err)
	}
	pg, err := k.ResourceTypeNamed(ctx, "local", "pg")
	if b, _ := json.Marshal(pg.Doc); err != nil || string(b) != `{"description":"Postgres","schema":{"type":"object"}}` || pg.UpdatedAt.IsZero() {
		t.Fatalf("after update: %s %v", b, err)
	}
	if types, err := k.ResourceTypes(ctx, "local"); err != nil || len(types) != 1 || types[0].Name != "pg" {
		t.Fatalf("list: %+v %v", types, err)
	}
}

func TestAMissingResourceTypeIsNotFound(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	var missing *errs.NotFound
	if _, err := k.ResourceTypeNamed(ctx, "local", "pg"); !errors.As(err, &missing) || missing.Msg != "resource type pg not found" {
		t.Fatalf("get: %v", err)
	}
	if err := k.UpdateResourceType(ctx, "local", "pg", Doc{}); !errors.As(err, &missing) {
		t.Fatalf("update: %v", err)
	}
	if err := k.DeleteResourceType(ctx, "local", "pg"); !errors.As(err, &missing) {
		t.Fatalf("delete: %v", err)
	}
	if ok, err := k.ResourceTypeExists(ctx, "local", "pg"); ok || err != nil {
		t.Fatalf("exists: %v %v", ok, err)
	}
}

func TestFileResourceTypesAreThoseWithAnExtensionOrAFileset(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	for _, body := range []string{`{"name":"pg"}`, `{"name":"json_file","format_extension":"json"}`, `{"name":"site","is_fileset":true}`, `{"name":"blank","format_extension":""}`} {
		if _, err := k.CreateResourceType(ctx, "local", doc(t, body)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := k.FileResourceTypes(ctx, "local")
	want := map[string]FileFormat{"json_file": {Extension: "json"}, "site": {Fileset: true}}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("%v %v, want %v", got, err, want)
	}
}
