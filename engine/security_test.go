package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/wshook"
)

func TestTokensRejected(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/a", "bash", "echo ok\n")
	expiring, err := f.e.CreateToken(context.Background(), "short", nil, time.Now().Add(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	revoked, _ := f.e.CreateToken(context.Background(), "gone", nil, time.Time{})
	run := "/api/w/local/jobs/run_wait_result/p/u/me/a"
	if r := f.do("POST", run, "application/json", "{}", "Authorization", "Bearer "+expiring); r.status != 200 {
		t.Fatalf("fresh token refused: %d", r.status)
	}
	if r := f.do("POST", run, "application/json", "{}", "Authorization", "Bearer "+revoked); r.status != 200 {
		t.Fatalf("token refused before revoke: %d", r.status)
	}
	if r := f.do("DELETE", "/api/users/tokens/delete/"+revoked[:10], "", ""); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	time.Sleep(400 * time.Millisecond)
	for name, hdr := range map[string]string{"none": "", "wrong": "Bearer " + strings.Repeat("x", 32), "expired": "Bearer " + expiring, "revoked": "Bearer " + revoked} {
		r := f.do("POST", run, "application/json", "{}", "Authorization", hdr)
		if r.status != 401 || !strings.HasPrefix(r.body, "Not authorized: ") {
			t.Errorf("%s token: %d %q", name, r.status, r.body)
		}
	}
}

func TestScopedToken(t *testing.T) {
	t.Parallel()
	f := setup(t)
	hash := f.createScript("u/me/hook", "bash", "echo hooked\n")
	f.createScript("u/me/other", "bash", "echo other\n")
	r := f.do("POST", "/api/users/tokens/create", "application/json", `{"label":"hook only","scopes":["jobs:run:scripts:u/me/hook"]}`)
	if r.status != 201 || len(r.body) != 32 {
		t.Fatalf("create scoped: %d %s", r.status, r.body)
	}
	scoped := "Bearer " + r.body
	ok := []struct{ method, path string }{
		{"POST", "/api/w/local/jobs/run_wait_result/p/u/me/hook"},
		{"GET", "/api/w/local/jobs/run_wait_result/p/u/me/hook"},
		{"POST", "/api/w/local/jobs/run_wait_result/h/" + hash},
		{"POST", "/api/w/local/jobs/run/p/u/me/hook"},
		{"POST", "/api/w/local/jobs/run/h/" + hash},
	}
	var ownJob string
	for _, c := range ok {
		r := f.do(c.method, c.path, "application/json", "{}", "Authorization", scoped)
		if r.status >= 300 {
			t.Errorf("scoped token on its own webhook %s %s: %d %s", c.method, c.path, r.status, r.body)
		}
		if r.status == 201 {
			ownJob = r.body
		}
	}
	if r := f.do("GET", "/api/w/local/jobs_u/get/"+ownJob, "", "", "Authorization", scoped); r.status != 200 {
		t.Errorf("scoped token reading its own job: %d", r.status)
	}
	other := f.do("POST", "/api/w/local/jobs/run/p/u/me/other", "application/json", "{}")
	if r := f.do("GET", "/api/w/local/jobs_u/get/"+other.body, "", "", "Authorization", scoped); r.status != 404 {
		t.Errorf("scoped token read someone else's job: %d", r.status)
	}
	// Every other route's answer to a scoped token (management's "Required
	// scope: ...") is checked by TestEveryRouteAnswersAsItsGroupSays, which
	// walks the route table.
	refused := []struct{ method, path, want string }{
		{"POST", "/api/w/local/jobs/run_wait_result/p/u/me/other", "Required scope: jobs:run:scripts:u/me/other"},
		{"POST", "/api/w/local/jobs/run/p/u/me/other", "Required scope: jobs:run:scripts:u/me/other"},
	}
	for _, c := range refused {
		r := f.do(c.method, c.path, "application/json", `{"label":"x"}`, "Authorization", scoped)
		if r.status != 401 || !strings.Contains(r.body, c.want) {
			t.Errorf("scoped %s %s: %d %q, want 401 %q", c.method, c.path, r.status, r.body, c.want)
		}
	}
	// Wildcards and Windmill's older scope form.
	for scope, path := range map[string]string{"jobs:run:scripts:u/me/*": "u/me/other", "run:script/u/me/hook": "u/me/hook", "*": "u/me/other"} {
		tok, err := f.e.CreateToken(context.Background(), "w", []string{scope}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if r := f.do("POST", "/api/w/local/jobs/run/p/"+path, "application/json", "{}", "Authorization", "Bearer "+tok); r.status != 201 {
			t.Errorf("scope %s on %s: %d %s", scope, path, r.status, r.body)
		}
	}
}

func TestHostAndCrossSiteGuards(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/a", "bash", "echo ok\n")
	// Management route with a foreign Host: DNS rebinding.
	for _, host := range []string{"evil.example", "evil.example:8700", "192.168.1.5"} {
		r := f.do("GET", "/api/w/local/scripts/list", "", "", "Host", host)
		if r.status != 403 {
			t.Errorf("Host %s on a management route: %d", host, r.status)
		}
	}
	if r := f.do("GET", "/", "", "", "Host", "evil.example"); r.status != 403 {
		t.Errorf("Host evil.example on the UI: %d", r.status)
	}
	// Webhook routes serve any Host (the tunnel's public name).
	if r := f.do("POST", "/api/w/local/jobs/run_wait_result/p/u/me/a", "application/json", "{}", "Host", "abc.ngrok.app"); r.status != 200 {
		t.Errorf("webhook with a public Host: %d %s", r.status, r.body)
	}
	for _, hdr := range [][]string{{"Origin", "https://evil.example"}, {"Referer", "https://evil.example/page"}, {"Sec-Fetch-Site", "cross-site"}, {"Origin", "null"}} {
		r := f.do("POST", "/api/users/tokens/create", "application/json", `{"label":"x"}`, hdr...)
		if r.status != 403 {
			t.Errorf("cross-site POST with %v: %d", hdr, r.status)
		}
	}
	origin := f.srv.URL
	if r := f.do("POST", "/api/users/tokens/create", "application/json", `{"label":"x"}`, "Origin", origin); r.status != 201 {
		t.Errorf("same-origin POST refused: %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/api/users/tokens/create", "application/json", `{"label":"x"}`, "Host", "localhost:1234", "Origin", "http://localhost:1234"); r.status != 201 {
		t.Errorf("localhost same-origin POST refused: %d %s", r.status, r.body)
	}
}

func TestWebhookHandlerHasNoManagementRoutes(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/a", "bash", "echo ok\n")
	pub := httptest.NewServer(f.e.WebhookHandler())
	defer pub.Close()
	for _, c := range []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/login?token=x"}, {"POST", "/api/millrun/login"}, {"GET", "/api/millrun/whoami"},
		{"POST", "/api/w/local/scripts/create"}, {"GET", "/api/w/local/scripts/list"}, {"GET", "/api/w/local/scripts/get/p/u/me/a"},
		{"GET", "/api/w/local/jobs/completed/list"}, {"GET", "/api/w/local/jobs/list"}, {"POST", "/api/users/tokens/create"},
		{"GET", "/api/users/tokens/list"}, {"DELETE", "/api/users/tokens/delete/abc"}, {"GET", "/api/millrun/settings"},
		{"POST", "/api/millrun/settings"}, {"GET", "/api/millrun/audit"}, {"POST", "/api/w/local/jobs_u/queue/cancel/x"},
		{"GET", "/api/w/local/workspaces/tarball?archive_type=zip"}, {"GET", "/api/w/local/variables/get_value/u/me/x"},
		{"POST", "/api/w/local/schedules/create"}, {"GET", "/api/w/local/schedules/list"}, {"POST", "/api/schedules/preview"},
		{"GET", "/api/w/local/folders/list"}, {"POST", "/api/w/local/scripts/archive/p/u/me/a"}, {"GET", "/api/w/local/jobs/queue/list"},
	} {
		req, _ := http.NewRequest(c.method, pub.URL+c.path, strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+f.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 404 {
			t.Errorf("webhook handler %s %s: %d, want 404", c.method, c.path, res.StatusCode)
		}
	}
	req, _ := http.NewRequest("POST", pub.URL+"/api/w/local/jobs/run_wait_result/p/u/me/a", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != `"ok"` {
		t.Fatalf("webhook through the webhook handler: %d %s", res.StatusCode, b)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	f := setup(t)
	s := f.e.Settings()
	s.RateLimitPerSecond, s.RateLimitBurst = 1, 5
	if err := f.e.UpdateSettings(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	f.createScript("u/me/a", "bash", "echo ok\n")
	limited := 0
	for range 10 {
		r := f.do("POST", "/api/w/local/jobs/run/p/u/me/a", "application/json", "{}")
		if r.status == 429 {
			limited++
			if r.header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		}
	}
	if limited < 4 {
		t.Fatalf("only %d of 10 burst requests were limited (burst 5)", limited)
	}
}

func TestNoSecretStored(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/echo", "python3", echoScript)
	r := f.do("POST", "/api/w/local/jobs/run_wait_result/p/u/me/echo?token="+f.token+"&include_query=token&include_header=Authorization,Cookie", "application/json", `{"a":1}`,
		"Cookie", "token="+f.token)
	if r.status != 200 || strings.Contains(r.body, f.token) {
		t.Fatalf("run: %d %s", r.status, r.body)
	}
	f.srv.Close()
	f.e.Close(context.Background())
	entries, _ := os.ReadDir(f.dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(f.dir, e.Name()))
		if bytes.Contains(b, []byte(f.token)) {
			t.Errorf("%s contains the token secret", e.Name())
		}
	}
}

func TestAuditAndWorkspaceWebhook(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []map[string]any
	var sigs []string
	fails := 1 // the first delivery fails: retried after a second
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 { // the first delivery fails: the notifier must retry
			fails--
			w.WriteHeader(503)
			return
		}
		var ev map[string]any
		json.Unmarshal(b, &ev)
		got = append(got, ev)
		sigs = append(sigs, r.Header.Get("X-Millrun-Signature")+"|"+r.Header.Get("X-Millrun-Timestamp")+"|"+string(b))
	}))
	defer recv.Close()
	f := setup(t)
	r := f.do("POST", "/api/millrun/settings", "application/json", `{"workspace_webhook_url":"`+recv.URL+`"}`)
	if r.status != 200 {
		t.Fatalf("settings: %d %s", r.status, r.body)
	}
	secret := f.e.Settings().WorkspaceWebhookSecret
	f.createScript("u/me/a", "bash", "echo 1\n")
	f.createScript("u/me/a", "bash", "echo 2\n")
	f.do("POST", "/api/users/tokens/create", "application/json", `{"label":"ci"}`)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[0]["type"] != "CreateScript" || got[1]["type"] != "UpdateScript" || got[2]["type"] != "CreateToken" || got[0]["workspace"] != "local" || got[0]["path"] != "u/me/a" {
		t.Fatalf("events: %v", got)
	}
	for _, s := range sigs {
		parts := strings.SplitN(s, "|", 3)
		if parts[0] != wshook.Sign(secret, parts[1], []byte(parts[2])) {
			t.Fatalf("bad signature %q", parts[0])
		}
	}
	r = f.do("GET", "/api/millrun/audit", "", "")
	var audit []map[string]any
	json.Unmarshal([]byte(r.body), &audit)
	actions := []string{}
	for _, a := range audit {
		actions = append(actions, a["action"].(string)+":"+a["actor"].(string))
	}
	joined := strings.Join(actions, ",")
	for _, want := range []string{"settings.update:test", "script.save:test", "token.create:test"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit lacks %s: %s", want, joined)
		}
	}
}

// A refused caller learns which of its own mistakes it made: no token, a
// token millrun does not know, or one that expired. The body is Windmill's
// own; the reason is in X-Millrun-Hint.
func TestUnauthorizedSaysWhy(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/hi", "bash", "echo hi\n")
	expired, err := f.e.CreateToken(t.Context(), "old", nil, time.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	revoked := f.mustDo(201, "POST", "/api/users/tokens/create", "application/json", `{"label":"gone"}`).body
	f.mustDo(200, "DELETE", "/api/users/tokens/delete/"+revoked[:10], "", "")
	time.Sleep(1100 * time.Millisecond)
	url := "/api/w/local/jobs/run_wait_result/p/u/me/hi"
	for _, c := range []struct{ name, header, want string }{
		{"no token", "", "no token; send it as Authorization: Bearer"},
		{"unknown", "Bearer " + strings.Repeat("x", 32), "not known to millrun (mistyped, or from another millrun)"},
		{"revoked", "Bearer " + revoked, "this token was revoked on "},
		{"expired", "Bearer " + expired, "the token has expired"},
	} {
		var hdr []string
		if c.header != "" {
			hdr = []string{"Authorization", c.header}
		}
		r := f.anon("POST", url, "application/json", "{}", hdr...)
		if r.status != 401 || r.body != "Not authorized: Unauthorized" || !strings.Contains(r.header.Get("X-Millrun-Hint"), c.want) {
			t.Errorf("%s: %d %s (hint %q), want 401 hinting %q", c.name, r.status, r.body, r.header.Get("X-Millrun-Hint"), c.want)
		}
	}
}
