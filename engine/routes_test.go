package engine

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func (f *fixture) mustDo(status int, method, path, contentType, body string, hdr ...string) resp {
	f.t.Helper()
	r := f.do(method, path, contentType, body, hdr...)
	if r.status != status {
		f.t.Fatalf("%s %s: %d %s (want %d)", method, path, r.status, r.body, status)
	}
	return r
}

func (f *fixture) resource(path string, value map[string]any) {
	f.t.Helper()
	b, _ := json.Marshal(map[string]any{"path": path, "resource_type": "signature_auth", "value": value})
	f.mustDo(201, "POST", "/api/w/local/resources/create", "application/json", string(b))
}

func (f *fixture) route(def map[string]any) {
	f.t.Helper()
	b, _ := json.Marshal(def)
	f.mustDo(201, "POST", "/api/w/local/http_triggers/create", "application/json", string(b))
}

// anon calls a route without millrun's token, as Slack or Discord would.
func (f *fixture) anon(method, path, contentType, body string, hdr ...string) resp {
	f.t.Helper()
	return f.do(method, path, contentType, body, append([]string{"Authorization", ""}, hdr...)...)
}

func slackSign(secret, ts, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%s:%s", ts, body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// A Slack slash command: signed form body in, the script's answer out, in
// well under Slack's 3 seconds; Slack's url_verification answered by
// millrun; forged, stale and unsigned requests refused before any job.
func TestSlackRoute(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/deploy", "python3", "def main(text: str = '', user_name: str = ''):\n    return {'response_type': 'in_channel', 'text': f'deploying {text} for {user_name}'}\n")
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	f.resource("u/me/slack_signing", map[string]any{"provider": "slack", "secret": secret})
	f.route(map[string]any{"path": "u/me/slack_deploy", "script_path": "u/me/deploy", "route_path": "slack/deploy",
		"http_method": "post", "authentication_method": "signature", "authentication_resource_path": "u/me/slack_signing"})

	body := "token=x&team_id=T1&command=%2Fdeploy&text=api&user_name=ann"
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	start := time.Now()
	r := f.anon("POST", "/api/r/slack/deploy", "application/x-www-form-urlencoded", body,
		"X-Slack-Request-Timestamp", ts, "X-Slack-Signature", slackSign(secret, ts, body))
	took := time.Since(start)
	if r.status != 200 || compactJSON(r.body) != `{"response_type":"in_channel","text":"deploying api for ann"}` {
		t.Fatalf("signed slash command: %d %s", r.status, r.body)
	}
	t.Logf("slash command answered in %s", took)

	challenge := `{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`
	r = f.anon("POST", "/api/r/slack/deploy", "application/json", challenge,
		"X-Slack-Request-Timestamp", ts, "X-Slack-Signature", slackSign(secret, ts, challenge))
	if r.status != 200 || compactJSON(r.body) != `{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}` {
		t.Fatalf("url_verification: %d %s", r.status, r.body)
	}

	old := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)
	for name, hdr := range map[string][]string{
		"forged":   {"X-Slack-Request-Timestamp", ts, "X-Slack-Signature", slackSign("wrong", ts, body)},
		"stale":    {"X-Slack-Request-Timestamp", old, "X-Slack-Signature", slackSign(secret, old, body)},
		"unsigned": {},
	} {
		r := f.anon("POST", "/api/r/slack/deploy", "application/x-www-form-urlencoded", body, hdr...)
		if r.status != 401 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	jobs := f.mustDo(200, "GET", "/api/w/local/jobs/list?script_path_exact=u/me/deploy", "", "")
	var list []map[string]any
	json.Unmarshal([]byte(jobs.body), &list)
	if len(list) != 1 || list[0]["job_kind"] != "script" {
		t.Fatalf("want exactly the one signed run as a job, got %d: %s", len(list), jobs.body)
	}
}

// discordRoute makes a Discord-signed route at /api/r/<routePath> running
// script (saved as u/me/roll), and returns the application's signing key.
func (f *fixture) discordRoute(script, routePath string) ed25519.PrivateKey {
	f.t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	f.createScript("u/me/roll", "bash", script)
	f.resource("u/me/discord_app", map[string]any{"provider": "discord", "public_key": hex.EncodeToString(pub)})
	f.route(map[string]any{"path": "u/me/discord", "script_path": "u/me/roll", "route_path": routePath,
		"authentication_method": "signature", "authentication_resource_path": "u/me/discord_app"})
	return priv
}

func discordSign(priv ed25519.PrivateKey, body string) []string {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	return []string{"X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(priv, []byte(ts+body))), "X-Signature-Timestamp", ts}
}

// Discord's endpoint check: a signed PING gets {"type":1}, a bad signature
// 401 (Discord drops endpoints that accept it), and a signed interaction
// runs the script.
func TestDiscordRoute(t *testing.T) {
	t.Parallel()
	f := setup(t)
	priv := f.discordRoute("echo '{\"type\":4,\"data\":{\"content\":\"you rolled 4\"}}' > result.json", "discord/interactions")

	ping := `{"type":1,"id":"1","application_id":"2"}`
	r := f.anon("POST", "/api/r/discord/interactions", "application/json", ping, discordSign(priv, ping)...)
	if r.status != 200 || compactJSON(r.body) != `{"type":1}` {
		t.Fatalf("PING: %d %s", r.status, r.body)
	}
	_, otherPriv, _ := ed25519.GenerateKey(nil)
	r = f.anon("POST", "/api/r/discord/interactions", "application/json", ping, discordSign(otherPriv, ping)...)
	if r.status != 401 {
		t.Fatalf("PING with a bad signature: %d %s", r.status, r.body)
	}
	cmd := `{"type":2,"data":{"name":"roll"}}`
	r = f.anon("POST", "/api/r/discord/interactions", "application/json", cmd, discordSign(priv, cmd)...)
	if r.status != 200 || compactJSON(r.body) != `{"data":{"content":"you rolled 4"},"type":4}` {
		t.Fatalf("command: %d %s", r.status, r.body)
	}
}

// GitHub push to an async route with a :repo segment: 201 with a job id,
// the segment and the payload as arguments.
func TestGitHubRouteWithParam(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/on_push", "python3", "def main(repo: str, ref: str = '', x_github_event: str = ''):\n    return f'{repo} {ref} {x_github_event}'\n")
	f.resource("u/me/gh", map[string]any{"provider": "github", "secret": "It's a Secret to Everybody"})
	f.route(map[string]any{"path": "u/me/gh_push", "script_path": "u/me/on_push", "route_path": "github/:repo",
		"is_async": true, "authentication_method": "signature", "authentication_resource_path": "u/me/gh"})
	body := `{"ref":"refs/heads/main"}`
	m := hmac.New(sha256.New, []byte("It's a Secret to Everybody"))
	m.Write([]byte(body))
	r := f.anon("POST", "/api/r/github/millrun?include_header=X-GitHub-Event", "application/json", body, "X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)),
		"X-GitHub-Event", "push")
	if r.status != 201 || r.header.Get("X-Millrun-Job-Id") != r.body {
		t.Fatalf("push: %d %s", r.status, r.body)
	}
	j := f.waitJob(r.body)
	if j["result"] != "millrun refs/heads/main push" || j["trigger"] != "route" {
		t.Fatalf("job: %v", j)
	}
	if r := f.anon("POST", "/api/r/github/millrun", "application/json", body, "X-Hub-Signature-256", "sha256=00"); r.status != 401 {
		t.Fatalf("bad signature: %d", r.status)
	}
	if r := f.anon("GET", "/api/r/github/millrun", "", ""); r.status != 405 {
		t.Fatalf("wrong method: %d %s", r.status, r.body)
	}
	if r := f.anon("POST", "/api/r/github", "", ""); r.status != 404 {
		t.Fatalf("no route: %d %s", r.status, r.body)
	}
}

// Standard Webhooks with a secret rotation, through the tunnel's handler.
func TestStandardWebhooksRouteThroughTunnelHandler(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/paid", "python3", "def main(type: str):\n    return type\n")
	key := []byte("0123456789abcdef0123456789abcdef")
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	f.resource("u/me/billing", map[string]any{"provider": "standard", "secrets": []string{"whsec_b2xkIGtleQ==", secret}})
	f.route(map[string]any{"path": "u/me/billing_hook", "script_path": "u/me/paid", "route_path": "billing",
		"authentication_method": "signature", "authentication_resource_path": "u/me/billing"})
	tun := httptest.NewServer(f.e.WebhookHandler())
	defer tun.Close()
	body := `{"type":"invoice.paid"}`
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "msg_1.%s.%s", ts, body)
	sig := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	g := &fixture{t: t, e: f.e, srv: tun}
	r := g.anon("POST", "/api/r/billing", "application/json", body, "Webhook-Id", "msg_1", "Webhook-Timestamp", ts, "Webhook-Signature", sig)
	if r.status != 200 || r.body != `"invoice.paid"` {
		t.Fatalf("through the tunnel handler: %d %s", r.status, r.body)
	}
}

// Every other way in: open routes, millrun tokens (scoped ones too), API
// keys and basic auth, each accepted and refused.
func TestRouteAuthMethods(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/echo", "python3", "def main(x: str = 'none'):\n    return x\n")
	f.createScript("u/me/other", "python3", "def main():\n    return 1\n")
	f.resource("u/me/key", map[string]any{"header": "X-Hook-Key", "key": "k-123456789"})
	f.resource("u/me/basic", map[string]any{"username": "ann", "password": "pw-123456789"})
	for method, resource := range map[string]string{"none": "", "windmill": "", "api_key": "u/me/key", "basic_http": "u/me/basic"} {
		def := map[string]any{"path": "u/me/" + method, "script_path": "u/me/echo", "route_path": "auth/" + method, "authentication_method": method}
		if resource != "" {
			def["authentication_resource_path"] = resource
		}
		f.route(def)
	}
	ok := func(name, path string, hdr ...string) {
		t.Helper()
		if r := f.anon("POST", path, "application/json", `{"x":"hi"}`, hdr...); r.status != 200 || r.body != `"hi"` {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	refused := func(name, path string, hdr ...string) {
		t.Helper()
		if r := f.anon("POST", path, "application/json", `{"x":"hi"}`, hdr...); r.status != 401 {
			t.Errorf("%s: %d %s (want 401)", name, r.status, r.body)
		}
	}
	ok("none", "/api/r/auth/none")
	ok("windmill", "/api/r/auth/windmill", "Authorization", "Bearer "+f.token)
	refused("windmill without token", "/api/r/auth/windmill")
	// A token refused is Windmill's exact 401; the reason is the hint.
	if r := f.anon("POST", "/api/r/auth/windmill", "application/json", "{}"); r.body != "Not authorized: Unauthorized" || r.header.Get("X-Millrun-Hint") == "" {
		t.Errorf("windmill without token: %q %q", r.body, r.header.Get("X-Millrun-Hint"))
	}
	scoped := f.mustDo(201, "POST", "/api/users/tokens/create", "application/json", `{"label":"other","scopes":["jobs:run:scripts:u/me/other"]}`).body
	refused("windmill, token scoped to another script", "/api/r/auth/windmill", "Authorization", "Bearer "+scoped)
	ok("api_key", "/api/r/auth/api_key", "X-Hook-Key", "k-123456789")
	if reqs := f.requests("?route=u/me/api_key"); len(reqs) == 0 || fmt.Sprint(reqs[0]["headers"]) == "" ||
		strings.Contains(f.mustDo(200, "GET", "/api/millrun/requests?route=u/me/api_key", "", "").body, "k-123456789") {
		t.Errorf("the route's API key is in the inspector: %v", reqs)
	}
	refused("api_key wrong", "/api/r/auth/api_key", "X-Hook-Key", "k-000000000")
	refused("api_key missing", "/api/r/auth/api_key")
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("ann:pw-123456789"))
	ok("basic", "/api/r/auth/basic_http", "Authorization", basic)
	refused("basic wrong", "/api/r/auth/basic_http", "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("ann:nope")))
}

// Route definitions are checked: conflicts 409, bad route paths 400 naming
// the rule, unsupported methods said plainly.
func TestRouteDefinitionsChecked(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/s", "bash", "main() { echo 1; }")
	f.route(map[string]any{"path": "u/me/a", "script_path": "u/me/s", "route_path": "orders/:id", "authentication_method": "none"})
	r := f.do("POST", "/api/w/local/http_triggers/create", "application/json", `{"path":"u/me/b","script_path":"u/me/s","route_path":"orders/:order","authentication_method":"none"}`)
	if r.status != 409 || !strings.Contains(r.body, "u/me/a already answers POST /api/r/orders/:id") {
		t.Fatalf("conflict: %d %s", r.status, r.body)
	}
	f.route(map[string]any{"path": "u/me/b", "script_path": "u/me/s", "route_path": "orders/:order", "http_method": "delete", "authentication_method": "none"})
	for body, want := range map[string]string{
		`{"path":"u/me/c","script_path":"u/me/s","route_path":"/x"}`:                                        "must not start with /",
		`{"path":"u/me/c","script_path":"u/me/s","route_path":"a//b"}`:                                      "empty segment",
		`{"path":"u/me/c","script_path":"u/me/s","route_path":"a/b c"}`:                                     "may hold only",
		`{"path":"u/me/c","script_path":"u/me/s","route_path":"a/:1x"}`:                                     "parameter",
		`{"path":"u/me/c","script_path":"u/me/s","route_path":"x","http_method":"trace"}`:                   "http_method",
		`{"path":"u/me/c","script_path":"u/me/s","route_path":"x","authentication_method":"custom_script"}`: "not supported",
		`{"path":"u/me/c","script_path":"u/me/s","route_path":"x","authentication_method":"api_key"}`:       "needs authentication_resource_path",
		`{"path":"c","script_path":"u/me/s","route_path":"x"}`:                                              "u/<user>/<name>",
	} {
		r := f.do("POST", "/api/w/local/http_triggers/create", "application/json", body)
		if r.status != 400 || !strings.Contains(r.body, want) {
			t.Errorf("%s: %d %s (want 400 saying %q)", body, r.status, r.body, want)
		}
	}
	// Static segments win over parameters.
	f.createScript("u/me/new", "bash", "echo new")
	f.route(map[string]any{"path": "u/me/n", "script_path": "u/me/new", "route_path": "orders/new", "authentication_method": "none"})
	if r := f.anon("POST", "/api/r/orders/new", "", ""); r.body != "\"new\"" {
		t.Fatalf("orders/new ran %s", r.body)
	}
	var list []map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/http_triggers/list?path=u/me/s", "", "").body), &list)
	if len(list) != 2 {
		t.Fatalf("routes of u/me/s: %v", list)
	}
	f.mustDo(200, "DELETE", "/api/w/local/http_triggers/delete/u/me/a", "", "")
	if r := f.anon("POST", "/api/r/orders/7", "", ""); r.status != 405 {
		t.Fatalf("after delete: %d %s", r.status, r.body)
	}
}

// Resources come back masked; scripts' full-access tokens read the value.
func TestResourcesAPI(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.resource("u/me/slack_bot", map[string]any{"token": "xoxb-1234567890-abcdef", "channel": "#ops"})
	r := f.mustDo(200, "GET", "/api/w/local/resources/get/u/me/slack_bot", "", "")
	if strings.Contains(r.body, "xoxb-1234567890") || !strings.Contains(r.body, `"channel":"#ops"`) {
		t.Fatalf("get shows the secret or loses the rest: %s", r.body)
	}
	r = f.mustDo(200, "GET", "/api/w/local/resources/get_value_interpolated/u/me/slack_bot", "", "")
	if compactJSON(r.body) != `{"channel":"#ops","token":"xoxb-1234567890-abcdef"}` {
		t.Fatalf("value: %s", r.body)
	}
	f.mustDo(201, "POST", "/api/w/local/resources/update/u/me/slack_bot", "application/json", `{"description":"the bot"}`)
	r = f.mustDo(200, "GET", "/api/w/local/resources/get_value_interpolated/u/me/slack_bot", "", "")
	if !strings.Contains(r.body, "xoxb-1234567890") {
		t.Fatalf("an update without a value lost it: %s", r.body)
	}
	f.mustDo(409, "POST", "/api/w/local/resources/create", "application/json", `{"path":"u/me/slack_bot","resource_type":"x","value":{}}`)
	f.mustDo(400, "POST", "/api/w/local/resources/create", "application/json", `{"path":"slack","resource_type":"x","value":{}}`)
	scoped := f.mustDo(201, "POST", "/api/users/tokens/create", "application/json", `{"label":"hook","scopes":["jobs:run:scripts:u/me/x"]}`).body
	f.mustDo(401, "GET", "/api/w/local/resources/get_value_interpolated/u/me/slack_bot", "", "", "Authorization", "Bearer "+scoped)
	f.e.Close(t.Context())
	for _, name := range []string{"millrun.db", "millrun.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(f.dir, name))
		if strings.Contains(string(b), "xoxb-1234567890") {
			t.Fatalf("%s holds the secret in clear", name)
		}
	}
}

// A script reads a stored resource the way windmill-client's getResource
// does, with the WM_TOKEN it was given; the token dies with the job.
func TestScriptReadsResourceWithJobToken(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.resource("u/me/slack_bot", map[string]any{"token": "xoxb-42-abcdefghij"})
	f.createScript("u/me/use_bot", "python3", `import json, os, urllib.request

def main(base: str):
    req = urllib.request.Request(base + "/api/w/local/resources/get_value_interpolated/u/me/slack_bot",
                                 headers={"Authorization": "Bearer " + os.environ["WM_TOKEN"]})
    value = json.load(urllib.request.urlopen(req))
    return {"bot_token_ends": value["token"][-4:], "wm_token": os.environ["WM_TOKEN"]}
`)
	r := f.syncRun("u/me/use_bot", `{"base":"`+f.srv.URL+`"}`)
	var out map[string]string
	if err := json.Unmarshal([]byte(r.body), &out); err != nil || out["bot_token_ends"] != "ghij" {
		t.Fatalf("script reading a resource: %d %s", r.status, r.body)
	}
	f.mustDo(401, "GET", "/api/w/local/resources/get_value_interpolated/u/me/slack_bot", "", "", "Authorization", "Bearer "+out["wm_token"])
}
