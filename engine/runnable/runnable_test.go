package runnable

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/flows"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

func newResolver(t *testing.T) Resolver {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sc := scripts.NewCatalog(db)
	return Resolver{Scripts: sc, Flows: flows.NewCatalog(db, sc)}
}

func saveScript(t *testing.T, r Resolver, req scripts.CreateRequest) string {
	t.Helper()
	hash, _, err := r.Scripts.Save(context.Background(), "local", req)
	if err != nil {
		t.Fatalf("save %s: %v", req.Path, err)
	}
	return hash
}

func saveFlow(t *testing.T, r Resolver, path, value string) string {
	t.Helper()
	hash, _, err := r.Flows.Save(context.Background(), "local", flows.CreateRequest{Path: path, Value: json.RawMessage(value)})
	if err != nil {
		t.Fatalf("save %s: %v", path, err)
	}
	return hash
}

// answer is what a caller of the HTTP routes reads for err.
func answer(err error) string {
	w := httptest.NewRecorder()
	apierr.Write(w, nil, err)
	return w.Body.String()
}

func TestResolveFindsTheLatestVersionWithItsOptions(t *testing.T) {
	r := newResolver(t)
	ctx := context.Background()
	first := saveScript(t, r, scripts.CreateRequest{Path: "u/me/hook", Language: "bash", Content: "echo one\n"})
	latest := saveScript(t, r, scripts.CreateRequest{Path: "u/me/hook", Language: "bash", Content: "echo two\n", Timeout: 7, ConcurrentLimit: 2,
		ParentHash: first})
	tgt, err := r.Resolve(ctx, "local", Script, "u/me/hook")
	if err != nil {
		t.Fatal(err)
	}
	if tgt.Kind != Script || tgt.Hash != latest || tgt.Lang != "bash" || tgt.TimeoutS != 7 || tgt.ConcurrencyLimit != 2 || tgt.NotRunnable != nil {
		t.Fatalf("script target: %+v", tgt)
	}
	job := &store.Job{}
	tgt.Fill(job)
	if job.Kind != "script" || job.ScriptPath != "u/me/hook" || job.ScriptHash != latest || job.Language != "bash" || job.TimeoutS != 7 || job.ConcurrencyLimit != 2 {
		t.Fatalf("filled job: %+v", job)
	}

	flowHash := saveFlow(t, r, "f/ops/deploy", `{"modules":[{"id":"a","value":{"type":"script","path":"u/me/hook","input_transforms":{}}}],"concurrent_limit":3}`)
	tgt, err = r.Runnable(ctx, "local", Flow, "f/ops/deploy")
	if err != nil {
		t.Fatal(err)
	}
	if tgt.Kind != Flow || tgt.Hash != flowHash || tgt.ConcurrencyLimit != 3 {
		t.Fatalf("flow target: %+v", tgt)
	}
}

// Every way of starting something by path says the same when nothing is
// there: Windmill's words, which its clients compare, as a 404.
func TestNothingAtThePathIsOneNotFound(t *testing.T) {
	r := newResolver(t)
	ctx := context.Background()
	for _, c := range []struct {
		kind Kind
		want string
	}{
		{Script, "Not found: script not found at name u/me/nope"},
		{Flow, "Not found: flow not found at path f/ops/nope"},
	} {
		path := map[Kind]string{Script: "u/me/nope", Flow: "f/ops/nope"}[c.kind]
		_, err := r.Resolve(ctx, "local", c.kind, path)
		var nf *errs.NotFound
		if !errors.As(err, &nf) || !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: %v, want a not-found error", c.kind, err)
		}
		if got := answer(err); got != c.want {
			t.Errorf("%s: answered %q, want %q", c.kind, got, c.want)
		}
		if _, err := r.Runnable(ctx, "local", c.kind, path); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: Runnable: %v", c.kind, err)
		}
	}
	// A script is not a flow.
	saveScript(t, r, scripts.CreateRequest{Path: "u/me/hook", Language: "bash", Content: "echo\n"})
	if _, err := r.Resolve(ctx, "local", Flow, "u/me/hook"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a script found as a flow: %v", err)
	}
}

// A library is found (a run route checks the caller's scope before saying
// more) but cannot be started.
func TestALibraryIsFoundButNotRunnable(t *testing.T) {
	r := newResolver(t)
	ctx := context.Background()
	saveScript(t, r, scripts.CreateRequest{Path: "u/me/lib", Language: "bash", Content: "helper() { echo; }\n", NoMainFunc: true})
	tgt, err := r.Resolve(ctx, "local", Script, "u/me/lib")
	if err != nil || tgt.NotRunnable == nil {
		t.Fatalf("a library: %+v, %v", tgt, err)
	}
	_, err = r.Runnable(ctx, "local", Script, "u/me/lib")
	var inv *errs.Invalid
	if !errors.As(err, &inv) {
		t.Fatalf("running a library: %v, want an input error", err)
	}
}
