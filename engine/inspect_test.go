package engine

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/testkit"
)

func (f *fixture) requests(query string) []map[string]any {
	f.t.Helper()
	var list []map[string]any
	// Requests are recorded after the answer, without waiting for the disk.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := f.mustDo(200, "GET", "/api/millrun/requests"+query, "", "")
		list = nil
		json.Unmarshal([]byte(r.body), &list)
		if len(list) > 0 || time.Now().After(deadline) {
			return list
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Every webhook and route request is kept with what millrun decided, with
// tokens and secrets redacted; a refused one says why.
func TestInspectorRecordsAndRedacts(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/hi", "python3", "def main(name: str = 'x'):\n    return 'hi ' + name\n")
	r := f.syncRun("u/me/hi", `{"name":"ann"}`)
	jobID := r.header.Get("X-Millrun-Job-Id")
	f.do("POST", "/api/w/local/jobs/run_wait_result/p/u/me/hi?token="+f.token, "application/json", `{"name":"q"}`, "Authorization", "")
	f.do("POST", "/api/w/local/jobs/run_wait_result/p/u/me/hi", "application/json", `{}`, "Authorization", "Bearer wrongwrongwrongwrongwrongwrong12")

	list := f.requests("?job_id=" + jobID)
	if len(list) != 1 {
		t.Fatalf("requests for job %s: %v", jobID, list)
	}
	got := list[0]
	if got["status"] != float64(200) || got["auth_ok"] != true || got["auth_reason"] != "token test" || got["method"] != "POST" || got["caller_ip"] != "127.0.0.1" {
		t.Fatalf("recorded: %v", got)
	}
	id := strconv.Itoa(int(got["id"].(float64)))
	one := f.mustDo(200, "GET", "/api/millrun/requests/"+id, "", "")
	if !strings.Contains(one.body, `"body":"{\"name\":\"ann\"}"`) || !strings.Contains(one.body, `"Authorization":"[redacted]"`) {
		t.Fatalf("request detail: %s", one.body)
	}
	all := f.mustDo(200, "GET", "/api/millrun/requests", "", "").body
	if strings.Contains(all, f.token) {
		t.Fatalf("a token is in the inspector: %s", all)
	}
	failed := f.requests("?failed=true")
	if len(failed) != 1 || failed[0]["auth_ok"] != false || !strings.Contains(fmt.Sprint(failed[0]["auth_reason"]), "Unauthorized") {
		t.Fatalf("refused request: %v", failed)
	}
	// A token that is valid but scoped elsewhere: refused, and the reason
	// is the refusal, not the token's name.
	other := f.mustDo(201, "POST", "/api/users/tokens/create", "application/json", `{"label":"other","scopes":["jobs:run:scripts:u/me/other"]}`).body
	f.do("POST", "/api/w/local/jobs/run_wait_result/p/u/me/hi", "application/json", `{}`, "Authorization", "Bearer "+other)
	deadline := time.Now().Add(5 * time.Second)
	for len(failed) < 2 && time.Now().Before(deadline) {
		failed = f.requests("?failed=true")
	}
	if len(failed) != 2 || failed[0]["auth_ok"] != false || !strings.Contains(fmt.Sprint(failed[0]["auth_reason"]), "Required scope: jobs:run:scripts:u/me/hi") {
		t.Fatalf("scoped-elsewhere token: %v", failed)
	}
	// Scoped tokens cannot read what others sent.
	scoped := f.mustDo(201, "POST", "/api/users/tokens/create", "application/json", `{"label":"hook","scopes":["jobs:run:scripts:u/me/hi"]}`).body
	f.mustDo(401, "GET", "/api/millrun/requests", "", "", "Authorization", "Bearer "+scoped)
}

// Replay sends a signed request through its route again: a new job with
// the same arguments, marked as a replay, though its signature is old.
func TestReplay(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/deploy", "python3", "def main(text: str = ''):\n    return 'deploying ' + text\n")
	const secret = "s3cr3t-signing"
	f.slackDeployRoute(secret)
	body := "text=api"
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	r := f.anon("POST", "/api/r/slack/deploy", "application/x-www-form-urlencoded", body, "X-Slack-Request-Timestamp", ts, "X-Slack-Signature", slackSign(secret, ts, body))
	first := r.header.Get("X-Millrun-Job-Id")
	if r.status != 200 || first == "" {
		t.Fatalf("signed request: %d %s", r.status, r.body)
	}
	list := f.requests("?job_id=" + first)
	if len(list) != 1 || list[0]["route"] != "u/me/slack_deploy" || list[0]["auth_reason"] != "slack signature verified" {
		t.Fatalf("recorded: %v", list)
	}
	id := strconv.Itoa(int(list[0]["id"].(float64)))
	var res map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "POST", "/api/millrun/requests/"+id+"/replay", "", "").body), &res)
	second, _ := res["job_id"].(string)
	if res["status"] != float64(200) || second == "" || second == first || res["body"] != `"deploying api"` {
		t.Fatalf("replay: %v", res)
	}
	a, b := f.waitJob(first), f.waitJob(second)
	if fmt.Sprint(a["args"]) != fmt.Sprint(b["args"]) {
		t.Fatalf("replayed args differ: %v vs %v", a["args"], b["args"])
	}
	replays := f.requests("?job_id=" + second)
	if len(replays) != 1 || replays[0]["replay_of"] != list[0]["id"] {
		t.Fatalf("the replay is not marked: %v", replays)
	}
	// Outside a replay, the same stale bytes are refused.
	old := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	if r := f.anon("POST", "/api/r/slack/deploy", "application/x-www-form-urlencoded", body, "X-Slack-Request-Timestamp", old, "X-Slack-Signature", slackSign(secret, old, body)); r.status != 401 {
		t.Fatalf("stale request let in: %d", r.status)
	}
	f.mustDo(404, "POST", "/api/millrun/requests/999999/replay", "", "")
}

// slackDeployRoute makes the route u/me/slack_deploy at /api/r/slack/deploy
// for u/me/deploy, checking Slack's signature with secret.
func (f *fixture) slackDeployRoute(secret string) {
	f.t.Helper()
	f.resource("u/me/slack", map[string]any{"provider": "slack", "secret": secret})
	f.route(map[string]any{"path": "u/me/slack_deploy", "script_path": "u/me/deploy", "route_path": "slack/deploy",
		"authentication_method": "signature", "authentication_resource_path": "u/me/slack"})
}

// A forged request, refused, does not run when replayed in one click: the
// replay says why it was refused and runs only when confirmed, marked as
// a replay of a refused request on the run and in the request history.
func TestReplayOfARefusedRequestAsksFirst(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/deploy", "python3", "def main(text: str = ''):\n    return 'deploying ' + text\n")
	f.slackDeployRoute("s3cr3t-signing")
	body := "text=prod"
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	if r := f.anon("POST", "/api/r/slack/deploy", "application/x-www-form-urlencoded", body, "X-Slack-Request-Timestamp", ts, "X-Slack-Signature", slackSign("forged", ts, body)); r.status != 401 {
		t.Fatalf("forged request: %d %s", r.status, r.body)
	}
	list := f.requests("?route=u/me/slack_deploy")
	if len(list) != 1 || list[0]["auth_ok"] != false {
		t.Fatalf("recorded: %v", list)
	}
	id := strconv.Itoa(int(list[0]["id"].(float64)))
	asked := f.mustDo(409, "POST", "/api/millrun/requests/"+id+"/replay", "", "")
	if !strings.Contains(asked.body, "was refused (") || !strings.Contains(asked.body, "signature") || !strings.Contains(asked.body, "run_refused") {
		t.Fatalf("the unconfirmed replay must say why the request was refused and how to confirm: %s", asked.body)
	}
	var jobs []any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/jobs/list?script_path_exact=u/me/deploy", "", "").body), &jobs)
	if len(jobs) != 0 {
		t.Fatalf("an unconfirmed replay of a refused request ran the script: %v", jobs)
	}
	var res map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "POST", "/api/millrun/requests/"+id+"/replay", "application/json", `{"run_refused": true}`).body), &res)
	job, _ := res["job_id"].(string)
	if job == "" || res["body"] != `"deploying prod"` {
		t.Fatalf("confirmed replay: %v", res)
	}
	if j := f.waitJob(job); !strings.Contains(fmt.Sprint(j["created_by"]), "replay of a refused request") {
		t.Fatalf("the run does not say it replays a refused request: created_by %v", j["created_by"])
	}
	replays := f.requests("?job_id=" + job)
	if len(replays) != 1 || !strings.Contains(fmt.Sprint(replays[0]["auth_reason"]), "replay of refused request "+id) {
		t.Fatalf("the request history does not mark the replay of a refused request: %v", replays)
	}
}

// A replayed Discord PING is answered like the first, not run as a job.
func TestReplayedHandshakeIsAnswered(t *testing.T) {
	t.Parallel()
	f := setup(t)
	priv := f.discordRoute("echo ran", "discord")
	ping := `{"type":1}`
	f.anon("POST", "/api/r/discord", "application/json", ping, discordSign(priv, ping)...)
	list := f.requests("?route=u/me/discord")
	id := strconv.Itoa(int(list[0]["id"].(float64)))
	var res map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "POST", "/api/millrun/requests/"+id+"/replay", "", "").body), &res)
	if compactJSON(fmt.Sprint(res["body"])) != `{"type":1}` || res["job_id"] != "" {
		t.Fatalf("replayed PING: %v", res)
	}
}

// A burst of large bodies is pruned to the budget right away, not at the
// next hourly pass.
func TestLargeBodiesPrunedSoon(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *Config) { c.RequestBodyBudget = 20_000 })
	f.createScript("u/me/sink", "bash", "true")
	f.route(map[string]any{"path": "u/me/sink", "script_path": "u/me/sink", "route_path": "sink", "is_async": true, "authentication_method": "none"})
	big := strings.Repeat("x", 3000)
	for range 12 {
		f.anon("POST", "/api/r/sink", "text/plain", big)
	}
	// 12 bodies of 3,000 bytes; the budget keeps the newest 6.
	testkit.WaitUntil(t, "at most 6 requests of 3,000 bytes kept, budget 20,000", 10*time.Second, func() bool {
		return len(f.requests("?route=u/me/sink")) <= 6
	})
}

// The inspector keeps what millrun answered: why a call was a 400, that a
// 200 carried a failed run, and that a handshake was answered without a
// run; "failed" finds the failed run, and text finds calls by URL.
func TestRequestsShowAnswersAndFailures(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/boom", "python3", "def main():\n    raise ValueError('nope')\n")
	f.createScript("u/me/fine", "python3", "def main():\n    return 'fine'\n")
	f.mustDo(200, "POST", "/api/w/local/jobs/run_wait_result/p/u/me/boom", "application/json", "{}")
	f.mustDo(400, "POST", "/api/w/local/jobs/run_wait_result/p/u/me/fine", "application/json", "{not json")
	f.mustDo(200, "POST", "/api/w/local/jobs/run_wait_result/p/u/me/fine", "application/json", "{}")
	priv := f.discordRoute("echo ran", "discord")
	ping := `{"type":1}`
	f.anon("POST", "/api/r/discord", "application/json", ping, discordSign(priv, ping)...)
	// Requests are recorded in order: once the last is listed, all are.
	pings := f.requests("?route=u/me/discord")
	if len(pings) != 1 || !strings.Contains(fmt.Sprint(pings[0]["note"]), "handshake: answered by millrun, no run") {
		t.Fatalf("the handshake is not labelled: %v", pings)
	}

	failed := f.requests("?failed=true")
	var sawRunFailed, sawBadJSON bool
	for _, r := range failed {
		switch {
		case strings.Contains(fmt.Sprint(r["url"]), "/boom"):
			sawRunFailed = r["status"] == float64(200) && r["run_failed"] == true
		case strings.Contains(fmt.Sprint(r["url"]), "/fine"):
			sawBadJSON = r["status"] == float64(400) && strings.Contains(fmt.Sprint(r["response"]), "JSON")
		}
	}
	if !sawRunFailed || !sawBadJSON || len(failed) != 2 {
		t.Fatalf("failed-only list: %v (run failed seen %v, bad JSON reason seen %v)", failed, sawRunFailed, sawBadJSON)
	}
	fine := f.requests("?q=/p/u/me/fine")
	if len(fine) != 2 {
		t.Fatalf("text filter: %d requests for /p/u/me/fine, want 2: %v", len(fine), fine)
	}
	id := strconv.Itoa(int(fine[0]["id"].(float64)))
	var one map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/millrun/requests/"+id, "", "").body), &one)
	if !strings.Contains(fmt.Sprint(one["response"]), "fine") {
		t.Fatalf("the answer of a successful call is not kept: %v", one)
	}
}

// A signed test request goes through the route's own check, runs the
// script, and is recorded like any call; a wrong secret in the route makes
// the test fail the way Slack's calls would.
func TestSignedTestRequestThroughARoute(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/deploy", "python3", "def main(text: str = '', user_name: str = ''):\n    return user_name + ' said ' + text\n")
	f.slackDeployRoute("s3cr3t-signing")
	var res map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "POST", "/api/millrun/routes/test/u/me/slack_deploy", "", "").body), &res)
	if res["status"] != float64(200) || !strings.Contains(fmt.Sprint(res["body"]), "millrun said a test from millrun") || res["job_id"] == "" {
		t.Fatalf("signed test: %v", res)
	}
	list := f.requests("?job_id=" + fmt.Sprint(res["job_id"]))
	if len(list) != 1 || list[0]["auth_reason"] != "slack signature verified" {
		t.Fatalf("the test request is not recorded as a checked call: %v", list)
	}
	f.mustDo(400, "POST", "/api/millrun/routes/test/u/me/nope", "", "")
}

// A request refused on its headers (no signature timestamp) is answered
// before its body is read: the inspector says the body was not read, and
// a replay says why there is nothing to replay instead of "too large".
func TestARequestRefusedOnItsHeadersHasNoBodyToReplay(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/deploy", "python3", "def main(text: str = ''):\n    return 'deploying ' + text\n")
	f.slackDeployRoute("s3cr3t-signing")
	f.anon("POST", "/api/r/slack/deploy", "application/x-www-form-urlencoded", "text=prod")
	list := f.requests("?route=u/me/slack_deploy")
	if len(list) != 1 || list[0]["body_unread"] != true || list[0]["auth_ok"] != false {
		t.Fatalf("the refused request: %v", list)
	}
	id := fmt.Sprint(list[0]["id"])
	r := f.do("POST", "/api/millrun/requests/"+id+"/replay", "application/json", `{"run_refused":true}`)
	if r.status != 409 || !strings.Contains(r.body, "refused before its body was read") {
		t.Fatalf("replay: %d %s", r.status, r.body)
	}
}
