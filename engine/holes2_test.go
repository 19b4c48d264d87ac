package engine

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/testkit"
)

// hasSandbox reports whether an answer carries millrun's own sandbox: a
// Content-Security-Policy whose first directive is sandbox (what makes the
// browser give the page an opaque origin) and nosniff.
func hasSandbox(h http.Header) bool {
	sandboxed := false
	for _, v := range h.Values("Content-Security-Policy") {
		if strings.HasPrefix(strings.TrimSpace(v), "sandbox") && !strings.Contains(v, "allow-same-origin") {
			sandboxed = true
		}
	}
	return sandboxed && h.Get("X-Content-Type-Options") == "nosniff" && len(h.Values("X-Content-Type-Options")) == 1
}

// HTML a script builds from its input is served on millrun's own origin,
// so without a sandbox a page anywhere could send the logged-in browser to
// it and act as the UI with what it injects. Every answer of a run route,
// of /api/r/ and of the job reads is sandboxed, whatever headers the
// script asks for.
func TestScriptHTMLIsSandboxed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	// The script tries to lift the sandbox with headers of its own.
	f.createScript("u/me/page", "python3", "def main(name: str = ''):\n"+
		"    return {'windmill_content_type': 'text/html', 'result': '<p>' + name + '</p>',\n"+
		"            'windmill_headers': {'Content-Security-Policy': 'default-src *', 'X-Content-Type-Options': 'sniff'}}\n")
	f.route(map[string]any{"path": "u/me/page", "script_path": "u/me/page", "route_path": "pages/hello", "http_method": "post", "authentication_method": "none"})
	inject := `{"name":"<script>fetch('/api/users/tokens/create',{method:'POST'})</script>"}`

	r := f.anon("POST", "/api/r/pages/hello", "application/json", inject)
	if r.status != 200 || !strings.Contains(r.body, "<script>") {
		t.Fatalf("route answer: %d %s", r.status, r.body)
	}
	if !hasSandbox(r.header) {
		t.Errorf("an open route's HTML is served without the sandbox: %v", r.header)
	}
	r = f.syncRun("u/me/page", inject)
	if r.status != 200 || !hasSandbox(r.header) {
		t.Errorf("a sync webhook's HTML is served without the sandbox: %d %v", r.status, r.header)
	}
	// Every other answer of those groups too: async run, job reads,
	// errors.
	async := f.mustDo(201, "POST", "/api/w/local/jobs/run/p/u/me/page", "application/json", inject)
	f.waitJob(async.body)
	for _, c := range []resp{async,
		f.do("GET", "/api/w/local/jobs_u/get/"+async.body, "", ""),
		f.do("GET", "/api/w/local/jobs_u/completed/get_result/"+async.body, "", ""),
		f.anon("POST", "/api/w/local/jobs/run/p/u/me/page", "application/json", "{}"),
		f.anon("POST", "/api/r/pages/nope", "application/json", "{}"),
		f.do("GET", "/api/w/local/scripts/list", "", ""),
	} {
		if !hasSandbox(c.header) {
			t.Errorf("an answer without the sandbox: %d %.80s %v", c.status, c.body, c.header)
		}
	}
}

// cookieRequest calls path with the session cookie and the given fetch
// metadata, as a browser would.
func (f *fixture) cookieRequest(method, path string, hdr ...string) resp {
	f.t.Helper()
	return f.do(method, path, "application/json", "{}", append([]string{"Authorization", "", "Cookie", "token=" + f.token}, hdr...)...)
}

// The browser session counts only for the UI's own fetches: never for a
// navigation (a link opened from a chat app, a terminal, or clicked on
// another page), never for a sandboxed page (Origin: null), whatever
// else the request claims.
func TestSessionCookieOnlyForTheUIsOwnFetches(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/hi", "bash", "echo hi\n")
	host := strings.TrimPrefix(f.srv.URL, "http://")
	origin := "http://" + host
	run := "/api/w/local/jobs/run_wait_result/p/u/me/hi"
	refused := []struct {
		what, method, path string
		hdr                []string
	}{
		{"a link opened from outside the browser", "GET", run, []string{"Sec-Fetch-Site", "none", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document"}},
		{"a link clicked on millrun's own origin", "GET", run, []string{"Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document"}},
		{"a form posted by a sandboxed page", "POST", "/api/users/tokens/create", []string{"Origin", "null", "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "navigate"}},
		{"a fetch from a sandboxed page", "POST", "/api/users/tokens/create", []string{"Origin", "null", "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors"}},
		{"a fetch from a sandboxed page, run route", "POST", run, []string{"Origin", "null", "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors"}},
		{"an iframe", "GET", run, []string{"Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "iframe"}},
	}
	for _, c := range refused {
		if r := f.cookieRequest(c.method, c.path, c.hdr...); r.status != 401 {
			t.Errorf("%s acted as the browser session: %d %.100s", c.what, r.status, r.body)
		}
	}
	// The UI's own fetches keep working.
	if r := f.cookieRequest("POST", run, "Origin", origin, "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty"); r.status != 200 {
		t.Errorf("the UI's own fetch: %d %s", r.status, r.body)
	}
	if r := f.cookieRequest("GET", "/api/w/local/scripts/list", "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty"); r.status != 200 {
		t.Errorf("the UI's own GET: %d %s", r.status, r.body)
	}
}

// In the desktop window every request is trusted, so a document that the
// API served (a script's HTML) must never be shown there, and nothing a
// sandboxed page sends counts as the window.
func TestWindowTrustsOnlyItsOwnPages(t *testing.T) {
	t.Parallel()
	f := setup(t)
	win := httptest.NewServer(f.e.DesktopHandler())
	defer win.Close()
	f.createScript("u/me/page", "python3", "def main():\n    return {'windmill_content_type': 'text/html', 'result': '<p>hi</p>'}\n")
	call := func(method, path string, hdr ...string) int {
		req, _ := http.NewRequest(method, win.URL+path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if s := call("POST", "/api/users/tokens/create", "Origin", "null"); s == 201 || s == 200 {
		t.Errorf("a sandboxed page's request made a token as the window: %d", s)
	}
	if s := call("GET", "/api/w/local/jobs/run_wait_result/p/u/me/page", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document", "Accept", "text/html,*/*"); s == 200 {
		t.Errorf("the window navigated to a script's HTML as a trusted page: %d", s)
	}
	if s := call("GET", "/api/w/local/jobs/run_wait_result/p/u/me/page", "Accept", "text/html,application/xhtml+xml,*/*;q=0.8"); s == 200 {
		t.Errorf("the window navigated (no fetch metadata) to a script's HTML as a trusted page: %d", s)
	}
	// The UI's own calls still act as the window.
	if s := call("POST", "/api/w/local/jobs/run_wait_result/p/u/me/page", "Accept", "*/*"); s != 200 {
		t.Errorf("the window's own run: %d", s)
	}
	if s := call("GET", "/api/w/local/scripts/list"); s != 200 {
		t.Errorf("the window's own read: %d", s)
	}
}

func whoami(f *fixture, token string) int {
	return f.do("GET", "/api/users/whoami", "", "", "Authorization", "Bearer "+token).status
}

// A job's token ends with the job, for every kind of job.
func TestJobTokensEndWithTheirJob(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/tok", "python3", "import os\ndef main():\n    return os.environ['WM_TOKEN']\n")
	check := func(kind, token string) {
		t.Helper()
		if token == "" {
			t.Fatalf("%s: no token came back", kind)
		}
		// The token worked while the job ran: a job's token reads.
		if s := whoami(f, token); s != 401 {
			t.Errorf("%s: the job's token still works after the job ended: %d", kind, s)
		}
	}
	// A script job.
	var tok string
	json.Unmarshal([]byte(f.syncRun("u/me/tok", "{}").body), &tok)
	check("script job", tok)

	// A flow's steps: an inline step and a step that runs a saved script.
	f.createFlow("f/me/tokflow", `{"modules":[
		{"id":"a","value":{"type":"rawscript","language":"python3","content":"import os\ndef main():\n    return os.environ['WM_TOKEN']\n","input_transforms":{}}},
		{"id":"b","value":{"type":"script","path":"u/me/tok","input_transforms":{}}}]}`)
	r := f.mustDo(200, "POST", "/api/w/local/jobs/run_wait_result/f/f/me/tokflow", "application/json", "{}")
	json.Unmarshal([]byte(r.body), &tok)
	check("flow step (saved script)", tok)
	job := f.mustDo(201, "POST", "/api/w/local/jobs/run/f/f/me/tokflow", "application/json", "{}").body
	mods := flowStatus(t, f.waitJob(job))
	if len(mods) != 2 {
		t.Fatalf("flow steps: %v", mods)
	}
	for _, m := range mods {
		id, _ := m["job"].(string)
		// A step's own record is written after its flow's, off the
		// worker.
		var res resp
		testkit.WaitUntil(t, "step "+id+" recorded", 10*time.Second, func() bool {
			res = f.do("GET", "/api/w/local/jobs_u/completed/get_result/"+id, "", "")
			return res.status == 200
		})
		json.Unmarshal([]byte(res.body), &tok)
		check("flow step "+id, tok)
	}

	// While a step runs its token works; when its flow ends it does not.
	f.createFlow("f/me/holdflow", `{"modules":[{"id":"a","value":`+raw("python3", "import os, time\ndef main(out: str):\n"+
		"    open(out, 'w').write(os.environ['WM_TOKEN'])\n    while not os.path.exists(out + '.go'):\n        time.sleep(0.02)\n",
		`{"out":{"type":"javascript","expr":"flow_input.out"}}`)+`}]}`)
	out := filepath.Join(t.TempDir(), "token")
	b, _ := json.Marshal(map[string]string{"out": out})
	job = f.mustDo(201, "POST", "/api/w/local/jobs/run/f/f/me/holdflow", "application/json", string(b)).body
	testkit.WaitUntil(t, "the step to start", 20*time.Second, func() bool { b, _ := os.ReadFile(out); return len(b) == 32 })
	live := readFile(t, out)
	if s := whoami(f, live); s != 200 {
		t.Errorf("a running step's token does not work: %d", s)
	}
	os.WriteFile(out+".go", nil, 0o600)
	f.waitJob(job)
	check("a flow step that was seen running", live)

	// A scheduled job.
	f.mustDo(201, "POST", "/api/w/local/schedules/create", "application/json",
		`{"path":"u/me/tok_every_second","schedule":"* * * * * *","timezone":"UTC","script_path":"u/me/tok"}`)
	testkit.WaitUntil(t, "a scheduled run", 10*time.Second, func() bool {
		for _, run := range f.scheduleRuns("u/me/tok_every_second") {
			if run["success"] == true {
				return true
			}
		}
		return false
	})
	f.mustDo(200, "POST", "/api/w/local/schedules/setenabled/u/me/tok_every_second", "application/json", `{"enabled":false}`)
	for _, run := range f.scheduleRuns("u/me/tok_every_second") {
		if id, _ := run["id"].(string); id != "" && run["success"] == true {
			res := f.mustDo(200, "GET", "/api/w/local/jobs_u/completed/get_result/"+id, "", "")
			json.Unmarshal([]byte(res.body), &tok)
			check("scheduled job", tok)
			break
		}
	}
}

// README names what a token scoped to one script can read besides running
// it; this keeps that list true.
func TestScopedTokenReadsWhatREADMESays(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/hook", "bash", "echo ok\n")
	scoped, err := f.e.CreateToken(t.Context(), "slack", []string{"jobs:run:scripts:u/me/hook"}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{
		"/api/users/whoami": 200, "/api/w/local/users/whoami": 200, "/api/workspaces/list": 200, "/api/version": 200,
		"/api/millrun/whoami": 200, "/api/w/local/scripts/list": 401, "/api/w/local/jobs/list": 401, "/api/users/tokens/list": 401,
		"/api/w/local/variables/list": 401, "/api/millrun/settings": 401, "/api/w/local/workspaces/list_ws_specific": 401,
	} {
		if r := f.do("GET", path, "", "", "Authorization", "Bearer "+scoped); r.status != want {
			t.Errorf("a scoped token reading %s: %d %.80s, want %d", path, r.status, r.body, want)
		}
	}
}
