package engine

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/testkit"
)

// Windmill's clients compare some answers byte for byte: a JSON answer
// has no trailing newline (serde_json writes none), so exists is exactly
// true.
func TestJSONAnswersHaveNoTrailingNewline(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/hi", "bash", "echo hi\n")
	for _, c := range []struct{ method, path, body, want string }{
		{"POST", "/api/workspaces/exists", `{"id":"local"}`, "true"},
		{"GET", "/api/w/local/scripts/exists/p/u/me/hi", "", "true"},
		{"GET", "/api/w/local/variables/exists/u/me/none", "", "false"},
		{"POST", "/api/w/local/jobs/run_wait_result/p/u/me/hi", "{}", `"hi"`},
	} {
		r := f.do(c.method, c.path, "application/json", c.body)
		if r.status != 200 || r.body != c.want {
			t.Errorf("%s %s: %d %q, want %q", c.method, c.path, r.status, r.body, c.want)
		}
	}
	for _, path := range []string{"/api/w/local/scripts/list", "/api/w/local/jobs/list", "/api/users/whoami"} {
		r := f.do("GET", path, "", "")
		if r.status != 200 || strings.HasSuffix(r.body, "\n") {
			t.Errorf("%s: %d, ends with a newline: %q", path, r.status, r.body)
		}
	}
}

// Cancelling a job that does not exist is answered in Windmill's words.
func TestCancelUnknownJob(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := "0b5f7c1e-5d0e-4c1e-9a57-3a7d2b1c0f99"
	r := f.do("POST", "/api/w/local/jobs_u/queue/cancel/"+id, "application/json", `{"reason":"x"}`)
	if r.status != 404 || r.body != "Not found: queued job id "+id+" does not exist" {
		t.Fatalf("%d %q", r.status, r.body)
	}
}

// wmill sends its token as a cookie on some calls (generate-metadata's
// dependency jobs), with no Authorization header and no Origin: that
// counts. A browser session's cookie still counts only from millrun's own
// pages, and no cookie counts on a request a browser sent cross-origin.
func TestTokenCookieFromTheCLI(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/hi", "bash", "echo hi\n")
	run := "/api/w/local/jobs/run_wait_result/p/u/me/hi"
	if r := f.do("POST", run, "application/json", "{}", "Authorization", "", "Cookie", "token="+f.token, "Sec-Fetch-Mode", "cors"); r.status != 200 || r.body != `"hi"` {
		t.Fatalf("the CLI's cookie: %d %s", r.status, r.body)
	}
	if r := f.do("POST", run, "application/json", "{}", "Authorization", "", "Cookie", "token="+f.token, "Origin", "http://evil.example"); r.status != 401 {
		t.Fatalf("a token cookie on a cross-origin request: %d %s", r.status, r.body)
	}
	login := f.do("POST", "/api/millrun/login", "application/json", `{"token":"`+f.token+`"}`, "Authorization", "")
	var session string
	for _, c := range strings.Split(login.header.Get("Set-Cookie"), ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(c), "token="); ok {
			session = v
		}
	}
	if login.status != 200 || session == "" {
		t.Fatalf("login: %d %v", login.status, login.header)
	}
	if r := f.do("POST", run, "application/json", "{}", "Authorization", "", "Cookie", "token="+session); r.status != 401 {
		t.Fatalf("a browser session's cookie without a page of millrun's: %d %s", r.status, r.body)
	}
	if r := f.do("POST", run, "application/json", "{}", "Authorization", "", "Cookie", "token="+session, "Sec-Fetch-Site", "same-origin"); r.status != 200 {
		t.Fatalf("a browser session's cookie from millrun's page: %d %s", r.status, r.body)
	}
}

// What a script's Windmill fields ask is done: envs are in the job's
// environment (millrun's WM_* still win), delete_after_use empties the
// job's arguments, result and logs once its caller has the result, and a
// script in a language millrun keeps but cannot run answers 400.
func TestWindmillFieldsApplied(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/env", "python3", "import os\ndef main():\n    return [os.environ.get('REGION'), os.environ.get('MODE'), os.environ.get('WM_WORKSPACE')]\n",
		"envs", `["REGION=eu-west","MODE=a=b","WM_WORKSPACE=forged","not an env"]`)
	if r := f.syncRun("u/me/env", "{}"); r.status != 200 || r.body != `["eu-west","a=b","local"]` {
		t.Fatalf("envs: %d %s", r.status, r.body)
	}

	f.createScript("u/me/secret", "bash", "x=\"$1\"\necho \"got $x\"\n", "delete_after_use", "true")
	r := f.syncRun("u/me/secret", `{"x":"hunter2"}`)
	if r.status != 200 || r.body != `"got hunter2"` {
		t.Fatalf("the caller gets the result: %d %s", r.status, r.body)
	}
	id := r.header.Get("X-Millrun-Job-Id")
	testkit.WaitUntil(t, "delete_after_use to clear the job's data", 10*time.Second, func() bool {
		j := f.waitJob(id)
		return j["success"] == true && fmt.Sprint(j["args"]) == "map[]" && j["result"] == nil && j["logs"] == ""
	})

	f.createScript("f/sql/report", "postgresql", "SELECT 1;\n")
	for _, url := range []string{"/api/w/local/jobs/run/p/f/sql/report", "/api/w/local/jobs/run_wait_result/p/f/sql/report"} {
		r := f.do("POST", url, "application/json", "{}")
		if r.status != 400 || r.body != "Bad request: millrun cannot run postgresql scripts: this script is kept so that a pull and push to Windmill lose nothing" {
			t.Errorf("%s: %d %s", url, r.status, r.body)
		}
	}
}

// A flow's Windmill timeout stops the flow job as a script's stops its.
func TestFlowTimeoutApplied(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.do("POST", "/api/w/local/flows/create", "application/json", `{"path":"u/me/slowflow","summary":"","timeout":1,
		"value":{"modules":[{"id":"a","value":{"type":"rawscript","language":"bash","content":"sleep 20\n","input_transforms":{}}}]}}`)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	start := time.Now()
	id := f.mustDo(201, "POST", "/api/w/local/jobs/run/f/u/me/slowflow", "application/json", "{}").body
	j := f.waitJob(id)
	if j["success"] != false || time.Since(start) > 10*time.Second {
		t.Fatalf("after %s: %v", time.Since(start), j)
	}
}

// wmill script preview: code that is not saved runs as a preview job of
// the path it names, with its arguments; its logs read as text (wmill job
// logs); a language millrun cannot run is refused before anything runs.
func TestPreviewAndLogs(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.mustDo(201, "POST", "/api/w/local/jobs/run/preview", "application/json",
		`{"content":"def main(name: str = \"World\"):\n    print(\"previewing\")\n    return f\"Hello, {name}!\"\n","path":"u/me/draft","args":{},"language":"python3"}`)
	j := f.waitJob(r.body)
	if j["success"] != true || j["result"] != "Hello, World!" || j["job_kind"] != "preview" || j["script_path"] != "u/me/draft" {
		t.Fatalf("preview: %v", j)
	}
	logs := f.mustDo(200, "GET", "/api/w/local/jobs_u/get_logs/"+r.body, "", "")
	if !strings.Contains(logs.body, "previewing") || !strings.HasPrefix(logs.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("get_logs: %q %v", logs.body, logs.header)
	}
	r = f.mustDo(201, "POST", "/api/w/local/jobs/run/preview", "application/json",
		`{"content":"export async function main(a: number, b: number) { return a + b }\n","path":"u/me/ts","args":{"a":2,"b":3},"language":"bun"}`)
	if j := f.waitJob(r.body); j["result"] != float64(5) {
		t.Fatalf("bun preview: %v", j)
	}
	if r := f.do("POST", "/api/w/local/jobs/run/preview", "application/json", `{"content":"fn main() {}","language":"rust","args":{}}`); r.status != 400 || !strings.Contains(r.body, "millrun cannot run rust scripts") {
		t.Fatalf("rust preview: %d %s", r.status, r.body)
	}
	if r := f.do("GET", "/api/w/local/jobs_u/get_logs/0b5f7c1e-5d0e-4c1e-9a57-3a7d2b1c0f98", "", ""); r.status != 404 {
		t.Fatalf("logs of no job: %d %s", r.status, r.body)
	}
}

// wmill generate-metadata asks for the lock of code it sends: as a job
// (dependencies_async, the token in a cookie) whose result is {"lock"},
// or synchronously (dependencies). A saved version's deployment status
// is its lock, or why it failed.
func TestDependencyJobsForSentCode(t *testing.T) {
	t.Parallel()
	ix := packageIndex(t)
	f := setup(t, withIndex(t, ix.URL))
	body := `{"raw_scripts":[{"raw_code":"import greeter\n\ndef main():\n    return greeter.hello('x')\n","language":"python3","script_path":"f/me/gen"}],"raw_workspace_dependencies":null,"entrypoint":"f/me/gen"}`
	r := f.mustDo(201, "POST", "/api/w/local/jobs/run/dependencies_async", "application/json", body, "Authorization", "", "Cookie", "token="+f.token)
	j := f.waitJob(r.body)
	res, _ := j["result"].(map[string]any)
	lock, _ := res["lock"].(string)
	if j["success"] != true || j["job_kind"] != "dependencies" || !strings.HasPrefix(lock, "# py: 3.") || !strings.Contains(lock, "greeter==1.0") {
		t.Fatalf("dependencies_async: %v", j)
	}
	sync := f.mustDo(200, "POST", "/api/w/local/jobs/run/dependencies", "application/json", body)
	var got map[string]string
	if json.Unmarshal([]byte(sync.body), &got) != nil || got["lock"] != lock {
		t.Fatalf("dependencies: %s, want the same lock", sync.body)
	}
	bad := f.do("POST", "/api/w/local/jobs/run/dependencies", "application/json", strings.ReplaceAll(body, "greeter", "no_such_pkg_xyz"))
	if bad.status != 500 || !strings.HasPrefix(bad.body, "Internal: Error locking file: ") {
		t.Fatalf("a lock that cannot be resolved: %d %s", bad.status, bad.body)
	}

	// No packages: the lock names the Python it runs on, as Windmill's.
	plain := `{"raw_scripts":[{"raw_code":"def main():\n    return 1\n","language":"python3","script_path":"f/me/plain_py"}],"entrypoint":"f/me/plain_py"}`
	json.Unmarshal([]byte(f.mustDo(200, "POST", "/api/w/local/jobs/run/dependencies", "application/json", plain).body), &got)
	if !strings.HasPrefix(got["lock"], "# py: 3.") || strings.Contains(got["lock"], "\n") {
		t.Fatalf("the lock of code without packages: %q", got["lock"])
	}

	// A script importing a local script wmill has not pushed: wmill asks
	// which differ from the saved ones, uploads them, and names them in
	// temp_script_refs; the lock is made from them.
	helpers := "import greeter\n\ndef shout(s):\n    return greeter.hello(s).upper()\n"
	diff := f.mustDo(200, "POST", "/api/w/local/scripts/raw_temp/diff", "application/json", `{"scripts":{"f/me/helpers":"abc"},"workspace_deps":[]}`)
	if diff.body != `["f/me/helpers"]` {
		t.Fatalf("raw_temp/diff: %s", diff.body)
	}
	b, _ := json.Marshal(helpers)
	ref := f.mustDo(200, "POST", "/api/w/local/scripts/raw_temp/store", "application/json", string(b)).body
	local := `{"raw_scripts":[{"raw_code":"from f.me.helpers import shout\n\ndef main():\n    return shout('x')\n","language":"python3","script_path":"f/me/uses"}],
		"entrypoint":"f/me/uses","temp_script_refs":{"f/me/helpers":"` + ref + `"}}`
	json.Unmarshal([]byte(f.mustDo(200, "POST", "/api/w/local/jobs/run/dependencies", "application/json", local).body), &got)
	if !strings.Contains(got["lock"], "greeter==1.0") {
		t.Fatalf("the lock of code importing a local script: %q", got["lock"])
	}

	// A flow folder's generate-metadata: each inline script, in a loop as
	// well, gets its lock; a Bash step needs none.
	flow := `{"path":"f/me/flowdeps","flow_value":{"modules":[
		{"id":"a","value":{"type":"rawscript","language":"python3","content":"import greeter\n\ndef main():\n    return 1\n","input_transforms":{}}},
		{"id":"l","value":{"type":"forloopflow","iterator":{"type":"static","value":[1]},"modules":[
			{"id":"b","value":{"type":"rawscript","language":"python3","content":"def main():\n    return 2\n","input_transforms":{}}}]}},
		{"id":"c","value":{"type":"rawscript","language":"bash","content":"echo hi\n","input_transforms":{}}}]}}`
	r = f.mustDo(201, "POST", "/api/w/local/jobs/run/flow_dependencies_async", "application/json", flow, "Authorization", "", "Cookie", "token="+f.token)
	fj := f.waitJob(r.body)
	updated, _ := json.Marshal(fj["result"])
	var fv struct {
		UpdatedFlowValue struct {
			Modules []struct {
				Value struct {
					Lock    *string `json:"lock"`
					Modules []struct {
						Value struct {
							Lock string `json:"lock"`
						} `json:"value"`
					} `json:"modules"`
				} `json:"value"`
			} `json:"modules"`
		} `json:"updated_flow_value"`
	}
	if fj["success"] != true || json.Unmarshal(updated, &fv) != nil || len(fv.UpdatedFlowValue.Modules) != 3 {
		t.Fatalf("flow_dependencies_async: %v", fj)
	}
	m := fv.UpdatedFlowValue.Modules
	if m[0].Value.Lock == nil || !strings.Contains(*m[0].Value.Lock, "greeter==1.0") || !strings.HasPrefix(m[1].Value.Modules[0].Value.Lock, "# py: 3.") || m[2].Value.Lock != nil {
		t.Fatalf("the steps' locks: %s", updated)
	}

	hash := f.createScript("f/me/plain", "bash", "echo hi\n")
	var st map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/scripts/deployment_status/h/"+hash, "", "").body), &st)
	if _, ok := st["lock"]; !ok || st["lock"] != nil || st["lock_error_logs"] != nil {
		t.Fatalf("deployment status: %v", st)
	}
	f.mustDo(404, "GET", "/api/w/local/scripts/deployment_status/h/0000000000000000", "", "")
}

// The workspace setting millrun has, webhook, is millrun's workspace
// webhook: wmill's edit_webhook sets it and get_settings reads it.
func TestWorkspaceWebhookSettingApplied(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mustDo(200, "POST", "/api/w/local/workspaces/edit_webhook", "application/json", `{"webhook":"http://127.0.0.1:9/hook"}`)
	var set struct {
		Settings struct {
			URL string `json:"workspace_webhook_url"`
		} `json:"settings"`
	}
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/millrun/settings", "", "").body), &set)
	if set.Settings.URL != "http://127.0.0.1:9/hook" {
		t.Fatalf("millrun's setting: %+v", set)
	}
	var ws map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/workspaces/get_settings", "", "").body), &ws)
	if ws["webhook"] != "http://127.0.0.1:9/hook" {
		t.Fatalf("get_settings: %v", ws)
	}
	f.mustDo(200, "POST", "/api/w/local/workspaces/edit_webhook", "application/json", `{}`)
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/workspaces/get_settings", "", "").body), &ws)
	if ws["webhook"] != nil {
		t.Fatalf("cleared: %v", ws["webhook"])
	}
}
