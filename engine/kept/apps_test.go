package kept

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/millrun/millrun/engine/errs"
)

func doc(t *testing.T, s string) Doc {
	t.Helper()
	d := Doc{}
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAppsKeepWhatWasSentButNotHowToSaveIt(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	path, err := k.CreateApp(ctx, "local", doc(t, `{"path":"f/ops/board","summary":"Board","value":{"grid":[]},"deployment_message":"m","id":9,"extra_perms":{"u/x":true}}`))
	if err != nil || path != "f/ops/board" {
		t.Fatalf("create: %q %v", path, err)
	}
	if it, _ := k.Get(ctx, "local", App, path); it.Value != `{"summary":"Board","value":{"grid":[]}}` {
		t.Fatalf("kept as %s", it.Value)
	}
	var inv *errs.Invalid
	if _, err := k.CreateApp(ctx, "local", doc(t, `{"path":"f/ops/board"}`)); !errors.As(err, &inv) || inv.Msg != "app f/ops/board already exists" {
		t.Fatalf("twice: %v", err)
	}
	if err := k.UpdateApp(ctx, "local", path, doc(t, `{"summary":"Ops board","policy":{"execution_mode":"viewer"},"starred":true}`)); err != nil {
		t.Fatal(err)
	}
	app, err := k.App(ctx, "local", path)
	if b, _ := json.Marshal(app.Doc); err != nil || string(b) != `{"policy":{"execution_mode":"viewer"},"summary":"Ops board","value":{"grid":[]}}` {
		t.Fatalf("after update: %s %v", b, err)
	}
	if apps, err := k.Apps(ctx, "local"); err != nil || len(apps) != 1 || apps[0].Path != path || apps[0].UpdatedAt.IsZero() {
		t.Fatalf("apps: %+v %v", apps, err)
	}
}

func TestAnAppNeedsAScriptLikePathAndMustExistToChange(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	var inv *errs.Invalid
	for _, body := range []string{`{}`, `{"path":"board"}`, `{"path":"f/ops/../x"}`, `{"path":7}`} {
		if _, err := k.CreateApp(ctx, "local", doc(t, body)); !errors.As(err, &inv) {
			t.Fatalf("%s: %v, want an *errs.Invalid", body, err)
		}
	}
	if err := k.UpdateApp(ctx, "local", "x", Doc{}); !errors.As(err, &inv) {
		t.Fatalf("update of a bad path: %v", err)
	}
	var missing *errs.NotFound
	if err := k.UpdateApp(ctx, "local", "f/ops/none", Doc{}); !errors.As(err, &missing) || missing.Msg != "App not found at path f/ops/none" {
		t.Fatalf("update of none: %v", err)
	}
	if ok, err := k.AppExists(ctx, "local", "f/ops/none"); ok || err != nil {
		t.Fatalf("exists: %v %v", ok, err)
	}
	if err := k.DeleteApp(ctx, "local", "f/ops/none"); !errors.As(err, &missing) {
		t.Fatalf("delete of none: %v", err)
	}
}

func TestDeletingAnAppForgetsItsGrants(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	if _, err := k.CreateApp(ctx, "local", doc(t, `{"path":"f/ops/board"}`)); err != nil {
		t.Fatal(err)
	}
	if err := k.Grant(ctx, "local", "app", "f/ops/board", "g/ops", true, true); err != nil {
		t.Fatal(err)
	}
	if err := k.DeleteApp(ctx, "local", "f/ops/board"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := k.AppExists(ctx, "local", "f/ops/board"); ok {
		t.Fatal("the app is still there")
	}
	if perms := k.ACL(ctx, "local", "app", "f/ops/board"); len(perms) != 0 {
		t.Fatalf("grants outlive the app: %v", perms)
	}
}

func TestAnAppFileIsInWindmillsOrderWithoutOnBehalfOf(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	body := `{"path":"f/ops/board","zeta":1,"custom_path":"b","alpha":"<a>","value":{"grid":[]},` +
		`"policy":{"on_behalf_of":"u/ann","on_behalf_of_email":"ann@example.com","execution_mode":"publisher"},"summary":"Board"}`
	if _, err := k.CreateApp(ctx, "local", doc(t, body)); err != nil {
		t.Fatal(err)
	}
	app, err := k.App(ctx, "local", "f/ops/board")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"summary":"Board","value":{"grid":[]},"policy":{"execution_mode":"publisher"},"custom_path":"b","alpha":"\u003ca\u003e","zeta":1}`
	if b, err := json.Marshal(k.AppFile(ctx, "local", app)); err != nil || string(b) != want {
		t.Fatalf("file:\n%s %v\nwant\n%s", b, err, want)
	}
	if err := k.Grant(ctx, "local", "app", "f/ops/board", "u/ann", false, true); err != nil {
		t.Fatal(err)
	}
	want = want[:len(want)-1] + `,"extra_perms":{"u/ann":false}}`
	if b, _ := json.Marshal(k.AppFile(ctx, "local", app)); string(b) != want {
		t.Fatalf("file with a grant:\n%s\nwant\n%s", b, want)
	}
	if b, _ := json.Marshal(AppFile{}); string(b) != `{}` {
		t.Fatalf("an empty app: %s", b)
	}
}
