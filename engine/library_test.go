package engine

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/testkit"
)

// A script without main is saved as a library, as Windmill does (its
// no_main_func): listed as such, and every way of running it answers 400
// with one message.
func TestLibraryScripts(t *testing.T) {
	t.Parallel()
	f := setup(t)
	pyHash := f.createScript("f/lib/helpers", "python3", "import json\n\nGREETING = 'hi'\n\ndef shout(s: str) -> str:\n    return s.upper()\n")
	f.createScript("f/lib/tshelpers", "bun", "export function shout(s: string): string {\n  return s.toUpperCase()\n}\n")
	f.createScript("f/lib/bashlib", "bash", "greet() { echo \"hi $1\"; }\n", "no_main_func", "true")
	f.createScript("f/lib/runnable", "python3", "def main(x: int = 1):\n    return x + 1\n")

	for _, path := range []string{"f/lib/helpers", "f/lib/tshelpers", "f/lib/bashlib"} {
		var s map[string]any
		json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/scripts/get/p/"+path, "", "").body), &s)
		if s["no_main_func"] != true {
			t.Errorf("%s: no_main_func = %v, want true", path, s["no_main_func"])
		}
		if props, _ := s["schema"].(map[string]any)["properties"].(map[string]any); len(props) != 0 {
			t.Errorf("%s: a library has no arguments, got %v", path, props)
		}
	}
	var list []map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/scripts/list", "", "").body), &list)
	libs := map[string]any{}
	for _, s := range list {
		libs[s["path"].(string)] = s["no_main_func"]
	}
	if libs["f/lib/helpers"] != true || libs["f/lib/tshelpers"] != true || libs["f/lib/bashlib"] != true || libs["f/lib/runnable"] != false {
		t.Errorf("list's no_main_func: %v", libs)
	}

	want := func(what string, r resp, path string) {
		t.Helper()
		if msg := "Bad request: " + path + " is a library: it has no main function"; r.status != 400 || r.body != msg {
			t.Errorf("%s: %d %q, want 400 %q", what, r.status, r.body, msg)
		}
	}
	want("async by path", f.do("POST", "/api/w/local/jobs/run/p/f/lib/helpers", "application/json", `{}`), "f/lib/helpers")
	want("sync by path", f.do("POST", "/api/w/local/jobs/run_wait_result/p/f/lib/helpers", "application/json", `{}`), "f/lib/helpers")
	want("sync GET", f.do("GET", "/api/w/local/jobs/run_wait_result/p/f/lib/tshelpers", "", ""), "f/lib/tshelpers")
	want("async by hash", f.do("POST", "/api/w/local/jobs/run/h/"+pyHash, "application/json", `{}`), "f/lib/helpers")
	want("sync by hash", f.do("POST", "/api/w/local/jobs/run_wait_result/h/"+pyHash, "application/json", `{}`), "f/lib/helpers")
	want("bash flagged a library", f.do("POST", "/api/w/local/jobs/run/p/f/lib/bashlib", "application/json", `{}`), "f/lib/bashlib")

	// A flow cannot take a library as a step, and a flow whose step became
	// a library since it was saved does not start.
	want("flow with a library step", f.do("POST", "/api/w/local/flows/create", "application/json",
		`{"path":"f/lib/flow_bad","summary":"","value":{"modules":[{"id":"a","value":{"type":"script","path":"f/lib/helpers","input_transforms":{}}}]}}`), "f/lib/helpers")
	f.createScript("f/lib/later", "python3", "def main():\n    return 1\n")
	f.createFlow("f/lib/flow", `{"modules":[{"id":"a","value":{"type":"script","path":"f/lib/later","input_transforms":{}}}]}`)
	if r := f.syncRun("f/lib/later", `{}`); r.status != 200 || r.body != "1" {
		t.Fatalf("runnable before: %d %s", r.status, r.body)
	}
	f.createScript("f/lib/later", "python3", "def helper():\n    return 1\n")
	want("flow run", f.do("POST", "/api/w/local/jobs/run/f/f/lib/flow", "application/json", `{}`), "f/lib/later")
	want("sync flow run", f.do("POST", "/api/w/local/jobs/run_wait_result/f/f/lib/flow", "application/json", `{}`), "f/lib/later")

	// Schedules and custom routes.
	want("schedule", f.do("POST", "/api/w/local/schedules/create", "application/json",
		`{"path":"f/lib/every","schedule":"* * * * * *","timezone":"UTC","script_path":"f/lib/helpers"}`), "f/lib/helpers")
	f.route(map[string]any{"path": "f/lib/route", "script_path": "f/lib/helpers", "route_path": "libtest", "http_method": "post",
		"is_async": false, "authentication_method": "none"})
	want("custom route", f.anon("POST", "/api/r/libtest", "application/json", `{}`), "f/lib/helpers")

	// What is runnable still runs.
	if r := f.syncRun("f/lib/runnable", `{"x":41}`); r.status != 200 || r.body != "42" {
		t.Errorf("a script with main: %d %s", r.status, r.body)
	}
}

// A schedule whose script became a library records why its runs do not
// start, and starts none.
func TestScheduleOfScriptThatBecameLibrary(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/job", "python3", "def main():\n    return 'ran'\n")
	f.mustDo(201, "POST", "/api/w/local/schedules/create", "application/json",
		`{"path":"u/me/every","schedule":"* * * * * *","timezone":"UTC","script_path":"u/me/job","enabled":false}`)
	f.createScript("u/me/job", "python3", "def helper():\n    return 'ran'\n")
	f.mustDo(200, "POST", "/api/w/local/schedules/setenabled/u/me/every", "application/json", `{"enabled":true}`)
	testkit.WaitUntil(t, "the schedule's error", 10*time.Second, func() bool {
		var sc map[string]any
		json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/schedules/get/u/me/every", "", "").body), &sc)
		msg, _ := sc["error"].(string)
		return strings.Contains(msg, "u/me/job is a library: it has no main function")
	})
	if runs := f.scheduleRuns("u/me/every"); len(runs) != 0 {
		t.Errorf("a library's schedule started runs: %v", runs)
	}
}
