package api

import (
	"regexp"
	"testing"
)

// Answers keep their exact bytes: Windmill's CLI compares some of them
// with what it pushed, and clients read fields that are null rather than
// absent. These pin the shape (names, order, null vs [] vs {}) of answers
// that no other test spells out; times vary and read as <time>.

var timeText = regexp.MustCompile(`"\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)"`)

func (f *fixture) pinned(t *testing.T, method, path, body, want string) {
	t.Helper()
	got := timeText.ReplaceAllString(f.must(200, method, path, body), `"<time>"`)
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
