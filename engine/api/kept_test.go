package api

import (
	"encoding/json"
	"strings"
	"testing"
)

func (f *fixture) must(status int, method, path, body string) string {
	f.t.Helper()
	code, got := f.do(method, path, body)
	if code != status {
		f.t.Fatalf("%s %s: %d %s, want %d", method, path, code, got, status)
	}
	return got
}

// Resource types: Windmill's routes, what wmill's resource-type commands
// and sync push call; the export writes each as <name>.resource-type.json
// as it was pushed, and a type with a file extension is in the file map.
func TestResourceTypes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ws := "/api/w/local/resources/type/"
	if got := f.must(200, "GET", ws+"exists/c_api", ""); got != "false" {
		t.Fatalf("exists before: %s", got)
	}
	f.must(201, "POST", ws+"create", `{"name":"c_api","schema":{"type":"object","properties":{"url":{"type":"string"}}},"description":"an API"}`)
	if code, body := f.do("POST", ws+"create", `{"name":"c_api","schema":{}}`); code != 400 || !strings.Contains(body, "already exists") {
		t.Fatalf("twice: %d %s", code, body)
	}
	if code, body := f.do("POST", ws+"create", `{"name":"../x","schema":{}}`); code != 400 {
		t.Fatalf("a bad name: %d %s", code, body)
	}
	f.must(200, "POST", ws+"update/c_api", `{"description":"the API","schema":{"type":"object","properties":{}}}`)
	got := f.must(200, "GET", ws+"get/c_api", "")
	jsonEqual(t, "get", pick(t, got, "name", "description", "schema", "workspace_id"), `{"name":"c_api","description":"the API","schema":{"type":"object","properties":{}},"workspace_id":"local"}`)
	f.must(201, "POST", ws+"create", `{"name":"c_cert","schema":{},"description":"","format_extension":"pem","is_fileset":false}`)
	if got := f.must(200, "GET", ws+"list", ""); !strings.Contains(got, `"name":"c_api"`) || !strings.Contains(got, `"name":"c_cert"`) {
		t.Fatalf("list: %s", got)
	}
	jsonEqual(t, "file map", f.must(200, "GET", "/api/w/local/resources/file_resource_type_to_file_ext_map", ""), `{"c_cert":{"format_extension":"pem","is_fileset":false}}`)
	files := f.exportFiles("")
	jsonEqual(t, "export", files["c_api.resource-type.json"], `{"description":"the API","schema":{"type":"object","properties":{}}}`)
	jsonEqual(t, "export with nulls kept", files["c_cert.resource-type.json"], `{"schema":{},"description":"","format_extension":"pem","is_fileset":false}`)
	if _, ok := f.exportFiles("&skip_resource_types=true")["c_api.resource-type.json"]; ok {
		t.Error("skip_resource_types")
	}
	f.must(200, "DELETE", ws+"delete/c_api", "")
	f.must(404, "GET", ws+"get/c_api", "")
}

// pick keeps some fields of a JSON object's text.
func pick(t *testing.T, body string, keys ...string) string {
	t.Helper()
	var m map[string]any
	if err := jsonUnmarshal(body, &m); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	out := map[string]any{}
	for _, k := range keys {
		out[k] = m[k]
	}
	return mustJSON(out)
}

// Users and groups of a Windmill workspace are kept with the routes wmill
// sync push calls, and given back in the export when asked.
func TestUsersAndGroupsKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.must(200, "GET", "/api/settings/global/automate_username_creation", "")
	f.must(404, "GET", "/api/w/local/users/get/ann", "")
	f.must(400, "POST", "/api/w/local/workspaces/add_user", `{"email":"../x@example.com","username":"x","is_admin":false,"operator":false}`)
	f.must(201, "POST", "/api/w/local/workspaces/add_user", `{"email":"ann@example.com","username":"ann","is_admin":false,"operator":true}`)
	f.must(201, "POST", "/api/w/local/workspaces/add_user", `{"email":"bob@example.com","username":"bob","is_admin":true,"operator":false}`)
	f.must(200, "POST", "/api/w/local/users/update/ann", `{"is_admin":false,"operator":false,"disabled":true}`)
	jsonEqual(t, "get", pick(t, f.must(200, "GET", "/api/w/local/users/get/ann", ""), "username", "email", "is_admin", "operator", "disabled"),
		`{"username":"ann","email":"ann@example.com","is_admin":false,"operator":false,"disabled":true}`)

	f.must(201, "POST", "/api/w/local/groups/create", `{"name":"ops","summary":"on call"}`)
	f.must(200, "POST", "/api/w/local/groups/adduser/ops", `{"username":"ann"}`)
	f.must(200, "POST", "/api/w/local/groups/adduser/ops", `{"username":"bob"}`)
	f.must(200, "POST", "/api/w/local/acls/add/group_/ops", `{"owner":"u/bob","write":true}`)
	jsonEqual(t, "group", pick(t, f.must(200, "GET", "/api/w/local/groups/get/ops", ""), "name", "summary", "members", "extra_perms"),
		`{"name":"ops","summary":"on call","members":["ann","bob"],"extra_perms":{"u/bob":true}}`)

	files := f.exportFiles("&include_users=true&include_groups=true")
	jsonEqual(t, "user file", files["users/ann@example.com.user.json"], `{"username":"ann","role":"developer","disabled":true}`)
	jsonEqual(t, "user file", files["users/bob@example.com.user.json"], `{"username":"bob","role":"admin","disabled":false}`)
	jsonEqual(t, "group file", files["groups/ops.group.json"], `{"summary":"on call","members":["u/ann"],"admins":["u/bob"]}`)
	if _, ok := f.exportFiles("")["groups/ops.group.json"]; ok {
		t.Error("groups exported without include_groups")
	}

	if got := f.must(200, "GET", "/api/w/local/groups/list", ""); !strings.Contains(got, `"name":"all"`) || !strings.Contains(got, `"members":["me","ann","bob"]`) {
		t.Fatalf("Windmill's group all: %s", got)
	}
	f.must(400, "POST", "/api/w/local/groups/adduser/all", `{"username":"x"}`)
	f.must(400, "DELETE", "/api/w/local/groups/delete/all", "")
	f.must(200, "POST", "/api/w/local/groups/removeuser/ops", `{"username":"ann"}`)
	f.must(200, "DELETE", "/api/w/local/users/delete/ann", "")
	if got := f.must(200, "GET", "/api/w/local/users/list", ""); strings.Contains(got, "ann") || !strings.Contains(got, "bob@example.com") {
		t.Fatalf("list: %s", got)
	}
	f.must(200, "DELETE", "/api/w/local/groups/delete/ops", "")
	f.must(404, "GET", "/api/w/local/groups/get/ops", "")
}

// Workspace settings: each edit route wmill's push calls sets what the
// settings file says, get_settings answers every setting (null when
// unset: wmill compares with null), and the export writes settings.json
// as Windmill's does (null error and success handlers, no other nulls).
func TestWorkspaceSettingsKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	got := f.must(200, "GET", "/api/w/local/workspaces/get_settings", "")
	if !strings.Contains(got, `"error_handler":null`) || !strings.Contains(got, `"ai_config":null`) {
		t.Fatalf("defaults: %s", got)
	}
	for _, c := range [][2]string{
		{"edit_error_handler", `{"path":"f/ops/alert","extra_args":{"channel":"#ops"},"muted_on_cancel":false,"muted_on_user_path":false}`},
		{"edit_success_handler", `{}`},
		{"edit_auto_invite", `{"operator":true,"invite_all":true,"auto_add":true}`},
		{"edit_copilot_config", `{}`},
		{"edit_default_app", `{"default_app_path":"f/apps/home"}`},
		{"critical_alerts/mute", `{"mute_critical_alerts":true}`},
		{"change_workspace_color", `{"color":"#aabbcc"}`},
		{"operator_settings", `{"runs":true,"schedules":false}`},
		{"edit_slack_command", `{"slack_command_script":"script/f/bots/slash"}`},
		{"slack_oauth_config", `{"slack_oauth_client_id":"id1","slack_oauth_client_secret":"s1"}`},
	} {
		f.must(200, "POST", "/api/w/local/workspaces/"+c[0], c[1])
	}
	if code, body := f.do("POST", "/api/w/local/workspaces/edit_datatable_config", `{"settings":{"datatables":{}}}`); code != 200 || body != `{"stranded_references":[]}` {
		t.Fatalf("datatable: %d %s", code, body)
	}
	got = f.must(200, "GET", "/api/w/local/workspaces/get_settings", "")
	jsonEqual(t, "get_settings", pick(t, got, "error_handler", "success_handler", "auto_invite", "ai_config", "default_app", "mute_critical_alerts", "color", "operator_settings", "datatable"),
		`{"error_handler":{"path":"f/ops/alert","extra_args":{"channel":"#ops"},"muted_on_cancel":false},"success_handler":null,
		"auto_invite":{"enabled":true,"operator":true,"mode":"add"},"ai_config":null,"default_app":"f/apps/home","mute_critical_alerts":true,
		"color":"#aabbcc","operator_settings":{"runs":true,"schedules":false},"datatable":null}`)
	settings := f.exportFiles("&include_settings=true")["settings.json"]
	jsonEqual(t, "settings.json", settings, `{"auto_invite":{"enabled":true,"operator":true,"mode":"add"},
		"error_handler":{"path":"f/ops/alert","extra_args":{"channel":"#ops"},"muted_on_cancel":false},"success_handler":null,
		"default_app":"f/apps/home","name":"local","mute_critical_alerts":true,"color":"#aabbcc","operator_settings":{"runs":true,"schedules":false},
		"slack_command_script":"script/f/bots/slash","slack_oauth_client_id":"id1","slack_oauth_client_secret":"s1"}`)
	if !strings.HasPrefix(settings, "{\n  \"auto_invite\"") {
		t.Errorf("not in Windmill's order: %s", settings)
	}
	f.must(200, "DELETE", "/api/w/local/workspaces/slack_oauth_config", "")
	f.must(200, "POST", "/api/w/local/workspaces/edit_auto_invite", `{}`)
	got = f.must(200, "GET", "/api/w/local/workspaces/get_settings", "")
	jsonEqual(t, "after", pick(t, got, "auto_invite", "slack_oauth_client_id"), `{"auto_invite":{"enabled":false,"operator":true,"mode":"add"},"slack_oauth_client_id":null}`)
	if code, body := f.do("POST", "/api/w/local/workspaces/edit_webhook", `{"webhook":"http://x"}`); code != 400 {
		t.Errorf("a webhook without the engine's settings: %d %s", code, body)
	}

	// The encryption key: kept as it is and given back when asked.
	if got := f.must(200, "GET", "/api/w/local/workspaces/encryption_key", ""); got != `{"key":""}` {
		t.Fatalf("no key: %s", got)
	}
	key := strings.Repeat("aB3", 21) + "x"
	f.must(400, "POST", "/api/w/local/workspaces/encryption_key", `{"new_key":"short","skip_reencrypt":true}`)
	f.must(200, "POST", "/api/w/local/workspaces/encryption_key", `{"new_key":"`+key+`","skip_reencrypt":false}`)
	if got := f.must(200, "GET", "/api/w/local/workspaces/encryption_key", ""); got != `{"key":"`+key+`"}` {
		t.Fatalf("key: %s", got)
	}
	if got := f.exportFiles("&include_key=true")["encryption_key.json"]; got != `"`+key+`"` {
		t.Fatalf("encryption_key.json: %q", got)
	}
}

// Workspace dependency files and apps are kept and given back.
func TestDependenciesAndAppsKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.must(404, "GET", "/api/w/local/workspace_dependencies/get_latest/python3", "")
	f.must(201, "POST", "/api/w/local/workspace_dependencies/create", `{"content":"requests==2.32.3\n","language":"python3","workspace_id":"local"}`)
	f.must(201, "POST", "/api/w/local/workspace_dependencies/create", `{"name":"web","content":"{\"dependencies\":{}}\n","language":"bun"}`)
	if got := f.must(200, "GET", "/api/w/local/workspace_dependencies/get_latest/python3", ""); !strings.Contains(got, `"content":"requests==2.32.3\n"`) {
		t.Fatalf("get_latest: %s", got)
	}
	f.must(400, "POST", "/api/w/local/workspace_dependencies/create", `{"content":"x","language":"cobol"}`)
	files := f.exportFiles("&include_workspace_dependencies=true")
	if files["dependencies/requirements.in"] != "requests==2.32.3\n" || files["dependencies/web.package.json"] != "{\"dependencies\":{}}\n" {
		t.Fatalf("export: %v", files)
	}
	f.must(200, "POST", "/api/w/local/workspace_dependencies/delete/bun?name=web", "")
	f.must(404, "GET", "/api/w/local/workspace_dependencies/get_latest/bun?name=web", "")

	app := `{"path":"f/apps/home","summary":"home","value":{"grid":[],"hiddenInlineScripts":[]},"policy":{"execution_mode":"viewer","on_behalf_of":"u/x","triggerables_v2":{}},"deployment_message":"m"}`
	f.must(201, "POST", "/api/w/local/apps/create", app)
	f.must(400, "POST", "/api/w/local/apps/create", app)
	f.must(200, "POST", "/api/w/local/apps/update/f/apps/home", `{"summary":"home page"}`)
	got := f.must(200, "GET", "/api/w/local/apps/get/p/f/apps/home", "")
	jsonEqual(t, "get", pick(t, got, "path", "summary", "value"), `{"path":"f/apps/home","summary":"home page","value":{"grid":[],"hiddenInlineScripts":[]}}`)
	if got := f.must(200, "GET", "/api/w/local/apps/exists/f/apps/home", ""); got != "true" {
		t.Fatalf("exists: %s", got)
	}
	jsonEqual(t, "export", f.exportFiles("")["f/apps/home.app.json"], `{"summary":"home page","value":{"grid":[],"hiddenInlineScripts":[]},"policy":{"execution_mode":"viewer","triggerables_v2":{}}}`)
	if code, body := f.do("POST", "/api/w/local/apps/create_raw", `{}`); code != 400 || !strings.Contains(body, "raw apps") {
		t.Fatalf("raw app: %d %s", code, body)
	}
	f.must(200, "DELETE", "/api/w/local/apps/delete/f/apps/home", "")
	if got := f.must(200, "GET", "/api/w/local/apps/list", ""); got != "[]" {
		t.Fatalf("list: %s", got)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A folder an export wrote a folder.meta for without storing it (its
// items are in it) deletes as nothing to delete: wmill's push of a folder
// without that file does not stop on a 404.
func TestDeleteUnstoredFolderInUse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.must(201, "POST", "/api/w/local/scripts/create", `{"path":"f/loose/x","language":"bash","content":"echo x\n"}`)
	if !strings.Contains(f.exportFiles("")["f/loose/folder.meta.json"], `"display_name": "loose"`) {
		t.Fatal("the export has no folder.meta for the folder in use")
	}
	f.must(200, "DELETE", "/api/w/local/folders/delete/loose", "")
	f.must(404, "DELETE", "/api/w/local/folders/delete/nothing_here", "")
	f.must(200, "GET", "/api/w/local/scripts/get/p/f/loose/x", "")
}

// Triggers millrun has no listener for (websocket, kafka, postgres, ...)
// are kept with Windmill's routes and given back with include_triggers.
func TestOtherTriggersKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	body := `{"path":"f/feeds/ticker","script_path":"f/feeds/on_tick","is_flow":false,"url":"wss://example.com/feed","filters":[],"initial_messages":[],"mode":"enabled"}`
	f.must(201, "POST", "/api/w/local/websocket_triggers/create", body)
	f.must(400, "POST", "/api/w/local/websocket_triggers/create", body)
	if got := f.must(200, "GET", "/api/w/local/websocket_triggers/exists/f/feeds/ticker", ""); got != "true" {
		t.Fatalf("exists: %s", got)
	}
	f.must(200, "POST", "/api/w/local/websocket_triggers/update/f/feeds/ticker", strings.Replace(body, "enabled", "disabled", 1))
	jsonEqual(t, "get", pick(t, f.must(200, "GET", "/api/w/local/websocket_triggers/get/f/feeds/ticker", ""), "path", "url", "mode"),
		`{"path":"f/feeds/ticker","url":"wss://example.com/feed","mode":"disabled"}`)
	jsonEqual(t, "export", f.exportFiles("&include_triggers=true")["f/feeds/ticker.websocket_trigger.json"],
		`{"script_path":"f/feeds/on_tick","is_flow":false,"url":"wss://example.com/feed","filters":[],"initial_messages":[],"mode":"disabled"}`)
	if got := f.must(200, "GET", "/api/w/local/kafka_triggers/list", ""); got != "[]" {
		t.Fatalf("kafka list: %s", got)
	}
	f.must(200, "DELETE", "/api/w/local/websocket_triggers/delete/f/feeds/ticker", "")
	f.must(404, "GET", "/api/w/local/websocket_triggers/get/f/feeds/ticker", "")
}
