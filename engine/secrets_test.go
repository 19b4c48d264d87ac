// Route credentials and the workspace webhook secret: kept in secret
// variables, sealed at rest and in exports, never stored in clear with a
// job or a recorded request.
package engine

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/settings"
	"github.com/millrun/millrun/engine/store"
)

func (f *fixture) secretVariable(path, value string) {
	f.t.Helper()
	b, _ := json.Marshal(map[string]any{"path": path, "value": value, "is_secret": true})
	f.mustDo(201, "POST", "/api/w/local/variables/create", "application/json", string(b))
}

// zipFiles reads the workspace archive into name → content.
func (f *fixture) zipFiles(query string) map[string]string {
	f.t.Helper()
	r := f.mustDo(200, "GET", "/api/w/local/workspaces/tarball?archive_type=zip"+query, "", "")
	zr, err := zip.NewReader(bytes.NewReader([]byte(r.body)), int64(len(r.body)))
	if err != nil {
		f.t.Fatalf("not a zip: %v", err)
	}
	files := map[string]string{}
	for _, zf := range zr.File {
		rc, _ := zf.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[zf.Name] = string(b)
	}
	return files
}

// noClearText fails when a file of the data folder holds s.
func (f *fixture) noClearText(s string) {
	f.t.Helper()
	for _, name := range []string{"millrun.db", "millrun.db-wal"} {
		if b, err := os.ReadFile(filepath.Join(f.dir, name)); err == nil && bytes.Contains(b, []byte(s)) {
			f.t.Fatalf("%s holds %q in clear", name, s)
		}
	}
}

// A route's credentials may name secret variables ("$var:<path>"), as
// Windmill's resources do: the route checks callers against the
// variable's value, never against the reference's text.
func TestRouteSecretFromVariable(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/echo", "bash", "x=\"${1:-none}\"\necho \"$x\"\n")
	const slackSecret = "real-slack-signing-secret-123"
	f.secretVariable("u/me/slack_secret", slackSecret)
	f.resource("u/me/slack", map[string]any{"provider": "slack", "secret": "$var:u/me/slack_secret"})
	f.route(map[string]any{"path": "u/me/slack_route", "script_path": "u/me/echo", "route_path": "slack/echo",
		"authentication_method": "signature", "authentication_resource_path": "u/me/slack"})

	body := "x=hi"
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	if r := f.anon("POST", "/api/r/slack/echo", "application/x-www-form-urlencoded", body,
		"X-Slack-Request-Timestamp", ts, "X-Slack-Signature", slackSign("$var:u/me/slack_secret", ts, body)); r.status != 401 {
		t.Fatalf("signed with the reference's text: %d %s (want 401)", r.status, r.body)
	}
	if r := f.anon("POST", "/api/r/slack/echo", "application/x-www-form-urlencoded", body,
		"X-Slack-Request-Timestamp", ts, "X-Slack-Signature", slackSign(slackSecret, ts, body)); r.status != 200 || r.body != `"hi"` {
		t.Fatalf("signed with the variable's value: %d %s", r.status, r.body)
	}
	// The signed test request signs with the value too.
	var res map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "POST", "/api/millrun/routes/test/u/me/slack_route", "", "").body), &res)
	if res["status"] != float64(200) {
		t.Fatalf("signed test request: %v", res)
	}

	// API key, basic auth and a Standard Webhooks key rotation list.
	f.secretVariable("u/me/api_key", "k-from-variable")
	f.secretVariable("u/me/password", "pw-from-variable")
	f.secretVariable("u/me/whsec", "whsec_"+base64.StdEncoding.EncodeToString([]byte("standard-webhooks-key")))
	f.resource("u/me/key", map[string]any{"header": "X-Hook-Key", "key": "$var:u/me/api_key"})
	f.resource("u/me/basic", map[string]any{"username": "ann", "password": "$var:u/me/password"})
	f.resource("u/me/std", map[string]any{"provider": "standard", "secrets": []any{"$var:u/me/whsec"}})
	f.route(map[string]any{"path": "u/me/key_route", "script_path": "u/me/echo", "route_path": "key/echo",
		"authentication_method": "api_key", "authentication_resource_path": "u/me/key"})
	f.route(map[string]any{"path": "u/me/basic_route", "script_path": "u/me/echo", "route_path": "basic/echo",
		"authentication_method": "basic_http", "authentication_resource_path": "u/me/basic"})
	f.route(map[string]any{"path": "u/me/std_route", "script_path": "u/me/echo", "route_path": "std/echo",
		"authentication_method": "signature", "authentication_resource_path": "u/me/std"})
	for name, c := range map[string]struct {
		path   string
		status int
		hdr    []string
	}{
		"api key, reference text": {"/api/r/key/echo", 401, []string{"X-Hook-Key", "$var:u/me/api_key"}},
		"api key, value":          {"/api/r/key/echo", 200, []string{"X-Hook-Key", "k-from-variable"}},
		"basic, reference text":   {"/api/r/basic/echo", 401, []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("ann:$var:u/me/password"))}},
		"basic, value":            {"/api/r/basic/echo", 200, []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("ann:pw-from-variable"))}},
	} {
		if r := f.anon("POST", c.path, "application/json", `{"x":"hi"}`, c.hdr...); r.status != c.status {
			t.Errorf("%s: %d %s (want %d)", name, r.status, r.body, c.status)
		}
	}
	json.Unmarshal([]byte(f.mustDo(200, "POST", "/api/millrun/routes/test/u/me/std_route", "", "").body), &res)
	if res["status"] != float64(200) {
		t.Fatalf("standard webhooks route with its secret in a variable: %v", res)
	}

	// A reference to a variable that is not there: refused, saying which.
	f.resource("u/me/dangling", map[string]any{"provider": "slack", "secret": "$var:u/me/gone"})
	f.route(map[string]any{"path": "u/me/dangling_route", "script_path": "u/me/echo", "route_path": "slack/dangling",
		"authentication_method": "signature", "authentication_resource_path": "u/me/dangling"})
	r := f.anon("POST", "/api/r/slack/dangling", "application/x-www-form-urlencoded", body,
		"X-Slack-Request-Timestamp", ts, "X-Slack-Signature", slackSign("$var:u/me/gone", ts, body))
	// The caller (anyone, through the tunnel) is not told the workspace's
	// paths; the owner reads them in the request inspector.
	if r.status != 500 || strings.Contains(r.body, "u/me/") || !strings.Contains(r.body, "Requests page") {
		t.Fatalf("dangling variable: %d %s", r.status, r.body)
	}
	if list := f.requests("?route=u/me/dangling_route"); len(list) != 1 || !strings.Contains(fmt.Sprint(list[0]["auth_reason"]), "u/me/gone") {
		t.Fatalf("the inspector does not say which variable is missing: %v", list)
	}
}

// The workspace archive seals route credentials (signing secrets, API
// keys, passwords) as it seals secret variables; pushed back to this
// millrun they open again and the routes work; another millrun's sealed
// text is refused, saying the secret must be entered again.
func TestTarballSealsRouteSecrets(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/echo", "bash", "x=\"${1:-none}\"\necho \"$x\"\n")
	const signing, apiKey, password = "slack-signing-EXPORTED", "api-key-EXPORTED", "password-EXPORTED"
	f.resource("u/me/slack", map[string]any{"provider": "slack", "secret": signing})
	f.resource("u/me/key", map[string]any{"header": "X-Hook-Key", "key": apiKey})
	f.resource("u/me/basic", map[string]any{"username": "ann", "password": password})
	f.route(map[string]any{"path": "u/me/key_route", "script_path": "u/me/echo", "route_path": "key/echo",
		"authentication_method": "api_key", "authentication_resource_path": "u/me/key"})
	f.route(map[string]any{"path": "u/me/slack_route", "script_path": "u/me/echo", "route_path": "slack/echo",
		"authentication_method": "signature", "authentication_resource_path": "u/me/slack"})

	files := f.zipFiles("&include_triggers=true")
	for name, content := range files {
		for _, s := range []string{signing, apiKey, password} {
			if strings.Contains(content, s) {
				t.Fatalf("%s carries %q in clear:\n%s", name, s, content)
			}
		}
	}
	var key map[string]any
	json.Unmarshal([]byte(files["u/me/key.resource.json"]), &key)
	value, _ := key["value"].(map[string]any)
	sealed, _ := value["key"].(string)
	if !strings.HasPrefix(sealed, "millrun:v1:") || value["header"] != "X-Hook-Key" {
		t.Fatalf("exported API key resource: %s", files["u/me/key.resource.json"])
	}
	if again := f.zipFiles("&include_triggers=true"); again["u/me/key.resource.json"] != files["u/me/key.resource.json"] {
		t.Fatal("two pulls sealed the same resource differently: every pull would show a change")
	}
	if plain := f.zipFiles("&plain_secret=true"); !strings.Contains(plain["u/me/key.resource.json"], apiKey) {
		t.Fatalf("plain_secret export: %s", plain["u/me/key.resource.json"])
	}

	// Push: the resources come back with their sealed text and work again.
	for _, p := range []string{"u/me/key", "u/me/slack"} {
		var res map[string]any
		json.Unmarshal([]byte(files[p+".resource.json"]), &res)
		b, _ := json.Marshal(map[string]any{"value": res["value"], "resource_type": res["resource_type"]})
		f.mustDo(201, "POST", "/api/w/local/resources/update/"+p, "application/json", string(b))
	}
	if r := f.anon("POST", "/api/r/key/echo", "application/json", `{"x":"hi"}`, "X-Hook-Key", apiKey); r.status != 200 || r.body != `"hi"` {
		t.Fatalf("api key route after the push: %d %s", r.status, r.body)
	}
	body := "x=hi"
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	if r := f.anon("POST", "/api/r/slack/echo", "application/x-www-form-urlencoded", body,
		"X-Slack-Request-Timestamp", ts, "X-Slack-Signature", slackSign(signing, ts, body)); r.status != 200 {
		t.Fatalf("slack route after the push: %d %s", r.status, r.body)
	}
	var res map[string]any
	json.Unmarshal([]byte(files["u/me/basic.resource.json"]), &res)
	b, _ := json.Marshal(map[string]any{"path": "u/me/basic_copy", "value": res["value"], "resource_type": res["resource_type"]})
	f.mustDo(201, "POST", "/api/w/local/resources/create", "application/json", string(b))
	if v := f.mustDo(200, "GET", "/api/w/local/resources/get_value/u/me/basic_copy", "", "").body; !strings.Contains(v, password) {
		t.Fatalf("a sealed resource pushed to a new path: %s", v)
	}

	// Another millrun's archive: its sealed text cannot be opened here.
	other := setup(t)
	other.resource("u/me/key", map[string]any{"header": "X-Hook-Key", "key": apiKey})
	var foreign map[string]any
	json.Unmarshal([]byte(other.zipFiles("")["u/me/key.resource.json"]), &foreign)
	b, _ = json.Marshal(map[string]any{"path": "u/me/foreign", "value": foreign["value"], "resource_type": foreign["resource_type"]})
	r := f.mustDo(400, "POST", "/api/w/local/resources/create", "application/json", string(b))
	if !strings.Contains(r.body, "field key") || !strings.Contains(r.body, "enter") {
		t.Fatalf("a resource sealed by another millrun: %s", r.body)
	}
	f.mustDo(404, "GET", "/api/w/local/resources/get/u/me/foreign", "", "")
}

// The header a route's own check reads is a credential: named in
// include_header (or the global setting), it reaches the job as
// "[redacted]", and it is not kept with the job or the recorded request.
// Signature headers are not redacted: they prove one body at one time and
// give nothing that signs another, and scripts that check signatures
// themselves need them.
func TestRouteCredentialHeadersRedacted(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/echo", "bash", "echo ok\n")
	const apiKey = "k-LEAKED-IF-STORED"
	f.resource("u/me/key", map[string]any{"header": "X-Hook-Key", "key": apiKey})
	f.resource("u/me/basic", map[string]any{"username": "ann", "password": "pw-LEAKED-IF-STORED"})
	f.route(map[string]any{"path": "u/me/key_route", "script_path": "u/me/echo", "route_path": "key/echo",
		"authentication_method": "api_key", "authentication_resource_path": "u/me/key"})
	f.route(map[string]any{"path": "u/me/basic_route", "script_path": "u/me/echo", "route_path": "basic/echo",
		"authentication_method": "basic_http", "authentication_resource_path": "u/me/basic"})
	const slackSecret = "slack-secret-for-headers"
	f.resource("u/me/slack", map[string]any{"provider": "slack", "secret": slackSecret})
	f.route(map[string]any{"path": "u/me/slack_route", "script_path": "u/me/echo", "route_path": "slack/echo",
		"authentication_method": "signature", "authentication_resource_path": "u/me/slack"})

	args := func(r resp) map[string]any {
		t.Helper()
		id := r.header.Get("X-Millrun-Job-Id")
		if r.status != 200 || id == "" {
			t.Fatalf("call: %d %s", r.status, r.body)
		}
		j := f.waitJob(id)
		a, _ := j["args"].(map[string]any)
		return a
	}
	a := args(f.anon("POST", "/api/r/key/echo?include_header=X-Hook-Key,X-Other", "application/json", `{}`, "X-Hook-Key", apiKey, "X-Other", "kept"))
	if a["x_hook_key"] != "[redacted]" || a["x_other"] != "kept" {
		t.Fatalf("api key route args: %v", a)
	}
	a = args(f.anon("POST", "/api/r/basic/echo?include_header=Authorization", "application/json", `{}`,
		"Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("ann:pw-LEAKED-IF-STORED"))))
	if a["authorization"] != "[redacted]" {
		t.Fatalf("basic route args: %v", a)
	}
	body := `{"x":1}`
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig := slackSign(slackSecret, ts, body)
	a = args(f.anon("POST", "/api/r/slack/echo?include_header=X-Slack-Signature", "application/json", body,
		"X-Slack-Request-Timestamp", ts, "X-Slack-Signature", sig))
	if a["x_slack_signature"] != sig {
		t.Fatalf("signature header: %v", a)
	}

	// The global include-headers setting is read the same way.
	f.mustDo(200, "POST", "/api/millrun/settings", "application/json", `{"include_headers":["X-Hook-Key"]}`)
	a = args(f.anon("POST", "/api/r/key/echo", "application/json", `{}`, "X-Hook-Key", apiKey))
	if a["x_hook_key"] != "[redacted]" {
		t.Fatalf("api key route args with the global setting: %v", a)
	}
	for _, list := range [][]map[string]any{f.requests("?route=u/me/key_route"), f.requests("?route=u/me/basic_route")} {
		if len(list) == 0 || strings.Contains(fmt.Sprint(list), "LEAKED-IF-STORED") {
			t.Fatalf("recorded requests: %v", list)
		}
	}
	jobs := f.mustDo(200, "GET", "/api/w/local/jobs/list?script_path_exact=u/me/echo", "", "").body
	for _, j := range []string{jobs} {
		if strings.Contains(j, "LEAKED-IF-STORED") {
			t.Fatalf("a job carries a route credential: %s", j)
		}
	}
	f.e.Close(t.Context())
	f.noClearText("LEAKED-IF-STORED")
}

// The workspace webhook secret is sealed at rest like resources; one an
// older millrun stored in clear is sealed when the data folder is opened,
// and deliveries keep signing with it.
func TestWorkspaceWebhookSecretSealed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mustDo(200, "POST", "/api/millrun/settings", "application/json", `{"workspace_webhook_url":"http://127.0.0.1:9/hook"}`)
	secret := f.e.Settings().WorkspaceWebhookSecret
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("no secret made: %q", secret)
	}
	if r := f.mustDo(200, "GET", "/api/millrun/settings", "", ""); !strings.Contains(r.body, secret) {
		t.Fatalf("the settings page no longer shows the secret to copy: %s", r.body)
	}
	f.e.Close(t.Context())
	f.noClearText(secret)
	e, err := Open(Config{DataDir: f.dir, Workers: 1, ShutdownGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Settings().WorkspaceWebhookSecret; got != secret {
		t.Fatalf("after a restart the secret is %q, want %q", got, secret)
	}
	e.Close(context.Background())
	// A replaced key file: millrun still starts, with a new secret to copy.
	if err := os.WriteFile(filepath.Join(f.dir, "resources.key"), bytes.Repeat([]byte{7}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err = Open(Config{DataDir: f.dir, Workers: 1, ShutdownGrace: time.Second})
	if err != nil {
		t.Fatalf("open with another key: %v", err)
	}
	if got := e.Settings().WorkspaceWebhookSecret; got == secret || !strings.HasPrefix(got, "whsec_") {
		t.Fatalf("with another key the secret is %q", got)
	}
	e.Close(context.Background())

	// An older millrun's data folder: the secret in clear in the settings.
	dir := t.TempDir()
	const old = "whsec_OLD-CLEAR-TEXT-SECRET"
	db, err := store.Open(filepath.Join(dir, "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	// As an older millrun wrote them: every setting, the secret among them.
	stored := settings.Defaults(nil)
	stored.WorkspaceWebhookURL, stored.WorkspaceWebhookSecret, stored.RetentionDays = "http://127.0.0.1:9/hook", old, 9
	b, _ := json.Marshal(stored)
	if err := db.PutSettings(context.Background(), map[string]string{"engine": string(b)}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for range 2 { // the second open finds it sealed already
		e, err = Open(Config{DataDir: dir, Workers: 1, ShutdownGrace: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if s := e.Settings(); s.WorkspaceWebhookSecret != old || s.RetentionDays != 9 {
			t.Fatalf("after the upgrade: secret %q, retention %d", s.WorkspaceWebhookSecret, s.RetentionDays)
		}
		e.Close(context.Background())
		(&fixture{t: t, dir: dir}).noClearText(old)
	}
}

// Jobs an older millrun stored with a route's API key among their args
// (named in include_header) have it redacted when the data folder is
// opened, once; other arguments, and the same name holding anything but
// the key, are left as they were.
func TestOldJobsLoseRouteKeysOnUpgrade(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/echo", "bash", "echo ok\n")
	f.resource("u/me/key", map[string]any{"header": "X-Hook-Key", "key": "k-OLD-JOB-ARGS"})
	f.route(map[string]any{"path": "u/me/key_route", "script_path": "u/me/echo", "route_path": "key/echo",
		"authentication_method": "api_key", "authentication_resource_path": "u/me/key"})
	insertRaw(t, f.e, "00000000-0000-0000-0000-0000000000a1", "queued")
	insertRaw(t, f.e, "00000000-0000-0000-0000-0000000000a2", "queued")
	for id, args := range map[string]string{
		"00000000-0000-0000-0000-0000000000a1": `{"x_hook_key":"k-OLD-JOB-ARGS","text":"hi"}`,
		"00000000-0000-0000-0000-0000000000a2": `{"x_hook_key":"something else"}`,
	} {
		if err := f.e.db.Write(t.Context(), func(tx *sql.Tx) error {
			_, err := tx.Exec(`UPDATE jobs SET args = ? WHERE id = ?`, args, id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	// As an older millrun left the data folder: never scrubbed.
	if err := f.e.db.Write(t.Context(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`DELETE FROM settings WHERE key = 'redacted_route_keys'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	f.srv.Close()
	f.e.Close(t.Context())
	e, err := Open(Config{DataDir: f.dir, Workers: 1, ShutdownGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	for id, want := range map[string]string{
		"00000000-0000-0000-0000-0000000000a1": `{"text":"hi","x_hook_key":"[redacted]"}`,
		"00000000-0000-0000-0000-0000000000a2": `{"x_hook_key":"something else"}`,
	} {
		j, err := e.db.GetJob(t.Context(), "local", id)
		if err != nil {
			t.Fatal(err)
		}
		var got, w map[string]any
		json.Unmarshal([]byte(j.Args), &got)
		json.Unmarshal([]byte(want), &w)
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("job %s args: %s, want %s", id, j.Args, want)
		}
	}
}
