// Schedules through the API: Windmill's routes, runs in the history with
// their schedule, failures on the schedule and its on_failure handler.
package engine

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func (f *fixture) scheduleRuns(path string) []map[string]any {
	f.t.Helper()
	var list []map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/jobs/list?schedule_path="+path, "", "").body), &list)
	return list
}

func waitFor(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestScheduleRunsAndRecordsFailures(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/tick", "bash", "who=\"${1:-nobody}\"\necho \"tick $who\"\n")
	f.createScript("u/me/boom", "python3", "def main():\n    raise RuntimeError('disk full')\n")
	f.createScript("u/me/on_fail", "python3", "def main(schedule_path: str, error: dict, path: str):\n    print('handled', schedule_path, path, error['error']['message'])\n    return schedule_path\n")

	for _, c := range []struct{ body, want string }{
		{`{"path":"u/me/s","schedule":"0 0 8 * *","timezone":"","script_path":"u/me/tick"}`, "time zone is missing"},
		{`{"path":"u/me/s","schedule":"0 0 25 * * *","timezone":"UTC","script_path":"u/me/tick"}`, "above maximum"},
		{`{"path":"u/me/s","schedule":"* * *","timezone":"UTC","script_path":"u/me/tick"}`, "has 3 fields"},
		{`{"path":"u/me/s","schedule":"* * * * * *","timezone":"UTC","script_path":"u/me/nope"}`, "no script at"},
		{`{"path":"u/me/s","schedule":"* * * * * *","timezone":"UTC","script_path":"u/me/tick","missed":"later"}`, "missed must be"},
		{`{"path":"u/me/s","schedule":"* * * * * *","timezone":"UTC","script_path":"u/me/tick","args":[1]}`, "args must be a JSON object"},
	} {
		if r := f.do("POST", "/api/w/local/schedules/create", "application/json", c.body); r.status != 400 || !strings.Contains(r.body, c.want) {
			t.Errorf("create %s: %d %s, want 400 %q", c.body, r.status, r.body, c.want)
		}
	}

	f.mustDo(201, "POST", "/api/w/local/schedules/create", "application/json",
		`{"path":"u/me/every_second","schedule":"* * * * * *","timezone":"Europe/Paris","script_path":"u/me/tick","args":{"who":"cron"},"summary":"tick"}`)
	var sc map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/schedules/get/u/me/every_second", "", "").body), &sc)
	if sc["description_words"] != "every second" || sc["next_run"] == nil || sc["enabled"] != true || sc["missed"] != "skip" {
		t.Fatalf("schedule: %v", sc)
	}
	waitFor(t, "three scheduled runs", 6*time.Second, func() bool { return len(f.scheduleRuns("u/me/every_second")) >= 3 })
	run := f.scheduleRuns("u/me/every_second")[0]
	if run["trigger"] != "schedule" || run["schedule_path"] != "u/me/every_second" {
		t.Fatalf("a scheduled run: %v", run)
	}
	waitFor(t, "a finished scheduled run", 5*time.Second, func() bool {
		for _, j := range f.scheduleRuns("u/me/every_second") {
			if j["success"] == true {
				var full map[string]any
				json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/jobs_u/get/"+j["id"].(string), "", "").body), &full)
				return full["result"] == "tick cron"
			}
		}
		return false
	})

	// Off: no more runs. On again: runs resume.
	f.mustDo(200, "POST", "/api/w/local/schedules/setenabled/u/me/every_second", "application/json", `{"enabled":false}`)
	time.Sleep(1200 * time.Millisecond) // a run already due may still start
	n := len(f.scheduleRuns("u/me/every_second"))
	time.Sleep(2200 * time.Millisecond)
	if m := len(f.scheduleRuns("u/me/every_second")); m != n {
		t.Fatalf("a disabled schedule went on: %d then %d runs", n, m)
	}
	f.mustDo(200, "POST", "/api/w/local/schedules/setenabled/u/me/every_second", "application/json", `{"enabled":true}`)
	waitFor(t, "runs after enabling", 4*time.Second, func() bool { return len(f.scheduleRuns("u/me/every_second")) > n })
	f.mustDo(200, "DELETE", "/api/w/local/schedules/delete/u/me/every_second", "", "")
	time.Sleep(1200 * time.Millisecond)
	n = len(f.scheduleRuns("u/me/every_second"))
	time.Sleep(2200 * time.Millisecond)
	if m := len(f.scheduleRuns("u/me/every_second")); m != n {
		t.Fatalf("a deleted schedule went on: %d then %d runs", n, m)
	}
	if n == 0 {
		t.Fatal("deleting a schedule removed its past runs")
	}

	// A failed run is shown on the schedule and starts its handler.
	f.mustDo(201, "POST", "/api/w/local/schedules/create", "application/json",
		`{"path":"u/me/failing","schedule":"* * * * * *","timezone":"UTC","script_path":"u/me/boom","on_failure":"script/u/me/on_fail"}`)
	waitFor(t, "the failure on the schedule", 6*time.Second, func() bool {
		json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/schedules/get/u/me/failing", "", "").body), &sc)
		msg, _ := sc["error"].(string)
		return strings.Contains(msg, "RuntimeError: disk full")
	})
	waitFor(t, "the on_failure handler's run", 6*time.Second, func() bool {
		var list []map[string]any
		json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/jobs/completed/list?trigger=schedule_on_failure", "", "").body), &list)
		for _, j := range list {
			var full map[string]any
			json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/jobs_u/get/"+j["id"].(string), "", "").body), &full)
			if full["result"] == "u/me/failing" && strings.Contains(full["logs"].(string), "handled u/me/failing u/me/boom disk full") {
				return true
			}
		}
		return false
	})
	f.mustDo(200, "POST", "/api/w/local/schedules/setenabled/u/me/failing", "application/json", `{"enabled":false}`)

	var preview []string
	json.Unmarshal([]byte(f.mustDo(200, "POST", "/api/schedules/preview", "application/json", `{"schedule":"0 0 8 * * 1-5","timezone":"Europe/Paris"}`).body), &preview)
	if len(preview) != 10 || !strings.HasSuffix(preview[0], ":00:00Z") {
		t.Fatalf("preview: %v", preview)
	}
	var list []map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/schedules/list?path=u/me/boom", "", "").body), &list)
	if len(list) != 1 || list[0]["path"] != "u/me/failing" {
		t.Fatalf("schedules of one script: %v", list)
	}
}

// A run already queued when its schedule is deleted still runs, once; the
// schedule starts nothing more.
func TestDeleteScheduleWhileItsRunIsQueued(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *Config) { c.Workers = 1 })
	f.createScript("u/me/busy", "bash", "sleep 2\n")
	f.createScript("u/me/tick", "bash", "echo tick\n")
	f.mustDo(201, "POST", "/api/w/local/jobs/run/p/u/me/busy", "application/json", "{}") // holds the only worker
	f.mustDo(201, "POST", "/api/w/local/schedules/create", "application/json",
		`{"path":"u/me/s","schedule":"* * * * * *","timezone":"UTC","script_path":"u/me/tick"}`)
	waitFor(t, "a queued scheduled run", 3*time.Second, func() bool { return len(f.scheduleRuns("u/me/s")) >= 1 })
	f.mustDo(200, "DELETE", "/api/w/local/schedules/delete/u/me/s", "", "")
	// A pass that read the schedule before the delete may still start the
	// run that was due then; after that, nothing.
	time.Sleep(1200 * time.Millisecond)
	queued := len(f.scheduleRuns("u/me/s"))
	waitFor(t, "the queued runs finish", 8*time.Second, func() bool {
		for _, j := range f.scheduleRuns("u/me/s") {
			if j["type"] != "CompletedJob" {
				return false
			}
		}
		return true
	})
	time.Sleep(1500 * time.Millisecond)
	if n := len(f.scheduleRuns("u/me/s")); n != queued {
		t.Fatalf("%d runs were queued at the delete, %d exist after", queued, n)
	}
}
