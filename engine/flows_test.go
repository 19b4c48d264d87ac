package engine

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/testkit"
)

func (f *fixture) createFlow(path, value string) {
	f.t.Helper()
	r := f.do("POST", "/api/w/local/flows/create", "application/json", `{"path":"`+path+`","summary":"test flow","value":`+value+`}`)
	if r.status != 201 || r.body != path {
		f.t.Fatalf("create flow %s: %d %s", path, r.status, r.body)
	}
}

func raw(lang, content string, transforms string) string {
	c, _ := json.Marshal(content)
	return `{"type":"rawscript","language":"` + lang + `","content":` + string(c) + `,"input_transforms":` + transforms + `}`
}

func flowStatus(t *testing.T, j map[string]any) []map[string]any {
	t.Helper()
	fs, ok := j["flow_status"].(map[string]any)
	if !ok {
		t.Fatalf("no flow_status: %v", j)
	}
	var out []map[string]any
	for _, m := range fs["modules"].([]any) {
		out = append(out, m.(map[string]any))
	}
	return out
}

func TestFlowThreeLanguages(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/shout", "bash", "text=\"$1\"\necho \"${text^^}!\"\n")
	f.createFlow("u/me/pipeline", `{"modules":[
		{"id":"a","value":`+raw("python3", "def main(name: str):\n    print('step a')\n    return {'greeting': 'hello ' + name}\n", `{"name":{"type":"javascript","expr":"flow_input.name"}}`)+`},
		{"id":"b","value":`+raw("bun", "export async function main(g: string, n: number) { return g.greeting + ' x' + n }\n", `{"g":{"type":"javascript","expr":"results.a"},"n":{"type":"static","value":3}}`)+`},
		{"id":"c","value":{"type":"script","path":"u/me/shout","input_transforms":{"text":{"type":"javascript","expr":"previous_result"}}}}
	]}`)
	r := f.do("POST", "/api/w/local/jobs/run_wait_result/f/u/me/pipeline", "application/json", `{"name":"ann"}`)
	if r.status != 200 || r.body != `"HELLO ANN X3!"` {
		t.Fatalf("sync flow: %d %s", r.status, r.body)
	}
	id := r.header.Get("X-Millrun-Job-Id")
	j := f.waitJob(id)
	if j["job_kind"] != "flow" || j["success"] != true || !strings.Contains(j["logs"].(string), "step a") {
		t.Fatalf("flow job: %v", j)
	}
	mods := flowStatus(t, j)
	if len(mods) != 3 {
		t.Fatalf("modules: %v", mods)
	}
	for _, m := range mods {
		if m["type"] != "Success" || m["job"] == nil {
			t.Fatalf("module status: %v", m)
		}
	}
	step := f.waitJob(mods[1]["job"].(string))
	if step["parent_job"] != id || step["result"] != "hello ann x3" || compactJSON(mustJSON(step["args"])) != `{"g":{"greeting":"hello ann"},"n":3}` {
		t.Fatalf("step b job: %v", step)
	}
	// Flow steps stay out of the runs list unless asked for.
	var listed []map[string]any
	json.Unmarshal([]byte(f.do("GET", "/api/w/local/jobs/list", "", "").body), &listed)
	for _, l := range listed {
		if l["id"] == mods[0]["job"] || l["parent_job"] != nil {
			t.Fatalf("a flow step is listed among the runs: %v", l)
		}
	}
	// Async flow route, by the client's path.
	r = f.do("POST", "/api/w/local/jobs/run/f/u/me/pipeline", "application/json", `{"name":"bo"}`)
	if j := f.waitJob(r.body); j["result"] != "HELLO BO X3!" {
		t.Fatalf("async flow: %v", j)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestFlowEarlyReturn(t *testing.T) {
	t.Parallel()
	f := setup(t)
	done := t.TempDir() + "/step-c-done"
	f.createFlow("u/me/slack", `{"early_return":"ack","modules":[
		{"id":"ack","value":`+raw("python3", "def main(text: str):\n    return {'windmill_status_code': 200, 'result': {'response_type': 'ephemeral', 'text': 'on it: ' + text}}\n", `{"text":{"type":"javascript","expr":"flow_input.text"}}`)+`},
		{"id":"work","value":`+raw("bash", "sleep 2\necho worked\n", `{}`)+`},
		{"id":"c","value":`+raw("bash", "touch "+done+"\necho finished\n", `{}`)+`}
	]}`)
	start := time.Now()
	r := f.do("POST", "/api/w/local/jobs/run_wait_result/f/u/me/slack", "application/x-www-form-urlencoded", "text=deploy")
	elapsed := time.Since(start)
	if r.status != 200 || compactJSON(r.body) != `{"response_type":"ephemeral","text":"on it: deploy"}` {
		t.Fatalf("early answer: %d %s", r.status, r.body)
	}
	if elapsed > 1500*time.Millisecond || fileExists(done) {
		t.Fatalf("the early answer waited for later steps: %s", elapsed)
	}
	t.Logf("early return answered in %s; the flow's slow step takes 2s", elapsed)
	j := f.waitJob(r.header.Get("X-Millrun-Job-Id"))
	if j["success"] != true || j["result"] != "finished" || !fileExists(done) {
		t.Fatalf("the flow did not go on to completion: %v", j)
	}
	// The run says what the caller got, from which step and when.
	fs, _ := j["flow_status"].(map[string]any)
	early, _ := fs["early_answer"].(map[string]any)
	after, _ := early["after_ms"].(float64)
	if early["step"] != "ack" || after > float64(elapsed.Milliseconds()) || !strings.Contains(mustJSON(early["result"]), "on it: deploy") {
		t.Fatalf("flow_status.early_answer: %v", early)
	}
}

func TestFlowFailingStep(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createFlow("u/me/breaks", `{"modules":[
		{"id":"a","value":`+raw("bash", "echo fine\n", `{}`)+`},
		{"id":"b","value":`+raw("python3", "def main():\n    raise RuntimeError('disk full')\n", `{}`)+`},
		{"id":"c","value":`+raw("bash", "echo never\n", `{}`)+`}
	]}`)
	r := f.do("POST", "/api/w/local/jobs/run_wait_result/f/u/me/breaks", "application/json", `{}`)
	e := failure(t, r.body)
	if r.header.Get("X-Millrun-Job-Success") != "false" || e["step_id"] != "b" || e["name"] != "RuntimeError" || !strings.Contains(e["message"].(string), "step b failed: disk full") {
		t.Fatalf("failed flow: %s", r.body)
	}
	mods := flowStatus(t, f.waitJob(r.header.Get("X-Millrun-Job-Id")))
	if mods[0]["type"] != "Success" || mods[1]["type"] != "Failure" || mods[2]["type"] != "WaitingForPriorSteps" || mods[2]["job"] != nil {
		t.Fatalf("later steps ran or statuses are wrong: %v", mods)
	}
}

func TestFlowExpressionErrors(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createFlow("u/me/badexpr", `{"modules":[{"id":"a","value":`+raw("bash", "x=\"$1\"\necho \"$x\"\n", `{"x":{"type":"javascript","expr":"flow_input.missing.deeper"}}`)+`}]}`)
	e := failure(t, f.do("POST", "/api/w/local/jobs/run_wait_result/f/u/me/badexpr", "application/json", `{}`).body)
	if e["name"] != "ExpressionError" || !strings.Contains(e["message"].(string), "step a, input x (flow_input.missing.deeper): TypeError") {
		t.Errorf("expression error: %v", e)
	}
	f.createFlow("u/me/spin", `{"modules":[{"id":"a","value":`+raw("bash", "x=\"$1\"\necho \"$x\"\n", `{"x":{"type":"javascript","expr":"(() => { while (true) {} })()"}}`)+`}]}`)
	start := time.Now()
	e = failure(t, f.do("POST", "/api/w/local/jobs/run_wait_result/f/u/me/spin", "application/json", `{}`).body)
	if !strings.Contains(e["message"].(string), "ran longer than 1s and was stopped") || time.Since(start) > 5*time.Second {
		t.Errorf("runaway expression: %v after %s", e, time.Since(start))
	}
}

func TestFlowValidation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cases := []struct{ value, want string }{
		{`{"modules":[]}`, "no steps"},
		{`{"modules":[{"id":"a","value":{"type":"forloopflow"}}]}`, `a for loop needs an iterator`},
		{`{"modules":[{"id":"a","value":{"type":"aiagent","tools":[]}}]}`, `module type "aiagent" is not supported`},
		{`{"modules":[{"id":"a","value":{"type":"script","path":"u/me/nope","input_transforms":{}}}]}`, "no script at u/me/nope"},
		{`{"modules":[{"id":"a","value":` + raw("bash", "echo", `{"x":{"type":"javascript","expr":"1 +"}}`) + `}]}`, "does not parse"},
		{`{"early_return":"zz","modules":[{"id":"a","value":` + raw("bash", "echo", `{}`) + `}]}`, `early_return names step "zz"`},
		{`{"modules":[{"id":"a","value":` + raw("bash", "echo", `{}`) + `},{"id":"a","value":` + raw("bash", "echo", `{}`) + `}]}`, "used twice"},
		{`{"modules":[{"id":"a b","value":` + raw("bash", "echo", `{}`) + `}]}`, "letters, digits"},
		{`{"modules":[{"id":"a","value":` + raw("python3", "print(1)", `{}`) + `}]}`, "no main function"},
	}
	for _, c := range cases {
		r := f.do("POST", "/api/w/local/flows/create", "application/json", `{"path":"u/me/f","value":`+c.value+`}`)
		if r.status != 400 || !strings.Contains(r.body, c.want) {
			t.Errorf("%s: %d %s, want 400 %q", c.value, r.status, r.body, c.want)
		}
	}
	if r := f.do("POST", "/api/w/local/jobs/run/f/u/me/none", "application/json", `{}`); r.status != 404 {
		t.Errorf("unknown flow: %d", r.status)
	}
	f.createFlow("u/me/ok", `{"modules":[{"id":"a","value":`+raw("bash", "echo ok\n", `{}`)+`}]}`)
	r := f.do("GET", "/api/w/local/flows/get/u/me/ok", "", "")
	if r.status != 200 || !strings.Contains(r.body, `"modules"`) {
		t.Errorf("get flow: %d %s", r.status, r.body)
	}
	r = f.do("GET", "/api/w/local/flows/list", "", "")
	if !strings.Contains(r.body, `"path":"u/me/ok"`) {
		t.Errorf("list flows: %s", r.body)
	}
}

func TestFlowScopes(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createFlow("u/me/hookflow", `{"modules":[{"id":"a","value":`+raw("bash", "echo ok\n", `{}`)+`}]}`)
	flowTok, _ := f.e.CreateToken(context.Background(), "flow", []string{"jobs:run:flows:u/me/hookflow"}, time.Time{})
	scriptTok, _ := f.e.CreateToken(context.Background(), "script", []string{"jobs:run:scripts:u/me/hookflow"}, time.Time{})
	if r := f.do("POST", "/api/w/local/jobs/run_wait_result/f/u/me/hookflow", "application/json", `{}`, "Authorization", "Bearer "+flowTok); r.status != 200 {
		t.Errorf("flow-scoped token: %d %s", r.status, r.body)
	}
	r := f.do("POST", "/api/w/local/jobs/run_wait_result/f/u/me/hookflow", "application/json", `{}`, "Authorization", "Bearer "+scriptTok)
	if r.status != 401 || r.body != "Not authorized: Required scope: jobs:run:flows:u/me/hookflow" {
		t.Errorf("script-scoped token on a flow: %d %s", r.status, r.body)
	}
}

// A quit (Close, the grace period past) does not fail a flow: it goes on
// at the next start from the step that was running, which runs again,
// and the run says so.
func TestFlowInterruptedByShutdownResumes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marks := t.TempDir()
	f := setup(t, func(c *Config) { c.DataDir = dir; c.ShutdownGrace = 200 * time.Millisecond })
	f.createFlow("u/me/long", `{"modules":[
		{"id":"a","value":`+raw("bash", "echo a >> "+marks+"/a\necho a\n", `{}`)+`},
		{"id":"b","value":`+raw("bash", "echo b >> "+marks+"/b\nif [ ! -e "+marks+"/go ]; then sleep 30; fi\necho b\n", `{}`)+`},
		{"id":"c","value":`+raw("bash", "echo c >> "+marks+"/c\necho done\n", `{}`)+`}
	]}`)
	id := f.do("POST", "/api/w/local/jobs/run/f/u/me/long", "application/json", `{}`).body
	testkit.WaitUntil(t, "step b to start", 10*time.Second, func() bool {
		return strings.Contains(f.do("GET", "/api/w/local/jobs_u/get/"+id, "", "").body, `"id":"b","job"`)
	})
	time.Sleep(200 * time.Millisecond) // b is in its sleep
	f.srv.Close()
	f.e.Close(context.Background())
	os.WriteFile(marks+"/go", nil, 0o600)

	g := setup(t, func(c *Config) { c.DataDir = dir })
	j := g.waitJob(id)
	if j["success"] != true || j["result"] != "done" {
		t.Fatalf("the flow after the restart: %v", j)
	}
	mods := flowStatus(t, j)
	if mods[1]["type"] != "Success" || len(mods[1]["interrupted"].([]any)) != 1 || !strings.Contains(j["logs"].(string), "step b was running when millrun stopped") {
		t.Fatalf("step b's status after the restart: %v\n%s", mods[1], j["logs"])
	}
	for step, want := range map[string]string{"a": "a\n", "b": "b\nb\n", "c": "c\n"} {
		if b, _ := os.ReadFile(marks + "/" + step); string(b) != want {
			t.Errorf("step %s ran %q, want %q", step, b, want)
		}
	}
}

// The New flow page's example, saved as the page saves it (no schema) and
// called as its curl snippet says (-d '{}'): its input `text` defaults to
// ” as the step's signature says, so the flow answers instead of failing
// on None.
func TestFlowNewPageExampleRunsWithEmptyBody(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createFlow("u/me/example", `{"early_return":"ack","modules":[
		{"id":"ack","value":`+raw("python3", "def main(text: str = ''):\n    return {'text': 'on it: ' + text}\n", `{"text":{"type":"javascript","expr":"flow_input.text"}}`)+`},
		{"id":"work","value":`+raw("bash", "echo working\n", `{}`)+`}
	]}`)
	r := f.do("GET", "/api/w/local/flows/get/u/me/example", "", "")
	var flow struct {
		Schema struct {
			Properties map[string]map[string]any `json:"properties"`
		} `json:"schema"`
	}
	json.Unmarshal([]byte(r.body), &flow)
	if p := flow.Schema.Properties["text"]; p == nil || p["default"] != "" || p["type"] != "string" {
		t.Errorf("the saved flow's schema does not offer text with the step's default: %s", r.body)
	}
	r = f.do("POST", "/api/w/local/jobs/run_wait_result/f/u/me/example", "application/json", `{}`)
	if r.status != 200 || compactJSON(r.body) != `{"text":"on it: "}` {
		t.Fatalf("the example called with {}: %d %s", r.status, r.body)
	}
	j := f.waitJob(r.header.Get("X-Millrun-Job-Id"))
	if j["success"] != true {
		t.Fatalf("the example flow failed: %v", j)
	}
	for _, m := range flowStatus(t, j) {
		if m["type"] != "Success" {
			t.Errorf("step %v ended %v", m["id"], m["type"])
		}
	}
}

// A flow's schema defaults fill the fields a caller leaves out, as a
// script's signature defaults do.
func TestFlowSchemaDefaultsFillOmittedInput(t *testing.T) {
	t.Parallel()
	f := setup(t)
	body := `{"path":"u/me/defaults","summary":"","schema":{"type":"object","properties":{"greeting":{"type":"string","default":"hi"},"n":{"type":"integer","default":2},"who":{"type":"string"}},"required":[]},
		"value":{"modules":[{"id":"a","value":` + raw("python3", "def main(greeting, n, who):\n    return f'{greeting} {who} x{n}'\n",
		`{"greeting":{"type":"javascript","expr":"flow_input.greeting"},"n":{"type":"javascript","expr":"flow_input.n"},"who":{"type":"javascript","expr":"flow_input.who"}}`) + `}]}}`
	if r := f.do("POST", "/api/w/local/flows/create", "application/json", body); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	r := f.do("POST", "/api/w/local/jobs/run_wait_result/f/u/me/defaults", "application/json", `{"who":"ann","n":5}`)
	if r.status != 200 || r.body != `"hi ann x5"` {
		t.Fatalf("defaults for omitted fields: %d %s", r.status, r.body)
	}
}

// A flow's steps are listed Windmill's way (parent_job, job_kinds,
// is_flow_step; has_null_parent keeps the top level), and
// jobs_u/get_logs answers a flow with its steps' logs under headers, a
// loop's iterations included.
func TestFlowStepsListedAndLogged(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createFlow("u/me/listed", `{"modules":[
		{"id":"a","value":`+raw("bash", "echo from a\n", `{}`)+`},
		{"id":"loop","value":{"type":"forloopflow","iterator":{"type":"static","value":[1,2]},"skip_failures":false,"modules":[
			{"id":"each","value":`+raw("python3", "def main(n):\n    print(f'item {n}')\n    return n\n", `{"n":{"type":"javascript","expr":"flow_input.iter.value"}}`)+`}]}}
	]}`)
	r := f.do("POST", "/api/w/local/jobs/run_wait_result/f/u/me/listed", "application/json", `{}`)
	id := r.header.Get("X-Millrun-Job-Id")
	if r.status != 200 || r.body != "[1,2]" {
		t.Fatalf("flow: %d %s", r.status, r.body)
	}
	f.waitJob(id)
	list := func(query string) []map[string]any {
		var out []map[string]any
		json.Unmarshal([]byte(f.do("GET", "/api/w/local/jobs/list?"+query, "", "").body), &out)
		return out
	}
	kinds := func(jobs []map[string]any) string {
		var k []string
		for _, j := range jobs {
			k = append(k, j["job_kind"].(string))
		}
		sort.Strings(k)
		return strings.Join(k, ",")
	}
	if got := kinds(list("parent_job=" + id)); got != "flownode,flownode,flowscript" {
		t.Errorf("children of the flow: %s", got)
	}
	// wmill job list --parent: its default kinds leave iterations out.
	if got := kinds(list("parent_job=" + id + "&job_kinds=script,flow,singlestepflow,flowscript,flowdependencies")); got != "flowscript" {
		t.Errorf("wmill job list --parent: %s", got)
	}
	// wmill job list --all: steps at every level, no iterations.
	all := list("job_kinds=script,flow,singlestepflow,flowscript,flowdependencies")
	if got := kinds(all); got != "flow,flowscript,flowscript,flowscript" {
		t.Errorf("wmill job list --all: %s", got)
	}
	if got := kinds(list("job_kinds=script,flow,singlestepflow&has_null_parent=true")); got != "flow" {
		t.Errorf("wmill job list: %s", got)
	}
	for _, j := range list("is_flow_step=true") {
		if j["parent_job"] == nil || j["is_flow_step"] != true {
			t.Errorf("is_flow_step=true listed %v", j)
		}
	}
	logs := f.do("GET", "/api/w/local/jobs_u/get_logs/"+id, "", "")
	want := "\n====== a ======\nfrom a\n\n====== loop (iteration 0) ======\n\n====== each ======\nitem 1\n\n====== loop (iteration 1) ======\n\n====== each ======\nitem 2\n"
	if logs.status != 200 || logs.body != want {
		t.Errorf("get_logs of the flow: %d %q", logs.status, logs.body)
	}
	step := list("parent_job=" + id + "&job_kinds=flowscript")[0]["id"].(string)
	if l := f.do("GET", "/api/w/local/jobs_u/get_logs/"+step, "", ""); l.body != "from a\n" {
		t.Errorf("get_logs of a step: %q", l.body)
	}
	var root string
	iter := list("parent_job=" + id + "&job_kinds=flownode")[0]["id"].(string)
	inner := list("parent_job=" + iter)[0]["id"].(string)
	json.Unmarshal([]byte(f.do("GET", "/api/w/local/jobs_u/get_root_job_id/"+inner, "", "").body), &root)
	if root != id {
		t.Errorf("root of a step inside a loop: %s, want %s", root, id)
	}
}
