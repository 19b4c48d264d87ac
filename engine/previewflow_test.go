package engine

import (
	"encoding/json"
	"strings"
	"testing"
)

// The flow editor's Test and `wmill flow preview`: a flow that is not
// saved runs from its request, nested steps, defaults and all.
func TestFlowPreview(t *testing.T) {
	t.Parallel()
	f := setup(t)
	value := `{"modules":[
		{"id":"each","value":{"type":"forloopflow","iterator":{"type":"javascript","expr":"flow_input.items"},"skip_failures":false,"modules":[
			{"id":"pick","value":{"type":"branchone","branches":[
				{"summary":"big","expr":"flow_input.iter.value > 1","modules":[{"id":"big","value":` + raw("python3", "def main(n: int, word: str = 'many'):\n    return word + str(n)\n", `{"n":{"type":"javascript","expr":"flow_input.iter.value"},"word":{"type":"javascript","expr":"flow_input.word"}}`) + `}]}],
				"default":[{"id":"small","value":{"type":"identity"}}]}}]}},
		{"id":"last","value":` + raw("bash", "x=\"$1\"\necho \"got $x\"\n", `{"x":{"type":"javascript","expr":"JSON.stringify(results.each[1])"}}`) + `}]}`
	r := f.do("POST", "/api/w/local/jobs/run/preview_flow", "application/json", `{"path":"u/me/draft","args":{"items":[1,2]},"value":`+value+`}`)
	if r.status != 201 {
		t.Fatalf("preview_flow: %d %s", r.status, r.body)
	}
	j := f.waitJob(r.body)
	// word was left out: the step's default fills it, as for a saved flow.
	if j["job_kind"] != "flowpreview" || j["script_path"] != "u/me/draft" || j["success"] != true || j["result"] != `got "many2"` {
		t.Fatalf("preview job: %v", j)
	}
	mods := flowStatus(t, j)
	if len(mods) != 2 || mods[0]["id"] != "each" || len(mods[0]["flow_jobs"].([]any)) != 2 {
		t.Fatalf("flow_status of the preview: %v", mods)
	}
	iter := f.waitJob(mods[0]["flow_jobs"].([]any)[1].(string))
	if chosen := flowStatus(t, iter)[0]["branch_chosen"]; compactJSON(mustJSON(chosen)) != `{"branch":0,"type":"branch"}` {
		t.Fatalf("the second iteration's branch: %v", chosen)
	}
	if logs := f.do("GET", "/api/w/local/jobs_u/get_logs/"+r.body, "", ""); !strings.Contains(logs.body, "====== last ======") {
		t.Fatalf("preview logs: %s", logs.body)
	}
	// Nothing was saved.
	if l := f.do("GET", "/api/w/local/flows/list", "", ""); l.body != "[]" {
		t.Fatalf("a preview saved a flow: %s", l.body)
	}

	// A draft's mistakes are a 400 at once, in the words a save uses.
	for body, want := range map[string]string{
		`{"args":{}}`: "value is missing",
		`{"value":{"modules":[{"id":"1a","value":{"type":"identity"}}]},"args":{}}`:               "step id",
		`{"value":` + value + `,"args":[1]}`:                                                      "args must be a JSON object",
		`{"value":` + value + `,"args":{},"restarted_from":{"flow_job_id":"x","step_id":"last"}}`: "restart",
	} {
		if r := f.do("POST", "/api/w/local/jobs/run/preview_flow", "application/json", body); r.status != 400 || !strings.Contains(r.body, want) {
			t.Errorf("%s: %d %s (want 400 with %q)", body, r.status, r.body, want)
		}
	}
	// Previews run any code: a token scoped to one webhook cannot.
	tok := f.do("POST", "/api/users/tokens/create", "application/json", `{"label":"hook","scopes":["jobs:run:flows:u/me/draft"]}`)
	if r := f.do("POST", "/api/w/local/jobs/run/preview_flow", "application/json", `{"value":`+value+`,"args":{}}`, "Authorization", "Bearer "+tok.body); r.status != 401 {
		t.Fatalf("a scoped token previewed a flow: %d %s", r.status, r.body)
	}
}

// The editor keeps a flow's schema only when it is not the one millrun
// inferred; the route says which that is.
func TestFlowInferredSchema(t *testing.T) {
	t.Parallel()
	f := setup(t)
	value := `{"modules":[{"id":"a","value":` + raw("python3", "def main(text: str = 'hi'):\n    return text\n", `{"text":{"type":"javascript","expr":"flow_input.text"}}`) + `}]}`
	r := f.do("POST", "/api/millrun/flows/inferred_schema", "application/json", `{"value":`+value+`}`)
	var s struct {
		Properties map[string]struct {
			Default any `json:"default"`
		} `json:"properties"`
		Order []string `json:"order"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &s) != nil || s.Properties["text"].Default != "hi" {
		t.Fatalf("inferred schema: %d %s", r.status, r.body)
	}
	f.createFlow("u/me/inferred", value)
	var saved map[string]json.RawMessage
	json.Unmarshal([]byte(f.do("GET", "/api/w/local/flows/get/u/me/inferred", "", "").body), &saved)
	if compactJSON(string(saved["schema"])) != compactJSON(r.body) {
		t.Fatalf("the saved flow's schema %s is not the inferred one %s", saved["schema"], r.body)
	}
}

// An approval step in a draft waits as in a saved flow, and the run
// page's Approve lets the test run go on.
func TestFlowPreviewApproval(t *testing.T) {
	t.Parallel()
	f := setup(t, served)
	value := `{"modules":[{"id":"ask","value":` + raw("bash", "echo asking\n", `{}`) + `,"suspend":{"required_events":1,"timeout":600}},
		{"id":"act","value":` + raw("python3", "def main(r):\n    return r\n", `{"r":{"type":"javascript","expr":"resume"}}`) + `}]}`
	id := f.mustDo(201, "POST", "/api/w/local/jobs/run/preview_flow", "application/json", `{"path":"u/me/draft","args":{},"value":`+value+`}`).body
	step := f.waitingStep(id)
	f.mustDo(200, "POST", "/api/millrun/jobs/"+id+"/approval", "application/json", `{"approved":true,"step_job":"`+step+`","value":{"ok":1}}`)
	if j := f.waitJob(id); j["success"] != true || compactJSON(mustJSON(j["result"])) != `{"ok":1}` {
		t.Fatalf("the approved preview: %v", j)
	}
}
