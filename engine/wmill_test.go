package engine

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/flows"
	"github.com/millrun/millrun/engine/testkit"
)

// wmillFixture is an engine whose Python jobs import millrun's built-in
// wmill (its index has none) and can call back into it.
func wmillFixture(t *testing.T) *fixture {
	t.Helper()
	// The fork server's path and the spawned one both put millrun's
	// wmill on the path; the forked one is the default.
	return setup(t, served)
}

func (f *fixture) syncJSON(path, body string) map[string]any {
	f.t.Helper()
	r := f.syncRun(path, body)
	var out map[string]any
	if r.status != 200 || json.Unmarshal([]byte(r.body), &out) != nil || r.header.Get("X-Millrun-Job-Success") == "false" {
		f.t.Fatalf("run %s: %d %s", path, r.status, r.body)
	}
	return out
}

// Every call of the built-in wmill, from real Python jobs against a
// running engine.
func TestBuiltinWmillCalls(t *testing.T) {
	t.Parallel()
	f := wmillFixture(t)

	// Variables: a secret read, one set then read (created, then updated).
	f.mustDo(201, "POST", "/api/w/local/variables/create", "application/json",
		`{"path":"u/me/slack_token","value":"xoxb-secret-1234","is_secret":true,"description":""}`)
	f.createScript("u/me/vars", "python3", `import wmill

def main(value: str):
    secret = wmill.get_variable("u/me/slack_token")
    wmill.set_variable("u/me/note", value)
    return {"secret": secret, "note": wmill.get_variable("u/me/note")}
`)
	if got := f.syncJSON("u/me/vars", `{"value":"first"}`); got["secret"] != "xoxb-secret-1234" || got["note"] != "first" {
		t.Errorf("variables: %v", got)
	}
	if got := f.syncJSON("u/me/vars", `{"value":"second"}`); got["note"] != "second" {
		t.Errorf("set_variable on an existing variable: %v", got)
	}

	// Resources: created with set_resource, then its value replaced.
	f.createScript("u/me/res", "python3", `import wmill

def main(n: int):
    wmill.set_resource("u/me/settings", {"n": n, "tags": ["a", "b"]})
    return wmill.get_resource("u/me/settings")
`)
	if got := f.syncJSON("u/me/res", `{"n":1}`); got["n"] != float64(1) {
		t.Errorf("get_resource after creating it: %v", got)
	}
	if got := f.syncJSON("u/me/res", `{"n":2}`); got["n"] != float64(2) || len(got["tags"].([]any)) != 2 {
		t.Errorf("get_resource after updating it: %v", got)
	}
	var res map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/resources/get/u/me/settings", "", "").body), &res)
	if res["resource_type"] != "any" {
		t.Errorf("set_resource's type: %v", res)
	}

	// Running other scripts: by path (waiting for the result), async with
	// get_job_status and get_result, and the job's own identity.
	f.createScript("u/me/double", "python3", "def main(x: int):\n    return x * 2\n")
	f.createScript("u/me/caller", "python3", `import os, time, wmill

def main():
    child = wmill.run_script_by_path("u/me/double", {"x": 21})
    job = wmill.run_script_async("u/me/double", {"x": 5})
    first = wmill.get_job_status(job)
    while wmill.get_job_status(job) != "COMPLETED":
        time.sleep(0.05)
    other = wmill.run_script_by_path_async("u/me/double", args={"x": 7})
    while wmill.get_job_status(other) != "COMPLETED":
        time.sleep(0.05)
    return {
        "child": child, "first_status": first, "async": wmill.get_result(job), "by_path_async": wmill.get_result(other),
        "me": wmill.whoami()["username"], "workspace": wmill.get_workspace(),
        "root": wmill.get_root_job_id(), "job": os.environ["WM_JOB_ID"],
    }
`)
	got := f.syncJSON("u/me/caller", `{}`)
	if got["child"] != float64(42) || got["async"] != float64(10) || got["by_path_async"] != float64(14) {
		t.Errorf("results of other scripts: %v", got)
	}
	if s := got["first_status"]; s != "WAITING" && s != "RUNNING" && s != "COMPLETED" {
		t.Errorf("get_job_status: %v", s)
	}
	if got["me"] != f.e.user || got["workspace"] != "local" || got["root"] != got["job"] {
		t.Errorf("whoami, get_workspace, get_root_job_id: %v (user %s)", got, f.e.user)
	}

	// A failing child raises in the caller with the child's error.
	f.createScript("u/me/boom", "python3", "def main():\n    raise ValueError('no such order')\n")
	f.createScript("u/me/calls_boom", "python3", `import wmill

def main():
    try:
        wmill.run_script_by_path("u/me/boom")
    except Exception as e:
        return {"raised": str(e)}
`)
	if got := f.syncJSON("u/me/calls_boom", `{}`); !strings.Contains(got["raised"].(string), "no such order") {
		t.Errorf("a failed child: %v", got)
	}

	// The API's errors raise with millrun's message; a name the built-in
	// module lacks says so, and how to get Windmill's package.
	f.createScript("u/me/errors", "python3", `import wmill

def main():
    try:
        wmill.get_variable("u/me/nope")
    except Exception as e:
        missing = str(e)
    try:
        wmill.load_s3_file("x")
    except Exception as e:
        unknown = type(e).__name__ + ": " + str(e)
    return {"missing": missing, "unknown": unknown, "none": wmill.get_resource("u/me/nope", none_if_undefined=True)}
`)
	got = f.syncJSON("u/me/errors", `{}`)
	if m := got["missing"].(string); !strings.Contains(m, "404, Not found: variable u/me/nope") {
		t.Errorf("an API error: %q", m)
	}
	if u := got["unknown"].(string); !strings.HasPrefix(u, "NotInBuiltinError: wmill.load_s3_file is not in millrun's built-in wmill module") || !strings.Contains(u, "pip install wmill") {
		t.Errorf("an unknown call: %q", u)
	}
	if _, ok := got["none"]; !ok || got["none"] != nil {
		t.Errorf("get_resource none_if_undefined: %v", got)
	}

	// The job's log says which wmill it used.
	r := f.syncRun("u/me/errors", `{}`)
	j := f.waitJob(r.header.Get("X-Millrun-Job-Id"))
	if logs, _ := j["logs"].(string); !strings.Contains(logs, "wmill: millrun's built-in module") {
		t.Errorf("the log does not say which wmill: %q", logs)
	}
}

// State is kept between runs at Windmill's state path: one for a
// script's manual and webhook runs, one for its scheduled runs, one per
// flow step.
func TestBuiltinWmillState(t *testing.T) {
	t.Parallel()
	f := wmillFixture(t)
	f.createScript("u/me/counter", "python3", `import os, wmill

def main():
    n = (wmill.get_state() or {"n": 0})["n"] + 1
    wmill.set_state({"n": n})
    return {"n": n, "path": wmill.get_state_path(), "schedule": os.environ["WM_SCHEDULE_PATH"]}
`)
	for want := 1; want <= 2; want++ {
		if got := f.syncJSON("u/me/counter", `{}`); got["n"] != float64(want) || got["path"] != "u/me/counter/user" {
			t.Fatalf("run %d: %v", want, got)
		}
	}
	var res map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/resources/get/u/me/counter/user", "", "").body), &res)
	if res["resource_type"] != "state" {
		t.Errorf("the state resource: %v", res)
	}

	// A state that is not an object.
	f.createScript("u/me/list_state", "python3", `import wmill

def main():
    seen = wmill.get_state()
    wmill.set_state((seen or []) + [len(seen or [])])
    return {"seen": seen}
`)
	f.syncJSON("u/me/list_state", `{}`)
	if got := f.syncJSON("u/me/list_state", `{}`); len(got["seen"].([]any)) != 1 {
		t.Errorf("a list as state: %v", got)
	}

	// Scheduled runs keep theirs, apart from the manual runs'.
	f.mustDo(201, "POST", "/api/w/local/schedules/create", "application/json",
		`{"path":"u/me/count_every_second","schedule":"* * * * * *","timezone":"UTC","script_path":"u/me/counter"}`)
	var done []map[string]any
	testkit.WaitUntil(t, "two scheduled runs", 20*time.Second, func() bool {
		done = done[:0]
		for _, run := range f.scheduleRuns("u/me/count_every_second") {
			if run["type"] == "CompletedJob" {
				done = append(done, run)
			}
		}
		return len(done) >= 2
	})
	f.mustDo(200, "POST", "/api/w/local/schedules/setenabled/u/me/count_every_second", "application/json", `{"enabled":false}`)
	sort.Slice(done, func(i, k int) bool { return done[i]["created_at"].(string) < done[k]["created_at"].(string) })
	for i, run := range done[:2] {
		var out map[string]any
		json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/jobs_u/completed/get_result/"+run["id"].(string), "", "").body), &out)
		if out["n"] != float64(i+1) || out["path"] != "u/me/counter/"+f.e.user || out["schedule"] != "u/me/count_every_second" {
			t.Errorf("scheduled run %d: %v", i+1, out)
		}
	}
	if got := f.syncJSON("u/me/counter", `{}`); got["n"] != float64(3) {
		t.Errorf("the manual runs' state after scheduled runs: %v", got)
	}

	// A flow step: its own state, its flow's identity.
	f.createFlow("u/me/stepflow", `{"modules":[{"id":"a","value":`+raw("python3", `import os, wmill

def main():
    n = (wmill.get_state() or 0) + 1
    wmill.set_state(n)
    return {"n": n, "path": wmill.get_state_path(), "root": wmill.get_root_job_id(),
            "flow": os.environ["WM_FLOW_PATH"], "step": os.environ["WM_FLOW_STEP_ID"]}
`, `{}`)+`}]}`)
	for want := 1; want <= 2; want++ {
		r := f.do("POST", "/api/w/local/jobs/run_wait_result/f/u/me/stepflow", "application/json", `{}`)
		var got map[string]any
		json.Unmarshal([]byte(r.body), &got)
		if r.status != 200 || got["n"] != float64(want) || got["path"] != "u/me/stepflow/a_user" ||
			got["root"] != r.header.Get("X-Millrun-Job-Id") || got["flow"] != "u/me/stepflow" || got["step"] != "a" {
			t.Errorf("flow run %d: %d %s (flow job %s)", want, r.status, r.body, r.header.Get("X-Millrun-Job-Id"))
		}
	}
}

func TestStatePathRule(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		script, schedule, flow, step, want string
	}{
		{"u/me/count", "", "", "", "u/me/count/user"},
		{"u/me/count", "u/me/every_minute", "", "", "u/me/count/ann"},
		{"f/x/step_script", "", "f/x/flow", "b", "f/x/flow/b_user"},
		{"f/x/step_script", "u/me/nightly", "f/x/flow", "", "f/x/flow/nostep_ann"},
		{"f/x/", "", "", "", "f/x/state/user"},
		{"", "", "", "", "u/ann/tmp_state"},
	} {
		got := statePath("ann", c.script, c.schedule, flows.Step{FlowPath: c.flow, ID: c.step})
		if got != c.want {
			t.Errorf("statePath(%q, %q, %q, %q) = %q, want %q", c.script, c.schedule, c.flow, c.step, got, c.want)
		}
	}
}
