// Windmill's toolchain against millrun: variables, what the wmill CLI and
// windmill-client ask first, and the job updates `wmill script run` polls.
package engine

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/testkit"
)

// Variables work as Windmill's: a secret's value is never in get or list,
// only in get_value (which a job reaches with its own token); it is sealed
// on disk; resources can name it as "$var:<path>".
func TestVariables(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const secret = "xoxb-SECRET-4711"
	f.mustDo(201, "POST", "/api/w/local/variables/create", "application/json",
		`{"path":"u/me/slack_token","value":"`+secret+`","is_secret":true,"description":"Slack bot token"}`)
	f.mustDo(201, "POST", "/api/w/local/variables/create", "application/json", `{"path":"u/me/greeting","value":"hello","is_secret":false}`)
	f.mustDo(409, "POST", "/api/w/local/variables/create", "application/json", `{"path":"u/me/greeting","value":"again"}`)

	var got map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/variables/get/u/me/slack_token", "", "").body), &got)
	if got["value"] != nil || got["is_secret"] != true || got["description"] != "Slack bot token" {
		t.Fatalf("get of a secret: %v", got)
	}
	list := f.mustDo(200, "GET", "/api/w/local/variables/list", "", "").body
	if strings.Contains(list, secret) || !strings.Contains(list, `"value":"hello"`) {
		t.Fatalf("list: %s", list)
	}
	if v := f.mustDo(200, "GET", "/api/w/local/variables/get_value/u/me/slack_token", "", "").body; v != `"`+secret+`"` {
		t.Fatalf("get_value: %s", v)
	}
	if f.mustDo(200, "GET", "/api/w/local/variables/exists/u/me/nope", "", "").body != "false" {
		t.Fatal("exists says a missing variable exists")
	}
	// An update changes what it names and keeps the rest.
	f.mustDo(200, "POST", "/api/w/local/variables/update/u/me/slack_token", "application/json", `{"value":"`+secret+`-2"}`)
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/variables/get/u/me/slack_token", "", "").body), &got)
	if got["is_secret"] != true || got["description"] != "Slack bot token" {
		t.Fatalf("update lost what it did not name: %v", got)
	}
	f.mustDo(404, "POST", "/api/w/local/variables/update/u/me/nope", "application/json", `{"value":"x"}`)

	// A job reads it with the token it is given, as windmill-client's
	// getVariable does.
	f.createScript("u/me/reader", "python3", `import json, os, urllib.request
def main(base: str):
    req = urllib.request.Request(base + "/api/w/" + os.environ["WM_WORKSPACE"] + "/variables/get_value/u/me/slack_token",
        headers={"Authorization": "Bearer " + os.environ["WM_TOKEN"]})
    return json.load(urllib.request.urlopen(req)).endswith("-2")
`)
	if r := f.syncRun("u/me/reader", `{"base":"`+f.srv.URL+`"}`); r.body != "true" {
		t.Fatalf("a job could not read the variable: %s", r.body)
	}
	// A token scoped to one webhook cannot.
	scoped := f.mustDo(201, "POST", "/api/users/tokens/create", "application/json", `{"label":"hook","scopes":["jobs:run:scripts:u/me/reader"]}`).body
	if r := f.do("GET", "/api/w/local/variables/get_value/u/me/slack_token", "", "", "Authorization", "Bearer "+scoped); r.status < 400 {
		t.Fatalf("a scoped token read a secret: %d %s", r.status, r.body)
	}

	// "$var:" in a resource is filled in by get_value_interpolated only.
	f.resource("u/me/slack_bot", map[string]any{"token": "$var:u/me/slack_token", "channel": "#ops"})
	var plain, filled map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/resources/get_value/u/me/slack_bot", "", "").body), &plain)
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/resources/get_value_interpolated/u/me/slack_bot", "", "").body), &filled)
	if plain["token"] != "$var:u/me/slack_token" || filled["token"] != secret+"-2" || filled["channel"] != "#ops" {
		t.Fatalf("interpolation: plain %v, interpolated %v", plain, filled)
	}

	// On disk the value is sealed.
	f.e.Close(t.Context())
	for _, name := range []string{"millrun.db", "millrun.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(f.dir, name))
		if bytes.Contains(b, []byte("SECRET-4711")) {
			t.Fatalf("%s holds the secret in clear", name)
		}
	}
}

// What the wmill CLI and windmill-client ask before anything else.
func TestWhoamiWorkspacesAndExists(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var me map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/users/whoami", "", "").body), &me)
	if me["super_admin"] != true || me["username"] == "" || !strings.HasSuffix(me["email"].(string), "@millrun.local") {
		t.Fatalf("whoami: %v", me)
	}
	scoped := f.mustDo(201, "POST", "/api/users/tokens/create", "application/json", `{"label":"hook","scopes":["jobs:run:scripts:u/me/x"]}`).body
	json.Unmarshal([]byte(f.do("GET", "/api/w/local/users/whoami", "", "", "Authorization", "Bearer "+scoped).body), &me)
	if me["operator"] != true || me["is_admin"] != false {
		t.Fatalf("a scoped token's workspace whoami: %v", me)
	}
	for body, want := range map[string]string{`{"id":"local"}`: "true", `{"id":"elsewhere"}`: "false", `"local"`: "true"} {
		if got := f.mustDo(200, "POST", "/api/workspaces/exists", "application/json", body).body; got != want {
			t.Errorf("workspaces/exists %s: %q, want %q", body, got, want)
		}
	}
	if list := f.mustDo(200, "GET", "/api/workspaces/list", "", "").body; !strings.Contains(list, `"id":"local"`) {
		t.Fatalf("workspaces/list: %s", list)
	}
	f.createScript("u/me/here", "bash", "echo hi\n")
	if f.mustDo(200, "GET", "/api/w/local/scripts/exists/p/u/me/here", "", "").body != "true" ||
		f.mustDo(200, "GET", "/api/w/local/scripts/exists/p/u/me/gone", "", "").body != "false" ||
		f.mustDo(200, "GET", "/api/w/local/flows/exists/u/me/nope", "", "").body != "false" {
		t.Fatal("exists answers wrong")
	}
}

// `wmill script run` polls getupdate for the logs since its last offset and
// reads the finished job from completed/get.
func TestJobUpdateStreamsLogsAndCompletedGet(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/talk", "bash", "echo one\nsleep 1\necho two\n")
	id := f.mustDo(201, "POST", "/api/w/local/jobs/run/p/u/me/talk", "application/json", "{}").body
	f.mustDo(404, "GET", "/api/w/local/jobs_u/completed/get/"+id, "", "")
	var seen strings.Builder
	offset := 0.0
	for i := 0; i < 100; i++ {
		var u map[string]any
		json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/jobs_u/getupdate/"+id+"?running=true&log_offset="+strconv.Itoa(int(offset)), "", "").body), &u)
		seen.WriteString(u["new_logs"].(string))
		offset = u["log_offset"].(float64)
		if u["completed"] == true {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if seen.String() != "one\ntwo\n" {
		t.Fatalf("the updates' new_logs put together: %q, want each line once", seen.String())
	}
	var done map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/jobs_u/completed/get/"+id, "", "").body), &done)
	if done["type"] != "CompletedJob" || done["success"] != true || done["tag"] != "bash" || done["is_flow_step"] != false ||
		done["visible_to_owner"] != true || done["same_worker"] != false || done["is_skipped"] != false {
		t.Fatalf("completed/get lacks fields Windmill's CompletedJob always has: %v", done)
	}
}

// Deleting a script or flow removes every version: its URLs answer 404,
// exists says false, and its past runs stay in the history.
func TestDeleteScriptAndFlow(t *testing.T) {
	t.Parallel()
	f := setup(t)
	hash := f.createScript("u/me/old", "bash", "echo v1\n")
	f.createScript("u/me/old", "bash", "echo v2\n")
	done := f.syncRun("u/me/old", "{}")
	f.mustDo(200, "POST", "/api/w/local/scripts/delete/p/u/me/old", "", "")
	f.mustDo(404, "POST", "/api/w/local/jobs/run_wait_result/p/u/me/old", "application/json", "{}")
	f.mustDo(404, "POST", "/api/w/local/jobs/run_wait_result/h/"+hash, "application/json", "{}")
	if f.mustDo(200, "GET", "/api/w/local/scripts/exists/p/u/me/old", "", "").body != "false" {
		t.Fatal("a deleted script still exists")
	}
	if j := f.waitJob(done.header.Get("X-Millrun-Job-Id")); j["success"] != true {
		t.Fatalf("the deleted script's past run is gone from the history: %v", j)
	}
	f.mustDo(404, "POST", "/api/w/local/scripts/delete/p/u/me/old", "", "")

	f.createFlow("u/me/chain", `{"modules":[{"id":"a","value":`+raw("bash", "echo a\n", `{}`)+`}]}`)
	f.mustDo(200, "DELETE", "/api/w/local/flows/delete/u/me/chain", "", "")
	f.mustDo(404, "POST", "/api/w/local/jobs/run_wait_result/f/u/me/chain", "application/json", "{}")
}

// A job finds millrun where Windmill's clients look: windmill-client and
// the wmill Python package call BASE_INTERNAL_URL (or BASE_URL) + "/api",
// so those name the server's root, as Windmill's workers set them.
func TestJobEnvironmentNamesTheServerAsWindmillClientsExpect(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *Config) { c.BaseURL = "http://127.0.0.1:1/api" })
	f.createScript("u/me/where", "python3", `import os
def main():
    return [os.environ["BASE_INTERNAL_URL"] + "/api/w/" + os.environ["WM_WORKSPACE"] + "/variables/get_value/u/me/x",
            os.environ["BASE_URL"], os.environ["WM_BASE_URL"]]
`)
	r := f.syncRun("u/me/where", "{}")
	want := `["http://127.0.0.1:1/api/w/local/variables/get_value/u/me/x","http://127.0.0.1:1","http://127.0.0.1:1"]`
	if r.body != want {
		t.Fatalf("a job's view of the server:\n got  %s\n want %s", r.body, want)
	}
}

// The interpreter of a language can be chosen (a faster one than PATH's);
// a wrong path is refused in words; the choice applies at the next start,
// and Settings shows each interpreter's measured start time.
func TestChosenInterpreterAppliesAtNextStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := setup(t, func(c *Config) { c.DataDir = dir })
	s := f.e.Settings()
	s.InterpreterPaths = map[string]string{"bash": "/no/such/bash"}
	if err := f.e.UpdateSettings(t.Context(), s); err == nil || !strings.Contains(err.Error(), "no executable at /no/such/bash") {
		t.Fatalf("a missing interpreter: %v", err)
	}
	s.InterpreterPaths = map[string]string{"cobol": "/bin/true"}
	if err := f.e.UpdateSettings(t.Context(), s); err == nil || !strings.Contains(err.Error(), "not a language") {
		t.Fatalf("an unknown language: %v", err)
	}
	s.InterpreterPaths = map[string]string{"bash": "/bin/bash"}
	if err := f.e.UpdateSettings(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUntil(t, "a measured start time for bash", 10*time.Second, func() bool {
		var view struct {
			StartMS map[string]float64 `json:"start_ms"`
		}
		json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/millrun/settings", "", "").body), &view)
		return view.StartMS["bash"] > 0
	})
	f.srv.Close()
	f.e.Close(t.Context())
	e, err := Open(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(t.Context())
	if got := e.Interpreters().Bash; got != "/bin/bash" {
		t.Fatalf("after a restart bash is %s, want the chosen /bin/bash", got)
	}
}
