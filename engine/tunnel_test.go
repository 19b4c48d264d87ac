package engine

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/testkit"
	"github.com/millrun/millrun/engine/tunnel"
)

func TestTunnelServesOnlyWebhooks(t *testing.T) {
	t.Parallel()
	fake := &tunnel.Fake{}
	f := setup(t, func(c *Config) { c.TunnelBackend = fake })
	f.createScript("u/me/echo", "python3", echoScript)
	// Not configured: a clear refusal.
	if r := f.do("POST", "/api/millrun/tunnel/start", "", ""); r.status != 400 || !strings.Contains(r.body, "no ngrok authtoken") {
		t.Fatalf("start without authtoken: %d %s", r.status, r.body)
	}
	const secret = "2abcDEFghiJKLmnoPQRstuVWXyz_0123456789"
	r := f.do("POST", "/api/millrun/tunnel/config", "application/json", `{"authtoken":"`+secret+`","domain":""}`)
	if r.status != 200 || strings.Contains(r.body, secret) || !strings.Contains(r.body, `"authtoken_hint":"2abc…6789"`) {
		t.Fatalf("config: %d %s", r.status, r.body)
	}
	if fi, err := os.Stat(f.dir + "/ngrok-authtoken"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("authtoken file: %v %v", fi, err)
	}
	if r := f.do("POST", "/api/millrun/tunnel/start", "", ""); r.status != 200 {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	var view map[string]any
	testkit.WaitUntil(t, "the tunnel to come online", 5*time.Second, func() bool {
		json.Unmarshal([]byte(f.do("GET", "/api/millrun/tunnel", "", "").body), &view)
		return view["state"] == "online"
	})
	public, _ := view["url"].(string)
	if view["state"] != "online" || public == "" {
		t.Fatalf("tunnel never came online: %v", view)
	}
	get := func(method, path, body string, hdr ...string) (int, string) {
		r := testkit.Client{URL: public, Token: f.token}.Do(t, method, path, "application/json", body, hdr...)
		return r.Status, r.Body
	}
	for _, p := range []string{"/", "/login?token=x", "/api/millrun/whoami", "/api/millrun/tunnel", "/api/w/local/scripts/list", "/api/users/tokens/list", "/api/millrun/settings"} {
		if code, _ := get("GET", p, ""); code != 404 {
			t.Errorf("through the tunnel GET %s: %d, want 404", p, code)
		}
	}
	code, body := get("POST", "/api/w/local/jobs/run_wait_result/p/u/me/echo", `{"a":1}`, "X-Forwarded-For", "10.0.0.1, 203.0.113.7")
	if code != 200 || body != `{"a":1}` {
		t.Fatalf("webhook through the tunnel: %d %s", code, body)
	}
	var jobs []map[string]any
	var list resp
	testkit.WaitUntil(t, "the tunnel's job to complete", 3*time.Second, func() bool {
		list = f.do("GET", "/api/w/local/jobs/completed/list?trigger=tunnel", "", "")
		json.Unmarshal([]byte(list.body), &jobs)
		return len(jobs) > 0
	})
	if len(jobs) != 1 || compactJSON(mustJSON(jobs[0]["headers"])) != compactJSON(`{"caller_ip":"203.0.113.7","content-type":"application/json","user-agent":"Go-http-client/1.1","via":"tunnel"}`) {
		t.Fatalf("tunnel job not marked with its caller: %s", list.body)
	}
	// On loopback a forwarded header proves nothing and is not recorded.
	lr := f.do("POST", "/api/w/local/jobs/run_wait_result/p/u/me/echo", "application/json", `{}`, "X-Forwarded-For", "198.51.100.1")
	j := f.waitJob(lr.header.Get("X-Millrun-Job-Id"))
	if strings.Contains(mustJSON(j["headers"]), "198.51.100.1") || j["trigger"] != "webhook" {
		t.Fatalf("loopback job trusted X-Forwarded-For: %v", j)
	}
	if r := f.do("POST", "/api/millrun/tunnel/stop", "", ""); r.status != 200 || !strings.Contains(r.body, `"state":"off"`) {
		t.Fatalf("stop: %d %s", r.status, r.body)
	}
}

func TestTunnelEventsStream(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *Config) { c.TunnelBackend = &tunnel.Fake{Delay: 100 * time.Millisecond} })
	f.do("POST", "/api/millrun/tunnel/config", "application/json", `{"authtoken":"tok_abcdefghijkl"}`)
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/millrun/tunnel/events", nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("content type %q", res.Header.Get("Content-Type"))
	}
	f.do("POST", "/api/millrun/tunnel/start", "", "")
	var seen []string
	buf := make([]byte, 4096)
	deadline := time.Now().Add(5 * time.Second)
	acc := ""
	for time.Now().Before(deadline) && !strings.Contains(acc, `"state":"online"`) {
		n, err := res.Body.Read(buf)
		if err != nil {
			break
		}
		acc += string(buf[:n])
	}
	for _, st := range []string{"off", "connecting", "online"} {
		if strings.Contains(acc, `"state":"`+st+`"`) {
			seen = append(seen, st)
		}
	}
	if strings.Join(seen, ",") != "off,connecting,online" || strings.Contains(acc, "tok_abcdefghijkl") {
		t.Fatalf("events: %v\n%s", seen, acc)
	}
}

func TestTunnelAutostart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := setup(t, func(c *Config) { c.DataDir = dir; c.TunnelBackend = &tunnel.Fake{} })
	if r := f.do("POST", "/api/millrun/tunnel/config", "application/json", `{"authtoken":"tok_abcdefghijkl","autostart":true}`); r.status != 200 {
		t.Fatalf("config: %d %s", r.status, r.body)
	}
	f.srv.Close()
	f.e.Close(t.Context())
	g := setup(t, func(c *Config) { c.DataDir = dir; c.TunnelBackend = &tunnel.Fake{} })
	testkit.WaitUntil(t, "the tunnel to start with millrun", 5*time.Second, func() bool { return g.e.Tunnel().Status().State == tunnel.Online })
}

// An IP allowlist is checked when saved and handed to the provider, which
// enforces it at its edge.
func TestTunnelAllowlist(t *testing.T) {
	t.Parallel()
	fake := &tunnel.Fake{}
	f := setup(t, func(c *Config) { c.TunnelBackend = fake })
	r := f.do("POST", "/api/millrun/tunnel/config", "application/json", `{"authtoken":"tok_abcdefghijkl","allow_cidrs":["203.0.113.9","hooks.slack.com"]}`)
	if r.status != 400 || !strings.Contains(r.body, `"hooks.slack.com" is neither an IP address nor a CIDR range`) {
		t.Fatalf("bad entry: %d %s", r.status, r.body)
	}
	r = f.do("POST", "/api/millrun/tunnel/config", "application/json", `{"authtoken":"tok_abcdefghijkl","allow_cidrs":["203.0.113.9"," 198.51.100.0/24"]}`)
	if r.status != 200 || !strings.Contains(r.body, `"allow_cidrs":["203.0.113.9/32","198.51.100.0/24"]`) {
		t.Fatalf("config: %d %s", r.status, r.body)
	}
	f.mustDo(200, "POST", "/api/millrun/tunnel/start", "", "")
	testkit.WaitUntil(t, "the tunnel to come online", 5*time.Second, func() bool { return f.e.Tunnel().Status().State == tunnel.Online })
	if got := fake.LastConfig().AllowCIDRs; strings.Join(got, ",") != "203.0.113.9/32,198.51.100.0/24" {
		t.Fatalf("the provider was given %v", got)
	}
}
