package engine

import (
	"encoding/json"
	"strings"
	"testing"
)

// The Runs page's filters: a part of the path (millrun's
// script_path_contains), Windmill's script_path_start, and Windmill's
// counts for "N runs in all".
func TestRunsFilterByPartOfPathAndCount(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/hello_e2e", "bash", "echo hi\n")
	f.createScript("f/ops/deploy", "bash", "echo deploy\n")
	for _, p := range []string{"u/me/hello_e2e", "u/me/hello_e2e", "f/ops/deploy"} {
		if r := f.syncRun(p, "{}"); r.status != 200 {
			t.Fatalf("run %s: %d %s", p, r.status, r.body)
		}
	}
	count := func(query string) int {
		var list []map[string]any
		r := f.do("GET", "/api/w/local/jobs/list?"+query, "", "")
		if r.status != 200 || json.Unmarshal([]byte(r.body), &list) != nil {
			t.Fatalf("list %s: %d %s", query, r.status, r.body)
		}
		return len(list)
	}
	for query, want := range map[string]int{"script_path_contains=ELLO_e2": 2, "script_path_start=u/me/": 2, "script_path_start=ops": 0, "script_path_contains=ops": 1} {
		if got := count(query); got != want {
			t.Errorf("%s: %d runs, want %d", query, got, want)
		}
	}
	r := f.do("GET", "/api/w/local/jobs/completed/count", "", "")
	if r.status != 200 || strings.TrimSpace(r.body) != `{"database_length":3}` {
		t.Fatalf("completed count: %d %q", r.status, r.body)
	}
	if r := f.do("GET", "/api/w/local/jobs/queue/count", "", ""); r.status != 200 || strings.TrimSpace(r.body) != `{"database_length":0}` {
		t.Fatalf("queue count: %d %q", r.status, r.body)
	}
}
