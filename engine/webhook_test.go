package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// echo returns every argument it got, so each request → args rule can be
// checked end to end through the real handler and a real interpreter.
const echoScript = "def main(**kwargs):\n    return kwargs\n"

func TestWebhookArgsThroughHandler(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/echo", "python3", echoScript)
	sync := "/api/w/local/jobs/run_wait_result/p/u/me/echo"
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"a":"?>~"}`))
	cases := []struct {
		name, method, query, ctype, body string
		headers                          []string
		status                           int
		want                             string
	}{
		{"json object", "POST", "", "application/json", `{"a":1,"b":[true]}`, nil, 200, `{"a":1,"b":[true]}`},
		{"json array wraps", "POST", "", "application/json", `[1,2]`, nil, 200, `{"body":[1,2]}`},
		{"wrap_body", "POST", "?wrap_body=true", "application/json", `{"a":1}`, nil, 200, `{"body":{"a":1}}`},
		{"empty body", "POST", "", "", ``, nil, 200, `{}`},
		{"slack form", "POST", "", "application/x-www-form-urlencoded", `command=%2Fdeploy&text=prod`, nil, 200, `{"command":"/deploy","text":"prod"}`},
		{"text raw_string", "POST", "", "text/plain", `hello`, nil, 200, `{"raw_string":"hello"}`},
		{"xml raw_string", "POST", "", "application/xml", `<a/>`, nil, 200, `{"raw_string":"<a/>"}`},
		{"raw=true", "POST", "?raw=true", "application/json", `{"a": 1}`, nil, 200, `{"a":1,"raw_string":"{\"a\": 1}"}`},
		{"cloudevents", "POST", "", "application/cloudevents+json", `{"specversion":"1.0","id":"e1","source":"/s","type":"t","data":{"x":1}}`, nil, 200,
			`{"x":1,"WEBHOOK__METADATA__":{"specversion":"1.0","id":"e1","source":"/s","type":"t"}}`},
		{"cloudevents batch", "POST", "", "application/cloudevents-batch+json", `[]`, nil, 400, `Bad request: Cloud events batching is not supported yet`},
		{"unsupported type", "POST", "", "image/png", `x`, nil, 415, `Unsupported media type`},
		{"headers and query win", "POST", "?include_header=X-Sig&include_query=who&who=query", "application/json", `{"x_sig":"body","who":"body"}`,
			[]string{"X-Sig", "header"}, 200, `{"x_sig":"header","who":"query"}`},
		{"get payload url-safe unpadded", "GET", "?payload=" + payload, "", "", nil, 200, `{"a":"?>~"}`},
		{"get payload not an object", "GET", "?payload=" + base64.StdEncoding.EncodeToString([]byte(`"x"`)), "", "", nil, 400, `not an object`},
		{"bad timeout", "POST", "?timeout=soon", "application/json", `{}`, nil, 400, `timeout must be a positive number`},
		{"bad scheduled_for", "POST", "?scheduled_for=tomorrow", "application/json", `{}`, nil, 400, `RFC 3339`},
		{"bad job_id", "POST", "?job_id=42", "application/json", `{}`, nil, 400, `not a UUID`},
	}
	for _, c := range cases {
		r := f.do(c.method, sync+c.query, c.ctype, c.body, c.headers...)
		if r.status != c.status {
			t.Errorf("%s: status %d (%s), want %d", c.name, r.status, trunc(r.body), c.status)
			continue
		}
		if c.status == 200 {
			if compactJSON(r.body) != compactJSON(c.want) {
				t.Errorf("%s:\n got %s\nwant %s", c.name, r.body, c.want)
			}
		} else if !strings.Contains(r.body, c.want) {
			t.Errorf("%s: %q does not contain %q", c.name, r.body, c.want)
		}
	}
}

func TestGlobalIncludeHeaders(t *testing.T) {
	t.Parallel()
	f := setup(t)
	s := f.e.Settings()
	s.IncludeHeaders = []string{"X-Delivery-Id"}
	if err := f.e.UpdateSettings(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	f.createScript("u/me/echo", "python3", echoScript)
	r := f.do("POST", "/api/w/local/jobs/run_wait_result/p/u/me/echo", "application/json", `{}`, "X-Delivery-Id", "d-1")
	if compactJSON(r.body) != `{"x_delivery_id":"d-1"}` {
		t.Fatalf("global include header: %s", r.body)
	}
}

func TestHashRoutesPinVersions(t *testing.T) {
	t.Parallel()
	f := setup(t)
	h1 := f.createScript("u/me/v", "bash", "echo one\n")
	f.createScript("u/me/v", "bash", "echo two\n")
	if r := f.do("POST", "/api/w/local/jobs/run_wait_result/h/"+h1, "application/json", "{}"); r.body != `"one"` {
		t.Errorf("sync by hash: %s", r.body)
	}
	// Windmill routes POST and HEAD only on a hash's sync URL.
	if r := f.do("GET", "/api/w/local/jobs/run_wait_result/h/"+h1, "", ""); r.status != 405 || r.header.Get("Allow") != "HEAD, POST" {
		t.Errorf("GET sync by hash: %d %q %s", r.status, r.header.Get("Allow"), r.body)
	}
	if r := f.syncRun("u/me/v", "{}"); r.body != `"two"` {
		t.Errorf("sync by path: %s", r.body)
	}
	r := f.do("POST", "/api/w/local/jobs/run/h/"+h1, "application/json", "{}")
	if j := f.waitJob(r.body); j["result"] != "one" || j["script_hash"] != h1 {
		t.Errorf("async by hash: %v", j)
	}
	if r := f.do("POST", "/api/w/local/jobs/run/h/0000000000000000", "application/json", "{}"); r.status != 404 {
		t.Errorf("unknown hash: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/api/w/local/jobs/run/p/u/me/v", "/api/w/local/jobs/run_wait_result/p/u/me/v", "/api/w/local/jobs/run_wait_result/h/" + h1} {
		if r := f.do("HEAD", path, "", ""); r.status != 200 {
			t.Errorf("HEAD %s: %d", path, r.status)
		}
	}
	list := f.do("GET", "/api/w/local/jobs/list?script_path_exact=u/me/v", "", "")
	var jobs []map[string]any
	json.Unmarshal([]byte(list.body), &jobs)
	if len(jobs) != 3 {
		t.Errorf("HEAD must not run jobs: %d jobs for u/me/v", len(jobs))
	}
}

func TestSyncResultShapingThroughHandler(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cases := []struct {
		name, content string
		status        int
		ctype, body   string
		header        [2]string
		success       string
	}{
		{"no result is 204", "def main():\n    return {'windmill_status_code': 204}\n", 204, "", "", [2]string{}, "true"},
		{"headers, no result", "def main():\n    return {'windmill_headers': {'X-A': 'b'}}\n", 204, "", "", [2]string{"X-A", "b"}, "true"},
		{"html body", "def main():\n    return {'windmill_content_type': 'text/html', 'result': '<p>hi</p>'}\n", 200, "text/html", "<p>hi</p>", [2]string{}, "true"},
		{"invalid code", "def main():\n    return {'windmill_status_code': 1000, 'result': 1}\n", 500, "text/plain; charset=utf-8", "Invalid status code", [2]string{}, "true"},
		{"failure is 200 with the error", "def main():\n    raise KeyError('k')\n", 200, "application/json", "", [2]string{}, "false"},
	}
	for i, c := range cases {
		path := "u/me/shape" + string(rune('a'+i))
		f.createScript(path, "python3", c.content)
		r := f.syncRun(path, "{}")
		if r.status != c.status || (c.ctype != "" && r.header.Get("Content-Type") != c.ctype) || (c.body != "" && r.body != c.body) {
			t.Errorf("%s: %d %q %q", c.name, r.status, r.header.Get("Content-Type"), r.body)
		}
		if c.header[0] != "" && r.header.Get(c.header[0]) != c.header[1] {
			t.Errorf("%s: header %s = %q", c.name, c.header[0], r.header.Get(c.header[0]))
		}
		if r.header.Get("X-Millrun-Job-Success") != c.success {
			t.Errorf("%s: X-Millrun-Job-Success %q", c.name, r.header.Get("X-Millrun-Job-Success"))
		}
	}
}

func TestCallerDisconnectCancelsSyncJob(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/long", "bash", "sleep 30\n")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", f.srv.URL+"/api/w/local/jobs/run_wait_result/p/u/me/long", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("Content-Type", "application/json")
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("the request should have been cut by its deadline")
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		list := f.do("GET", "/api/w/local/jobs/completed/list?script_path_exact=u/me/long", "", "")
		var jobs []map[string]any
		json.Unmarshal([]byte(list.body), &jobs)
		if len(jobs) == 1 {
			if jobs[0]["canceled"] != true {
				t.Fatalf("job finished but not canceled: %v", jobs[0])
			}
			j := f.waitJob(jobs[0]["id"].(string))
			if j["canceled_reason"] != "http connection broke" {
				t.Fatalf("cancel reason: %v", j["canceled_reason"])
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the job kept running after its caller went away")
}

func TestJobIDAndScheduling(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/ok", "bash", "echo ok\n")
	id := "0b5f7c1e-5d0e-4c1e-9a57-3a7d2b1c0f00"
	if r := f.do("POST", "/api/w/local/jobs/run/p/u/me/ok?job_id="+id, "application/json", "{}"); r.status != 201 || r.body != id {
		t.Fatalf("job_id: %d %s", r.status, r.body)
	}
	// Windmill's words for a job id that is taken (windmill-queue's push).
	if r := f.do("POST", "/api/w/local/jobs/run/p/u/me/ok?job_id="+id, "application/json", "{}"); r.status != 400 || r.body != "Bad request: Job with id "+id+" already exists" {
		t.Fatalf("duplicate job_id: %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/api/w/local/jobs/run_wait_result/p/u/me/ok?job_id="+id, "application/json", "{}"); r.status != 400 || r.body != "Bad request: Job with id "+id+" already exists" {
		t.Fatalf("duplicate job_id, sync: %d %s", r.status, r.body)
	}
	start := time.Now()
	r := f.do("POST", "/api/w/local/jobs/run/p/u/me/ok?scheduled_in_secs=2", "application/json", "{}")
	q := f.do("GET", "/api/w/local/jobs_u/get/"+r.body, "", "")
	if !strings.Contains(q.body, `"type":"QueuedJob"`) || !strings.Contains(q.body, `"running":false`) {
		t.Fatalf("scheduled job should wait: %s", q.body)
	}
	j := f.waitJob(r.body)
	started, _ := time.Parse(time.RFC3339Nano, j["started_at"].(string))
	if started.Sub(start) < 1900*time.Millisecond {
		t.Fatalf("scheduled job started after %s, want about 2s", started.Sub(start))
	}
}

func TestScheduledJobSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := setup(t, func(c *Config) { c.DataDir = dir })
	f.createScript("u/me/ok", "bash", "echo ok\n")
	at := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339)
	r := f.do("POST", "/api/w/local/jobs/run/p/u/me/ok?scheduled_for="+at, "application/json", "{}")
	if r.status != 201 {
		t.Fatalf("schedule: %d %s", r.status, r.body)
	}
	f.srv.Close()
	f.e.Close(context.Background())

	g := setup(t, func(c *Config) { c.DataDir = dir })
	j := g.waitJob(r.body)
	started, _ := time.Parse(time.RFC3339Nano, j["started_at"].(string))
	want, _ := time.Parse(time.RFC3339, at)
	if j["success"] != true || started.Before(want) {
		t.Fatalf("scheduled job after restart: started %s, due %s: %v", started, want, j)
	}
}
