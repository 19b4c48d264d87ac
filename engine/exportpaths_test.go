package engine

import (
	"strings"
	"testing"

	"github.com/millrun/millrun/engine/store"
)

// A route path with "." or ".." segments is refused at create and update
// with a 400 saying so; one stored before that rule (or by hand) never
// becomes a file name outside the archive's folder: the export refuses,
// naming the item, and writes no archive.
func TestRoutePathsAndArchiveEntryNames(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/s", "bash", "echo 1\n")
	for _, path := range []string{"u/me/../../../tmp/evil", "u/./x", "f/ops/.."} {
		r := f.do("POST", "/api/w/local/http_triggers/create", "application/json",
			`{"path":"`+path+`","script_path":"u/me/s","route_path":"x","authentication_method":"none"}`)
		if r.status != 400 || !strings.Contains(r.body, "Bad request: ") || !strings.Contains(r.body, "segment") {
			t.Errorf("create %s: %d %s", path, r.status, r.body)
		}
	}
	f.route(map[string]any{"path": "u/me/ok", "script_path": "u/me/s", "route_path": "ok", "authentication_method": "none"})
	r := f.do("POST", "/api/w/local/http_triggers/update/u/me/ok", "application/json",
		`{"path":"u/me/../../x","script_path":"u/me/s","route_path":"ok","authentication_method":"none"}`)
	if r.status != 400 {
		t.Errorf("rename to a path with ..: %d %s", r.status, r.body)
	}

	// As an older millrun could have stored it.
	evil := `{"workspace_id":"local","path":"u/../../../tmp/evil","script_path":"u/me/s","route_path":"evil","http_method":"post","request_type":"sync","authentication_method":"none"}`
	if err := f.e.db.PutTrigger(t.Context(), store.StoredTrigger{Workspace: "local", Path: "u/../../../tmp/evil", Definition: evil}, true,
		func([]store.StoredTrigger) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := f.e.triggers.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	r = f.do("GET", "/api/w/local/workspaces/tarball?archive_type=zip&include_triggers=true", "", "")
	if r.status == 200 || !strings.Contains(r.body, "u/../../../tmp/evil") || !strings.Contains(r.body, "rename or delete") {
		t.Fatalf("export with an unsafe item path: %d %q", r.status, r.body)
	}
	// Without the routes, the rest exports.
	if files := f.zipFiles(""); files["u/me/s.sh"] == "" {
		t.Fatalf("export without routes: %v", keys(files))
	}
}
