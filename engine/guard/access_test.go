package guard

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/reqctx"
)

// A full-access route refuses a scoped token in Windmill's words, naming
// the scope; a route under /api/w/{ws}/ refuses another workspace.
func TestFullAccessAndWorkspace(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.Handle("GET /api/w/{ws}/scripts/list", Workspace(nil, "local")(FullAccess(nil, "scripts:read")(http.HandlerFunc(ok))))
	for _, c := range []struct {
		name, path string
		as         *auth.Identity
		status     int
		body       string
	}{
		{"full access", "/api/w/local/scripts/list", &auth.Identity{Label: "me"}, 204, ""},
		{"scoped", "/api/w/local/scripts/list", &auth.Identity{Label: "hook", Scopes: []string{"jobs:run:scripts:u/me/hook"}}, 401, "Not authorized: Required scope: scripts:read"},
		{"no identity", "/api/w/local/scripts/list", nil, 401, "Not authorized: Required scope: scripts:read"},
		{"another workspace", "/api/w/other/scripts/list", &auth.Identity{Label: "me"}, 404, "Not found: workspace other does not exist (this millrun serves workspace local)"},
	} {
		req := httptest.NewRequest("GET", c.path, nil)
		if c.as != nil {
			req = req.WithContext(reqctx.WithIdentity(req.Context(), c.as))
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != c.status || rec.Body.String() != c.body {
			t.Errorf("%s: %d %q, want %d %q", c.name, rec.Code, rec.Body.String(), c.status, c.body)
		}
	}
}
