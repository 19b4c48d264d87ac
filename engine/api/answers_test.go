package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/autostart"
	"github.com/millrun/millrun/engine/deps"
	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/settings"
	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/tunnel"
)

// Answers keep their exact bytes: Windmill's CLI compares some of them
// with what it pushed, and clients read fields that are null rather than
// absent. These pin the shape (names, order, null vs [] vs {}) of answers
// that no other test spells out; times and durations vary and read as
// <time> and <n>.

var (
	timeText     = regexp.MustCompile(`"\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)"`)
	durationText = regexp.MustCompile(`"duration_ms":\d+`)
)

func (f *fixture) pinned(t *testing.T, method, path, body, want string) {
	t.Helper()
	got := timeText.ReplaceAllString(f.must(200, method, path, body), `"<time>"`)
	got = durationText.ReplaceAllString(got, `"duration_ms":<n>`)
	if got != want {
		t.Errorf("%s %s:\n got %s\nwant %s", method, path, got, want)
	}
}

func TestFolderAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.must(201, "POST", "/api/w/local/folders/create", `{"name":"ops","summary":"the team's"}`)
	want := `{"created_by":"millrun","display_name":"ops","edited_at":"<time>","extra_perms":{},"name":"ops","owners":[],"summary":"the team's","workspace_id":"local"}`
	f.pinned(t, "GET", "/api/w/local/folders/get/ops", "", want)
	f.pinned(t, "GET", "/api/w/local/folders/list", "", "["+want+"]")
}

func TestScheduleAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.must(201, "POST", "/api/w/local/scripts/create", `{"path":"u/me/tick","language":"bash","content":"echo tick\n"}`)
	f.must(201, "POST", "/api/w/local/schedules/create", `{"path":"u/me/every_day","schedule":"0 0 8 * * *","timezone":"Europe/Paris","script_path":"u/me/tick","is_flow":false,"args":{"b":2,"a":1},"enabled":false}`)
	want := `{"args":{"b":2,"a":1},"cron_version":"v2","description":"","description_words":"every day at 08:00 in Europe/Paris","edited_at":"<time>","edited_by":"test","email":"me@millrun.local","enabled":false,"error":null,"extra_perms":{},"is_flow":false,"missed":"skip","next_run":null,"no_flow_overlap":false,"on_failure":null,"on_failure_exact":false,"on_failure_extra_args":null,"on_failure_times":1,"on_recovery":null,"on_success":null,"path":"u/me/every_day","paused_until":null,"retry":null,"schedule":"0 0 8 * * *","script_path":"u/me/tick","summary":null,"tag":null,"timezone":"Europe/Paris","workspace_id":"local","ws_error_handler_muted":false}`
	f.pinned(t, "GET", "/api/w/local/schedules/get/u/me/every_day", "", want)
	f.pinned(t, "GET", "/api/w/local/schedules/list", "", "["+want+"]")
	f.pinned(t, "POST", "/api/millrun/schedules/explain", `{"schedule":"0 30 9 * * 1","timezone":"UTC"}`,
		`{"description":"every Monday at 09:30 in UTC","next":["<time>","<time>","<time>","<time>","<time>"],"schedule":"0 30 9 * * 1","timezone":"UTC"}`)
	wantFile := `{
  "args": {
    "b": 2,
    "a": 1
  },
  "cron_version": "v2",
  "description": "",
  "enabled": false,
  "is_flow": false,
  "missed": "skip",
  "no_flow_overlap": false,
  "on_failure": null,
  "on_failure_exact": false,
  "on_failure_extra_args": null,
  "on_failure_times": 1,
  "on_recovery": null,
  "on_success": null,
  "paused_until": null,
  "retry": null,
  "schedule": "0 0 8 * * *",
  "script_path": "u/me/tick",
  "summary": null,
  "tag": null,
  "timezone": "Europe/Paris",
  "ws_error_handler_muted": false
}`
	if got := f.exportFiles("&include_schedules=true")["u/me/every_day.schedule.json"]; got != wantFile {
		t.Errorf("export:\n got %s\nwant %s", got, wantFile)
	}
}

// Windmill's CompletedJob and QueuedJob (running, and waiting to start),
// and the small answers wmill and windmill-client poll.
func TestJobAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	done := &store.Job{Workspace: "local", Kind: "script", ScriptPath: "u/me/echo", Language: "bash", Args: `{"x":1}`, CreatedBy: "me", Trigger: "webhook"}
	if err := f.queue.Enqueue(ctx, done); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, body := f.do("GET", "/api/w/local/jobs_u/completed/get_result_maybe/"+done.ID, ""); strings.Contains(body, `"completed":true`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the job did not complete")
		}
	}
	id := func(s, id string) string { return strings.ReplaceAll(s, "<id>", id) }
	f.pinned(t, "GET", "/api/w/local/jobs_u/get/"+done.ID, "", id(`{"args":{"x":1},"args_truncated":false,"canceled":false,"completed_at":"<time>","created_at":"<time>","created_by":"me","deleted":false,"duration_ms":<n>,"email":"millrun@localhost","id":"<id>","is_flow_step":false,"is_skipped":false,"job_kind":"script","language":"bash","logs":"","permissioned_as":"u/me","result":{"x":1},"result_columns":null,"same_worker":false,"script_path":"u/me/echo","started_at":"<time>","status":"success","success":true,"tag":"bash","trigger":"webhook","type":"CompletedJob","visible_to_owner":true,"workspace_id":"local"}`, done.ID))
	f.pinned(t, "GET", "/api/w/local/jobs/completed/list", "", id(`[{"args":{"x":1},"args_truncated":false,"canceled":false,"completed_at":"<time>","created_at":"<time>","created_by":"me","deleted":false,"duration_ms":<n>,"email":"millrun@localhost","id":"<id>","is_flow_step":false,"is_skipped":false,"job_kind":"script","language":"bash","permissioned_as":"u/me","result_columns":null,"same_worker":false,"script_path":"u/me/echo","started_at":"<time>","status":"success","success":true,"tag":"bash","trigger":"webhook","type":"CompletedJob","visible_to_owner":true,"workspace_id":"local"}]`, done.ID))
	f.pinned(t, "GET", "/api/w/local/jobs_u/completed/get_result_maybe/"+done.ID, "", `{"completed":true,"result":{"x":1},"started":true,"success":true}`)
	f.pinned(t, "GET", "/api/w/local/jobs_u/getupdate/"+done.ID+"?log_offset=0", "", `{"completed":true,"log_offset":0,"new_logs":"","running":false}`)
	f.pinned(t, "GET", "/api/w/local/jobs_u/completed/get_result_maybe/0192aaaa-0000-7000-8000-000000000000", "", `{"completed":false,"result":null,"started":null,"success":null}`)

	running := &store.Job{Workspace: "local", Kind: "script", ScriptPath: "u/me/gated", Language: "python3", Args: `{}`, CreatedBy: "me", Trigger: "ui"}
	if err := f.queue.Enqueue(ctx, running); err != nil {
		t.Fatal(err)
	}
	<-f.exec.started
	defer close(f.exec.gate)
	waiting := &store.Job{Workspace: "local", Kind: "script", ScriptPath: "u/me/echo", Language: "bash", Args: `{"y":2}`, CreatedBy: "me", Trigger: "schedule", SchedulePath: "u/me/nightly"}
	if err := f.queue.Enqueue(ctx, waiting); err != nil {
		t.Fatal(err)
	}
	f.pinned(t, "GET", "/api/w/local/jobs_u/get/"+running.ID, "", id(`{"args":{},"args_truncated":false,"canceled":false,"created_at":"<time>","created_by":"me","email":"millrun@localhost","id":"<id>","is_flow_step":false,"job_kind":"script","language":"python3","logs":"","permissioned_as":"u/me","running":true,"same_worker":false,"scheduled_for":"<time>","script_entrypoint_override":null,"script_path":"u/me/gated","started_at":"<time>","status":"running","tag":"python3","trigger":"ui","type":"QueuedJob","visible_to_owner":true,"workspace_id":"local"}`, running.ID))
	f.pinned(t, "GET", "/api/w/local/jobs_u/completed/get_result_maybe/"+running.ID, "", `{"completed":false,"result":null,"started":true,"success":null}`)
	f.pinned(t, "GET", "/api/w/local/jobs_u/get/"+waiting.ID, "", id(`{"args":{"y":2},"args_truncated":false,"canceled":false,"created_at":"<time>","created_by":"me","email":"millrun@localhost","id":"<id>","is_flow_step":false,"job_kind":"script","language":"bash","logs":"","permissioned_as":"u/me","running":false,"same_worker":false,"schedule_path":"u/me/nightly","scheduled_for":"<time>","script_entrypoint_override":null,"script_path":"u/me/echo","status":"queued","tag":"bash","trigger":"schedule","type":"QueuedJob","visible_to_owner":true,"workspace_id":"local"}`, waiting.ID))
	f.pinned(t, "GET", "/api/w/local/jobs_u/completed/get_result_maybe/"+waiting.ID, "", `{"completed":false,"result":null,"started":null,"success":null}`)
}

// Who the caller is, in Windmill's two whoami shapes and millrun's own,
// and the tokens list.
func TestSessionAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.pinned(t, "GET", "/api/users/whoami", "", `{"disabled":false,"email":"me@millrun.local","first_time_user":false,"login_type":"password","name":"me","operator_only":false,"role_source":"manual","super_admin":true,"username":"me","verified":true}`)
	f.pinned(t, "GET", "/api/w/local/users/whoami", "", `{"created_at":"<time>","disabled":false,"email":"me@millrun.local","folders":[],"folders_owners":[],"folders_read":[],"groups":[],"is_admin":true,"is_super_admin":true,"operator":false,"username":"me"}`)
	f.pinned(t, "GET", "/api/workspaces/list", "", `[{"id":"local","name":"local","owner":"me@millrun.local"}]`)
	f.pinned(t, "GET", "/api/millrun/whoami", "", `{"base_url":"","desktop":false,"full_access":true,"label":"test","notice":"","os_user":"me","scopes":null,"version":"`+Version+`","workspace":"local"}`)
	scoped := f.must(201, "POST", "/api/users/tokens/create", `{"label":"ci","scopes":["jobs:run:scripts:u/me/x"]}`)
	whole := f.must(201, "POST", "/api/users/tokens/create", `{"label":"all","expiration":"2099-01-02T03:04:05Z"}`)
	f.pinned(t, "GET", "/api/users/tokens/list", "", `[{"created_at":"<time>","current":false,"expiration":"<time>","label":"all","last_used_at":null,"scopes":[],"token_prefix":"`+whole[:10]+`"},{"created_at":"<time>","current":false,"expiration":null,"label":"ci","last_used_at":null,"scopes":["jobs:run:scripts:u/me/x"],"token_prefix":"`+scoped[:10]+`"}]`)
	f.pinned(t, "POST", "/api/millrun/logout", "", `{"logged_out":true}`)
}

// Scripts' version history and syntax check, and the small answers of
// Windmill's routes wmill sync calls.
func TestScriptAndWorkspaceAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hash := f.must(201, "POST", "/api/w/local/scripts/create", `{"path":"u/me/hi","language":"bash","content":"echo hi\n","summary":"first"}`)
	f.pinned(t, "GET", "/api/w/local/scripts/history/p/u/me/hi", "", `[{"created_at":"<time>","script_hash":"`+hash+`","summary":"first"}]`)
	f.pinned(t, "POST", "/api/millrun/scripts/check", `{"language":"bash","content":"echo hi\n"}`, `{"ok":true}`)
	f.pinned(t, "GET", "/api/w/local/scripts/deployment_status/h/"+hash, "", `{"job_id":null,"lock":null,"lock_error_logs":null}`)
	f.pinned(t, "POST", "/api/w/local/workspaces/edit_datatable_config", `{"settings":{}}`, `{"stranded_references":[]}`)
	f.pinned(t, "GET", "/api/w/local/workspaces/encryption_key", "", `{"key":""}`)
	f.pinned(t, "GET", "/api/w/local/jobs/completed/count", "", `{"database_length":0}`)

	f.must(201, "POST", "/api/w/local/workspaces/add_user", `{"email":"ann@example.com","username":"ann","is_admin":false,"operator":true}`)
	ann := `{"added_via":null,"created_at":"<time>","disabled":false,"email":"ann@example.com","folders":[],"folders_owners":[],"groups":[],"is_admin":false,"operator":true,"role":"operator","username":"ann","workspace_id":"local"}`
	f.pinned(t, "GET", "/api/w/local/users/list", "", "["+ann+"]")
	f.pinned(t, "GET", "/api/w/local/users/get/ann", "", ann)
	f.must(201, "POST", "/api/w/local/groups/create", `{"name":"ops","summary":"on call"}`)
	f.must(200, "POST", "/api/w/local/groups/adduser/ops", `{"username":"ann"}`)
	ops := `{"extra_perms":{},"members":["ann"],"name":"ops","summary":"on call","workspace_id":"local"}`
	f.pinned(t, "GET", "/api/w/local/groups/list", "", `[{"extra_perms":{},"members":["me","ann"],"name":"all","summary":"The group that always contains all users of this workspace","workspace_id":"local"},`+ops+`]`)
	f.pinned(t, "GET", "/api/w/local/groups/get/ops", "", ops)
	f.must(201, "POST", "/api/w/local/workspace_dependencies/create", `{"content":"requests==2.32.3\n","language":"python3","workspace_id":"local"}`)
	f.must(201, "POST", "/api/w/local/workspace_dependencies/create", `{"content":"x\n","language":"python3","name":"extra","workspace_id":"local"}`)
	deps := `{"archived":false,"content":"requests==2.32.3\n","created_at":"<time>","description":null,"language":"python3","name":null,"workspace_id":"local"}`
	f.pinned(t, "GET", "/api/w/local/workspace_dependencies/list", "", `[`+deps+`,{"archived":false,"content":"x\n","created_at":"<time>","description":null,"language":"python3","name":"extra","workspace_id":"local"}]`)
	f.pinned(t, "GET", "/api/w/local/workspace_dependencies/get_latest/python3", "", deps)
}

type fixedControl struct{ set settings.Settings }

func (c fixedControl) Settings() settings.Settings                             { return c.set }
func (c fixedControl) UpdateSettings(context.Context, settings.Settings) error { return nil }
func (c fixedControl) StartTunnel() error                                      { return nil }

// Settings and the package cache, as the Settings page reads them.
func TestSettingsAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := t.TempDir()
	runner := runtime.New(runtime.Interpreters{Bash: "/bin/bash"})
	tools := deps.Tools{Env: []string{"HOME=" + dir, "PIP_INDEX_URL=http://127.0.0.1:9/simple"}}
	runner.Packages = &runtime.Packages{Cache: deps.NewCache(filepath.Join(dir, "packages"), tools), Tools: tools}
	s := &Server{Workspace: "local", Queue: f.queue, Runner: runner, StartCommand: []string{"/usr/bin/millrun", "engine"},
		Control: fixedControl{settings.Defaults([]string{"x-github-event"})}, Log: slog.New(slog.DiscardHandler)}
	mux := http.NewServeMux()
	s.registerSettings(routes{management: management{mux}, scoped: s.group(mux)})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(reqctx.WithIdentity(r.Context(), &auth.Identity{Label: "test"})))
	}))
	defer srv.Close()
	get := func(method, path string) string {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader("{}"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	set, _ := json.Marshal(s.Control.Settings())
	hints, _ := json.Marshal(installHints(runner.Interpreters()))
	entry, _ := json.Marshal(autostart.Where())
	want := `{"install_hints":` + string(hints) + `,"interpreters":{"python":"","python_version":"","node":"","node_version":"","bun":"","deno":"","bash":"/bin/bash"},"queue":{"queued":0,"running":0,"workers":1},"settings":` + string(set) +
		`,"start_at_login":{"available":true,"command":["/usr/bin/millrun","engine"],"entry":` + string(entry) + `},"start_ms":null,"workspace":"local"}`
	if got := get("GET", "/api/millrun/settings"); got != want {
		t.Errorf("settings:\n got %s\nwant %s", got, want)
	}
	if got, want := get("POST", "/api/millrun/settings"), `{"settings":`+string(set)+`}`; got != want {
		t.Errorf("settings saved:\n got %s\nwant %s", got, want)
	}
	if got, want := get("GET", "/api/millrun/packages"), `{"bytes":0,"index_url":"http://127.0.0.1:9/simple","location":"`+filepath.Join(dir, "packages")+`","tool":"pip"}`; got != want {
		t.Errorf("packages:\n got %s\nwant %s", got, want)
	}
}

// A workspace export's resource, variable and folder files, and the map
// of resource types pulled as files, as wmill sync reads them.
func TestExportFileAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.must(201, "POST", "/api/w/local/resources/create", `{"path":"u/me/db","resource_type":"postgresql","value":{"port":5432,"host":"h"},"description":"the db"}`)
	f.must(201, "POST", "/api/w/local/variables/create", `{"path":"u/me/greeting","value":"hi <you>","is_secret":false,"description":"said first"}`)
	f.must(201, "POST", "/api/w/local/folders/create", `{"name":"ops","summary":"the team's"}`)
	f.must(201, "POST", "/api/w/local/scripts/create", `{"path":"f/loose/x","language":"bash","content":"echo x\n"}`)
	files := f.exportFiles("")
	for name, want := range map[string]string{
		"u/me/db.resource.json": `{
  "description": "the db",
  "resource_type": "postgresql",
  "value": {
    "host": "h",
    "port": 5432
  }
}`,
		"u/me/greeting.variable.json": `{
  "account": null,
  "description": "said first",
  "expires_at": null,
  "is_oauth": false,
  "is_secret": false,
  "value": "hi \u003cyou\u003e"
}`,
		"f/ops/folder.meta.json": `{
  "display_name": "ops",
  "extra_perms": {},
  "owners": [],
  "summary": "the team's"
}`,
		"f/loose/folder.meta.json": `{
  "display_name": "loose",
  "extra_perms": {},
  "owners": [],
  "summary": null
}`,
	} {
		if files[name] != want {
			t.Errorf("%s:\n got %s\nwant %s", name, files[name], want)
		}
	}
	f.must(201, "POST", "/api/w/local/resources/type/create", `{"name":"c_cert","schema":{},"description":"","format_extension":"pem","is_fileset":false}`)
	f.must(201, "POST", "/api/w/local/resources/type/create", `{"name":"c_dir","schema":{},"description":"","is_fileset":true}`)
	f.pinned(t, "GET", "/api/w/local/resources/file_resource_type_to_file_ext_map", "", `{"c_cert":{"format_extension":"pem","is_fileset":false},"c_dir":{"format_extension":null,"is_fileset":true}}`)
}

// Scripts and flows: Windmill's Script and Flow, with the fields a client
// pushed that millrun keeps given back among them (a new Windmill's too),
// in lists, by hash, archived and deleted.
func TestScriptAndFlowAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	h1 := f.must(201, "POST", "/api/w/local/scripts/create", `{"path":"u/me/hi","language":"bash","content":"# <b> & co\necho hi\n","summary":"first","description":"says hi","timeout":30,"tag":"bash-x","envs":["A=1"],"priority":3,"zz_new":{"b":1,"a":2}}`)
	h2 := f.must(201, "POST", "/api/w/local/scripts/create", `{"path":"u/me/lib","language":"python3","content":"def f():\n    return 1\n","dedicated_worker":true}`)
	f.pinned(t, "GET", "/api/w/local/scripts/get/p/u/me/hi", "", `{"archived":false,"cache_ttl":null,"concurrent_limit":null,"content":"# <b> & co\necho hi\n","created_at":"<time>","created_by":"millrun","dedicated_worker":null,"delete_after_use":false,"deleted":false,"description":"says hi","draft_only":false,"envs":["A=1"],"extra_perms":{},"has_draft":false,"has_preprocessor":false,"hash":"`+h1+`","is_template":false,"kind":"script","language":"bash","lock":null,"lock_error_logs":null,"no_main_func":false,"parent_hashes":[],"path":"u/me/hi","priority":3,"restart_unless_cancelled":false,"schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{},"required":[],"order":[]},"starred":false,"summary":"first","tag":"bash-x","timeout":30,"visible_to_runner_only":false,"workspace_id":"local","ws_error_handler_muted":false,"zz_new":{"b":1,"a":2}}`)
	f.pinned(t, "GET", "/api/w/local/scripts/get/h/"+h2, "", `{"archived":false,"cache_ttl":null,"concurrent_limit":null,"content":"def f():\n    return 1\n","created_at":"<time>","created_by":"millrun","dedicated_worker":true,"delete_after_use":false,"deleted":false,"description":"","draft_only":false,"extra_perms":{},"has_draft":false,"has_preprocessor":false,"hash":"`+h2+`","is_template":false,"kind":"script","language":"python3","lock":null,"lock_error_logs":null,"no_main_func":true,"parent_hashes":[],"path":"u/me/lib","priority":null,"restart_unless_cancelled":false,"schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{},"required":[],"order":[]},"starred":false,"summary":"","tag":null,"timeout":null,"visible_to_runner_only":false,"workspace_id":"local","ws_error_handler_muted":false}`)
	f.pinned(t, "GET", "/api/w/local/scripts/list", "", `[{"archived":false,"cache_ttl":null,"concurrent_limit":null,"created_at":"<time>","created_by":"millrun","dedicated_worker":null,"delete_after_use":false,"deleted":false,"description":"says hi","draft_only":false,"envs":["A=1"],"extra_perms":{},"has_draft":false,"has_preprocessor":false,"hash":"`+h1+`","is_template":false,"kind":"script","language":"bash","last_status":"","lock":null,"lock_error_logs":null,"no_main_func":false,"parent_hashes":[],"path":"u/me/hi","priority":3,"restart_unless_cancelled":false,"run_count":0,"schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{},"required":[],"order":[]},"starred":false,"summary":"first","tag":"bash-x","timeout":30,"visible_to_runner_only":false,"workspace_id":"local","ws_error_handler_muted":false,"zz_new":{"b":1,"a":2}},{"archived":false,"cache_ttl":null,"concurrent_limit":null,"created_at":"<time>","created_by":"millrun","dedicated_worker":true,"delete_after_use":false,"deleted":false,"description":"","draft_only":false,"extra_perms":{},"has_draft":false,"has_preprocessor":false,"hash":"`+h2+`","is_template":false,"kind":"script","language":"python3","last_status":"","lock":null,"lock_error_logs":null,"no_main_func":true,"parent_hashes":[],"path":"u/me/lib","priority":null,"restart_unless_cancelled":false,"run_count":0,"schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{},"required":[],"order":[]},"starred":false,"summary":"","tag":null,"timeout":null,"visible_to_runner_only":false,"workspace_id":"local","ws_error_handler_muted":false}]`)
	f.pinned(t, "POST", "/api/w/local/scripts/archive/h/"+h2, "", `{"archived":true,"cache_ttl":null,"concurrent_limit":null,"content":"def f():\n    return 1\n","created_at":"<time>","created_by":"millrun","dedicated_worker":true,"delete_after_use":false,"deleted":false,"description":"","draft_only":false,"extra_perms":{},"has_draft":false,"has_preprocessor":false,"hash":"`+h2+`","is_template":false,"kind":"script","language":"python3","lock":null,"lock_error_logs":null,"no_main_func":true,"parent_hashes":[],"path":"u/me/lib","priority":null,"restart_unless_cancelled":false,"schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{},"required":[],"order":[]},"starred":false,"summary":"","tag":null,"timeout":null,"visible_to_runner_only":false,"workspace_id":"local","ws_error_handler_muted":false}`)
	f.pinned(t, "GET", "/api/w/local/scripts/list?show_archived=true", "", `[{"archived":false,"cache_ttl":null,"concurrent_limit":null,"created_at":"<time>","created_by":"millrun","dedicated_worker":null,"delete_after_use":false,"deleted":false,"description":"says hi","draft_only":false,"envs":["A=1"],"extra_perms":{},"has_draft":false,"has_preprocessor":false,"hash":"`+h1+`","is_template":false,"kind":"script","language":"bash","last_status":"","lock":null,"lock_error_logs":null,"no_main_func":false,"parent_hashes":[],"path":"u/me/hi","priority":3,"restart_unless_cancelled":false,"run_count":0,"schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{},"required":[],"order":[]},"starred":false,"summary":"first","tag":"bash-x","timeout":30,"visible_to_runner_only":false,"workspace_id":"local","ws_error_handler_muted":false,"zz_new":{"b":1,"a":2}},{"archived":true,"cache_ttl":null,"concurrent_limit":null,"created_at":"<time>","created_by":"millrun","dedicated_worker":true,"delete_after_use":false,"deleted":false,"description":"","draft_only":false,"extra_perms":{},"has_draft":false,"has_preprocessor":false,"hash":"`+h2+`","is_template":false,"kind":"script","language":"python3","last_status":"","lock":null,"lock_error_logs":null,"no_main_func":true,"parent_hashes":[],"path":"u/me/lib","priority":null,"restart_unless_cancelled":false,"run_count":0,"schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{},"required":[],"order":[]},"starred":false,"summary":"","tag":null,"timeout":null,"visible_to_runner_only":false,"workspace_id":"local","ws_error_handler_muted":false}]`)
	f.pinned(t, "POST", "/api/w/local/scripts/delete/h/"+h1, "", `{"archived":true,"cache_ttl":null,"concurrent_limit":null,"content":"","created_at":"<time>","created_by":"millrun","dedicated_worker":null,"delete_after_use":false,"deleted":true,"description":"says hi","draft_only":false,"envs":["A=1"],"extra_perms":{},"has_draft":false,"has_preprocessor":false,"hash":"`+h1+`","is_template":false,"kind":"script","language":"bash","lock":null,"lock_error_logs":null,"no_main_func":false,"parent_hashes":[],"path":"u/me/hi","priority":3,"restart_unless_cancelled":false,"schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{},"required":[],"order":[]},"starred":false,"summary":"first","tag":"bash-x","timeout":30,"visible_to_runner_only":false,"workspace_id":"local","ws_error_handler_muted":false,"zz_new":{"b":1,"a":2}}`)
	f.must(201, "POST", "/api/w/local/flows/create", `{"path":"u/me/fl","summary":"a flow <x>","description":"","value":{"modules":[{"id":"a","value":{"type":"rawscript","language":"bash","content":"echo 1","input_transforms":{}}}]},"schema":{"type":"object"},"tag":"t1","ws_error_handler_muted":true}`)
	var flow struct{ Hash string }
	_ = json.Unmarshal([]byte(f.must(200, "GET", "/api/w/local/flows/get/u/me/fl", "")), &flow)
	fh := flow.Hash
	f.pinned(t, "GET", "/api/w/local/flows/get/u/me/fl", "", `{"archived":false,"description":"","edited_at":"<time>","edited_by":"millrun","extra_perms":{},"hash":"`+fh+`","path":"u/me/fl","schema":{"type":"object"},"summary":"a flow <x>","tag":"t1","value":{"modules":[{"id":"a","value":{"type":"rawscript","language":"bash","content":"echo 1","input_transforms":{}}}]},"workspace_id":"local","ws_error_handler_muted":true}`)
	f.pinned(t, "GET", "/api/w/local/flows/list", "", `[{"archived":false,"description":"","edited_at":"<time>","edited_by":"millrun","extra_perms":{},"hash":"`+fh+`","path":"u/me/fl","schema":{"type":"object"},"summary":"a flow <x>","tag":"t1","workspace_id":"local","ws_error_handler_muted":true}]`)
}

// Windmill's resource types, apps and the triggers millrun has no
// listener for are kept documents: the server's fields, with what was
// pushed over them.
func TestKeptDocumentAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.must(201, "POST", "/api/w/local/resources/type/create", `{"name":"c_api","schema":{"type":"object"},"description":"an <API>"}`)
	f.pinned(t, "GET", "/api/w/local/resources/type/get/c_api", "", `{"created_by":"me","description":"an \u003cAPI\u003e","edited_at":"<time>","format_extension":null,"is_fileset":false,"name":"c_api","schema":{"type":"object"},"workspace_id":"local"}`)
	f.pinned(t, "GET", "/api/w/local/resources/type/list", "", `[{"created_by":"me","description":"an \u003cAPI\u003e","edited_at":"<time>","format_extension":null,"is_fileset":false,"name":"c_api","schema":{"type":"object"},"workspace_id":"local"}]`)
	f.must(201, "POST", "/api/w/local/apps/create", `{"path":"f/apps/home","summary":"home","value":{"grid":[],"hiddenInlineScripts":[]},"policy":{"execution_mode":"viewer","triggerables_v2":{}},"custom_path":"home"}`)
	f.pinned(t, "GET", "/api/w/local/apps/get/p/f/apps/home", "", `{"created_at":"<time>","created_by":"me","custom_path":"home","edited_at":"<time>","extra_perms":{},"id":1,"path":"f/apps/home","policy":{"execution_mode":"viewer","triggerables_v2":{}},"raw_app":false,"summary":"home","value":{"grid":[],"hiddenInlineScripts":[]},"versions":[1],"workspace_id":"local"}`)
	f.pinned(t, "GET", "/api/w/local/apps/list", "", `[{"created_at":"<time>","created_by":"me","custom_path":"home","edited_at":"<time>","extra_perms":{},"id":1,"path":"f/apps/home","policy":{"execution_mode":"viewer","triggerables_v2":{}},"raw_app":false,"summary":"home","versions":[1],"workspace_id":"local"}]`)
	f.must(201, "POST", "/api/w/local/websocket_triggers/create", `{"path":"f/feeds/ticker","script_path":"f/feeds/on_tick","is_flow":false,"url":"wss://example.com/feed","filters":[],"initial_messages":[],"mode":"enabled"}`)
	f.pinned(t, "GET", "/api/w/local/websocket_triggers/get/f/feeds/ticker", "", `{"edited_at":"<time>","edited_by":"me","email":"me@millrun.local","extra_perms":{},"filters":[],"initial_messages":[],"is_flow":false,"mode":"enabled","path":"f/feeds/ticker","script_path":"f/feeds/on_tick","url":"wss://example.com/feed","workspace_id":"local"}`)
	f.pinned(t, "GET", "/api/w/local/websocket_triggers/list", "", `[{"edited_at":"<time>","edited_by":"me","email":"me@millrun.local","extra_perms":{},"filters":[],"initial_messages":[],"is_flow":false,"mode":"enabled","path":"f/feeds/ticker","script_path":"f/feeds/on_tick","url":"wss://example.com/feed","workspace_id":"local"}]`)
}

// The tunnel's state with its settings, as the Tunnel panel reads it.
func TestTunnelAnswers(t *testing.T) {
	t.Parallel()
	set := settings.Defaults(nil)
	set.TunnelDomain, set.TunnelAllowCIDRs = "me.example.app", []string{"10.0.0.0/8"}
	s := &Server{Workspace: "local", Control: fixedControl{set}, Log: slog.New(slog.DiscardHandler),
		Tunnel:    tunnel.NewManager(&tunnel.Fake{}, http.NotFoundHandler(), slog.New(slog.DiscardHandler)),
		Authtoken: &tunnel.Authtoken{Path: filepath.Join(t.TempDir(), "authtoken"), Env: "2abcdefghijklmnopqrstuvwxyz_0123456789ABCDE"}}
	mux := http.NewServeMux()
	s.registerTunnel(routes{management: management{mux}, scoped: s.group(mux)})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(reqctx.WithIdentity(r.Context(), &auth.Identity{Label: "test"})))
	}))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/api/millrun/tunnel")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	hint, _ := json.Marshal(tunnel.Hint("2abcdefghijklmnopqrstuvwxyz_0123456789ABCDE"))
	want := `{"state":"off","since":"<time>","authtoken_hint":` + string(hint) + `,"authtoken_source":"NGROK_AUTHTOKEN","domain":"me.example.app","autostart":false,"allow_cidrs":["10.0.0.0/8"]}`
	if got := timeText.ReplaceAllString(string(b), `"<time>"`); got != want {
		t.Errorf("tunnel:\n got %s\nwant %s", got, want)
	}
}
