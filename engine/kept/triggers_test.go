package kept

import (
	"context"
	"errors"
	"testing"

	"github.com/millrun/millrun/engine/errs"
)

func TestATriggerIsSavedWholeWithoutTheServersFields(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	path, err := k.CreateTrigger(ctx, "local", "kafka", doc(t, `{"path":"f/ops/orders","topics":["a"],"script_path":"f/ops/s","edited_by":"x","email":"y","error":"z"}`))
	if err != nil || path != "f/ops/orders" {
		t.Fatalf("create: %q %v", path, err)
	}
	if it, _ := k.Get(ctx, "local", "trigger:kafka", path); it.Value != `{"script_path":"f/ops/s","topics":["a"]}` {
		t.Fatalf("kept as %s", it.Value)
	}
	var inv *errs.Invalid
	if _, err := k.CreateTrigger(ctx, "local", "kafka", doc(t, `{"path":"f/ops/orders"}`)); !errors.As(err, &inv) || inv.Msg != "kafka trigger f/ops/orders already exists" {
		t.Fatalf("twice: %v", err)
	}
	if _, err := k.CreateTrigger(ctx, "local", "nats", doc(t, `{"path":"f/ops/orders"}`)); err != nil {
		t.Fatalf("another kind at the same path: %v", err)
	}
	if err := k.UpdateTrigger(ctx, "local", "kafka", path, doc(t, `{"topics":["b"]}`)); err != nil {
		t.Fatal(err)
	}
	tr, err := k.Trigger(ctx, "local", "kafka", path)
	if err != nil || len(tr.Doc) != 1 || string(tr.Doc["topics"]) != `["b"]` || tr.UpdatedAt.IsZero() {
		t.Fatalf("an update replaces the whole trigger: %+v %v", tr, err)
	}
	if list, err := k.Triggers(ctx, "local", "kafka"); err != nil || len(list) != 1 || list[0].Name != path {
		t.Fatalf("list: %+v %v", list, err)
	}
}

func TestAMissingTriggerIsNotFoundAndAPathMustBeScriptLike(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	var inv *errs.Invalid
	if _, err := k.CreateTrigger(ctx, "local", "mqtt", doc(t, `{"path":"orders"}`)); !errors.As(err, &inv) {
		t.Fatalf("create at a bad path: %v", err)
	}
	if err := k.UpdateTrigger(ctx, "local", "mqtt", "orders", Doc{}); !errors.As(err, &inv) {
		t.Fatalf("update at a bad path: %v", err)
	}
	var missing *errs.NotFound
	if err := k.UpdateTrigger(ctx, "local", "mqtt", "f/ops/none", Doc{}); !errors.As(err, &missing) || missing.Msg != "mqtt trigger not found at path f/ops/none" {
		t.Fatalf("update of none: %v", err)
	}
	if _, err := k.Trigger(ctx, "local", "mqtt", "f/ops/none"); !errors.As(err, &missing) {
		t.Fatalf("get of none: %v", err)
	}
	if err := k.DeleteTrigger(ctx, "local", "mqtt", "f/ops/none"); !errors.As(err, &missing) {
		t.Fatalf("delete of none: %v", err)
	}
	if ok, err := k.TriggerExists(ctx, "local", "mqtt", "f/ops/none"); ok || err != nil {
		t.Fatalf("exists: %v %v", ok, err)
	}
}
