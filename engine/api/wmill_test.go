package api

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/store"
)

// The routes wmill's set_resource and set_state use, in Windmill's
// shapes: any JSON as a value, update_value keeping type and description.
func TestResourceValuesForWmill(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if code, body := f.do("POST", "/api/w/local/resources/create", `{"path":"u/me/counter/user","value":3,"resource_type":"state"}`); code != 201 {
		t.Fatalf("create with a number: %d %s", code, body)
	}
	if code, body := f.do("GET", "/api/w/local/resources/get_value_interpolated/u/me/counter/user", ""); code != 200 || body != "3" {
		t.Fatalf("a number back: %d %q", code, body)
	}
	if code, body := f.do("POST", "/api/w/local/resources/update_value/u/me/counter/user", `{"value":[1,"two",null]}`); code != 200 || body != "value of resource u/me/counter/user updated" {
		t.Fatalf("update_value: %d %q", code, body)
	}
	var res map[string]any
	code, body := f.do("GET", "/api/w/local/resources/get/u/me/counter/user", "")
	json.Unmarshal([]byte(body), &res)
	if v, _ := res["value"].([]any); code != 200 || len(v) != 3 || res["resource_type"] != "state" {
		t.Fatalf("after update_value: %d %s", code, body)
	}
	if code, body := f.do("POST", "/api/w/local/resources/update_value/u/me/counter/user", `{"value":null}`); code != 200 {
		t.Fatalf("update_value to null: %d %s", code, body)
	}
	if code, body := f.do("GET", "/api/w/local/resources/get_value_interpolated/u/me/counter/user", ""); code != 200 || body != "null" {
		t.Fatalf("null back: %d %q", code, body)
	}
	if code, body := f.do("POST", "/api/w/local/resources/update_value/u/me/nope", `{"value":1}`); code != 404 || body != "Not found: resource u/me/nope" {
		t.Fatalf("update_value of nothing: %d %q", code, body)
	}
	if code, body := f.do("POST", "/api/w/local/resources/update_value/u/me/counter/user", `{"value":`); code != 400 {
		t.Fatalf("a bad body: %d %q", code, body)
	}

	// $var: references are filled in lists and nested objects too.
	f.do("POST", "/api/w/local/variables/create", `{"path":"u/me/pw","value":"hunter2","is_secret":true,"description":""}`)
	f.do("POST", "/api/w/local/resources/create", `{"path":"u/me/db","value":{"hosts":[{"pw":"$var:u/me/pw"}],"list":["$var:u/me/pw"]},"resource_type":"postgresql"}`)
	if code, body := f.do("GET", "/api/w/local/resources/get_value_interpolated/u/me/db", ""); code != 200 || body != `{"hosts":[{"pw":"hunter2"}],"list":["hunter2"]}` {
		t.Fatalf("interpolated: %d %s", code, body)
	}
	// A value that is itself a reference.
	f.do("POST", "/api/w/local/resources/create", `{"path":"u/me/ref","value":"$var:u/me/pw","resource_type":"x"}`)
	if code, body := f.do("GET", "/api/w/local/resources/get_value_interpolated/u/me/ref", ""); code != 200 || body != `"hunter2"` {
		t.Fatalf("a reference as the value: %d %s", code, body)
	}
	f.do("POST", "/api/w/local/resources/create", `{"path":"u/me/broken","value":["$var:u/me/gone"],"resource_type":"x"}`)
	if code, body := f.do("GET", "/api/w/local/resources/get_value_interpolated/u/me/broken", ""); code != 400 || body != "Bad request: resource u/me/broken: field [0] names variable u/me/gone, which does not exist: create it, or change the field" {
		t.Fatalf("a missing variable: %d %q", code, body)
	}
	// Windmill's variables/get answers 404 for what does not exist: wmill's
	// set_variable creates the variable then.
	if code, _ := f.do("GET", "/api/w/local/variables/get/u/me/nope", ""); code != 404 {
		t.Fatalf("variables/get of nothing: %d", code)
	}
}

// get_root_job_id: a flow step's flow, else the job itself, as a JSON
// string; a scoped token reads only its own jobs' roots.
func TestRootJobID(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	flow := &store.Job{Workspace: "local", Kind: "script", ScriptPath: "u/me/echo", Language: "bash", Args: `{}`}
	if err := f.queue.Enqueue(ctx, flow); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	step := &store.Job{ID: "5e1b6f0e-0000-4000-8000-000000000001", Workspace: "local", Kind: "preview", ScriptPath: "u/me/flow/a",
		Status: store.StatusQueued, ParentJob: flow.ID, Args: "{}", CreatedAt: now, ScheduledFor: now}
	if err := f.db.InsertJob(ctx, step); err != nil {
		t.Fatal(err)
	}
	if code, body := f.do("GET", "/api/w/local/jobs_u/get_root_job_id/"+flow.ID, ""); code != 200 || body != `"`+flow.ID+`"` {
		t.Fatalf("a root job: %d %s", code, body)
	}
	if code, body := f.do("GET", "/api/w/local/jobs_u/get_root_job_id/"+step.ID, ""); code != 200 || body != `"`+flow.ID+`"` {
		t.Fatalf("a step: %d %s", code, body)
	}
	if code, _ := f.do("GET", "/api/w/local/jobs_u/get_root_job_id/5e1b6f0e-0000-4000-8000-00000000dead", ""); code != 404 {
		t.Fatalf("an unknown job: %d", code)
	}
	f.as = &auth.Identity{Label: "hook", TokenID: 99, Scopes: []string{auth.RunScope(auth.KindScript, "u/me/echo")}}
	if code, _ := f.do("GET", "/api/w/local/jobs_u/get_root_job_id/"+flow.ID, ""); code != 404 {
		t.Fatalf("a scoped token read another caller's job: %d", code)
	}
}
