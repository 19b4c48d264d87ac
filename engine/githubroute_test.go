package engine

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// A GitHub route passes the event's name (X-GitHub-Event) to main as
// x_github_event without a query in the URL pasted into GitHub, and its
// signed test is a push, so the UI's GitHub template answers with a
// repository and a branch, not "?".
func TestGitHubRouteSignedTestIsAPush(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/on_push", "python3", "def main(ref: str = '', repository: dict = None, x_github_event: str = 'none'):\n"+
		"    return {'event': x_github_event, 'repo': (repository or {}).get('full_name', '?'), 'ref': ref}\n")
	f.resource("u/me/github", map[string]any{"provider": "github", "secret": "gh-s3cr3t"})
	f.route(map[string]any{"path": "u/me/github_push", "script_path": "u/me/on_push", "route_path": "github/on_push",
		"authentication_method": "signature", "authentication_resource_path": "u/me/github"})
	var res map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "POST", "/api/millrun/routes/test/u/me/github_push", "", "").body), &res)
	var out map[string]any
	if err := json.Unmarshal([]byte(fmt.Sprint(res["body"])), &out); err != nil || res["status"] != float64(200) {
		t.Fatalf("signed test: %v", res)
	}
	if out["event"] != "push" || !strings.Contains(fmt.Sprint(out["repo"]), "/") || !strings.HasPrefix(fmt.Sprint(out["ref"]), "refs/heads/") {
		t.Fatalf("the GitHub template's script got %v from the signed test, want a push with a repository and a branch", out)
	}
}
