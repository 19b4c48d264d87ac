// Schedules through the API: Windmill's routes, runs in the history with
// their schedule, failures on the schedule and its on_failure handler.
package engine

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/millrun/millrun/engine/schedules"
	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/testkit"
)

func (f *fixture) scheduleRuns(path string) []map[string]any {
	f.t.Helper()
	var list []map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/jobs/list?schedule_path="+path, "", "").body), &list)
	return list
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
		{`{"path":"u/me/s","schedule":"* * * * * *","timezone":"UTC","script_path":"u/me/nope"}`, "Bad request: script not found at name u/me/nope"},
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
	testkit.WaitUntil(t, "three scheduled runs", 6*time.Second, func() bool { return len(f.scheduleRuns("u/me/every_second")) >= 3 })
	run := f.scheduleRuns("u/me/every_second")[0]
	if run["trigger"] != "schedule" || run["schedule_path"] != "u/me/every_second" {
		t.Fatalf("a scheduled run: %v", run)
	}
	testkit.WaitUntil(t, "a finished scheduled run", 5*time.Second, func() bool {
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
	testkit.WaitUntil(t, "runs after enabling", 4*time.Second, func() bool { return len(f.scheduleRuns("u/me/every_second")) > n })
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
	testkit.WaitUntil(t, "the failure on the schedule", 6*time.Second, func() bool {
		json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/schedules/get/u/me/failing", "", "").body), &sc)
		msg, _ := sc["error"].(string)
		return strings.Contains(msg, "RuntimeError: disk full")
	})
	testkit.WaitUntil(t, "the on_failure handler's run", 6*time.Second, func() bool {
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
	testkit.WaitUntil(t, "a queued scheduled run", 3*time.Second, func() bool { return len(f.scheduleRuns("u/me/s")) >= 1 })
	f.mustDo(200, "DELETE", "/api/w/local/schedules/delete/u/me/s", "", "")
	// A pass that read the schedule before the delete may still start the
	// run that was due then; after that, nothing.
	time.Sleep(1200 * time.Millisecond)
	queued := len(f.scheduleRuns("u/me/s"))
	testkit.WaitUntil(t, "the queued runs finish", 8*time.Second, func() bool {
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

// testClock is a wall clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// A token scoped to another script used to be able to cancel a coming
// scheduled run: the run's job id came from public inputs (the schedule's
// path and due time), so posting ?job_id= with it first made the run
// silently never happen, and a 409 for it told that the schedule existed.
func TestACallersJobIDCannotTakeAScheduledRun(t *testing.T) {
	t.Parallel()
	due := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	clock := &testClock{now: due.Add(-2 * time.Second)}
	f := setup(t, func(c *Config) { c.Clock = clock })
	f.e.sched.Stop() // the test's passes alone, each on the clock it set
	f.createScript("u/me/tick", "bash", "echo tick\n")
	f.createScript("u/me/hook", "bash", "echo hook\n")
	scoped := "Bearer " + f.mustDo(201, "POST", "/api/users/tokens/create", "application/json",
		`{"label":"hook only","scopes":["jobs:run:scripts:u/me/hook"]}`).body
	for _, p := range []string{"u/me/daily", "u/me/other"} {
		f.mustDo(201, "POST", "/api/w/local/schedules/create", "application/json",
			`{"path":"`+p+`","schedule":"0 0 8 * * *","timezone":"UTC","script_path":"u/me/tick"}`)
	}
	// What anyone could compute from the path and the due time.
	guess := func(path string) string {
		return uuid.NewSHA1(uuid.NameSpaceURL, []byte("millrun-schedule:local\x00"+path+"\x00"+due.Format(time.RFC3339Nano))).String()
	}
	if r := f.do("POST", "/api/w/local/jobs/run/p/u/me/hook?job_id="+guess("u/me/daily"), "application/json", "{}", "Authorization", scoped); r.status != 201 {
		t.Fatalf("the scoped token's own run: %d %s", r.status, r.body)
	}
	for _, at := range []time.Time{due.Add(-time.Second), due.Add(time.Second)} { // awake through the due time
		clock.Set(at)
		f.e.sched.Pass(t.Context())
	}
	for _, p := range []string{"u/me/daily", "u/me/other"} {
		if runs := f.scheduleRuns(p); len(runs) != 1 {
			t.Errorf("%s: the 08:00 runs are %v, want one", p, runs)
		}
	}
	// The 409 no longer tells which schedules exist: a guess for a schedule
	// that ran is answered as one for a schedule that never existed.
	for _, p := range []string{"u/me/other", "u/me/never"} {
		if r := f.do("POST", "/api/w/local/jobs/run/p/u/me/hook?job_id="+guess(p), "application/json", "{}", "Authorization", scoped); r.status != 201 {
			t.Errorf("a guessed id for %s: %d %s", p, r.status, r.body)
		}
	}
}

// Each scheduled job records the due time it is for, also when it starts
// late: the catch-up run after a 2-hour sleep says 10:00, the due time it
// stands for, not the time the laptop woke (before, the queue moved every
// past time to now).
func TestAScheduledRunRecordsItsDueTime(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 2, 8, 0, 45, 0, time.UTC)
	clock := &testClock{now: start}
	f := setup(t, func(c *Config) { c.Clock = clock })
	f.e.sched.Stop() // the test's passes alone, each on the clock it set
	f.createScript("u/me/tick", "bash", "echo tick\n")
	f.mustDo(201, "POST", "/api/w/local/schedules/create", "application/json",
		`{"path":"u/me/minutely","schedule":"0 * * * * *","timezone":"UTC","script_path":"u/me/tick","missed":"run_once"}`)
	f.e.sched.Pass(t.Context())
	clock.Set(start.Add(17 * time.Second)) // 08:01 on time, 2 s late
	f.e.sched.Pass(t.Context())
	clock.Set(start.Add(2*time.Hour - 35*time.Second)) // woke from a sleep at 10:00:10
	f.e.sched.Pass(t.Context())
	var got []string
	for _, j := range f.scheduleRuns("u/me/minutely") {
		f.waitJob(j["id"].(string)) // a past due time does not hold a run back
		job, err := f.e.db.GetJob(t.Context(), "local", j["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, job.ScheduledFor.UTC().Format(time.RFC3339))
	}
	want := []string{"2026-03-02T10:00:00Z", "2026-03-02T08:01:00Z"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("scheduled runs are for %v, want %v", got, want)
	}
}

// A due time whose job id another job holds did not run, and the schedule
// says so (only a holder of the installation's key can make that happen;
// the check keeps it from passing silently). The same run started twice,
// as after a crash between starting it and recording that, is not an
// error.
func TestATakenRunIDShowsOnTheSchedule(t *testing.T) {
	t.Parallel()
	due := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	clock := &testClock{now: due.Add(-2 * time.Second)}
	f := setup(t, func(c *Config) { c.Clock = clock })
	f.e.sched.Stop() // the test's passes alone, each on the clock it set
	f.createScript("u/me/tick", "bash", "echo tick\n")
	f.createScript("u/me/hook", "bash", "echo hook\n")
	f.mustDo(201, "POST", "/api/w/local/schedules/create", "application/json",
		`{"path":"u/me/daily","schedule":"0 0 8 * * *","timezone":"UTC","script_path":"u/me/tick"}`)
	id := f.e.sched.JobID("local", "u/me/daily", due)
	f.mustDo(201, "POST", "/api/w/local/jobs/run/p/u/me/hook?job_id="+id, "application/json", "{}")
	for _, at := range []time.Time{due.Add(-time.Second), due.Add(time.Second)} {
		clock.Set(at)
		f.e.sched.Pass(t.Context())
	}
	var sc map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/schedules/get/u/me/daily", "", "").body), &sc)
	msg, _ := sc["error"].(string)
	if !strings.Contains(msg, "the run due 2026-03-02T08:00:00Z did not start: its job id is already another job's (job "+id+", of u/me/hook)") {
		t.Fatalf("the schedule says %q", msg)
	}
	if next, _ := sc["next_run"].(string); next != "2026-03-03T08:00:00Z" {
		t.Fatalf("next run %v: a due time that cannot start is passed, not retried", sc["next_run"])
	}

	// The schedule's own run, started again.
	s, err := f.e.db.GetSchedule(t.Context(), "local", "u/me/daily")
	if err != nil {
		t.Fatal(err)
	}
	next := due.AddDate(0, 0, 1)
	own := f.e.sched.JobID("local", "u/me/daily", next)
	if err := f.e.schedule.EnqueueDue(t.Context(), s, next, own); err != nil {
		t.Fatal(err)
	}
	if err := f.e.schedule.EnqueueDue(t.Context(), s, next, own); !errors.Is(err, store.ErrDuplicateJob) || errors.Is(err, schedules.ErrIDTaken) {
		t.Fatalf("the same run started twice: %v", err)
	}
}

// A run's job id must be the same in the next process on the same data
// folder (that is what makes a due time start once across kill -9), and
// another installation's cannot be derived from it.
func TestScheduleRunIDsSurviveARestart(t *testing.T) {
	t.Parallel()
	due := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	id := func(dir string) string {
		e, err := Open(Config{DataDir: dir, Workers: 1, ShutdownGrace: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close(t.Context())
		return e.sched.JobID("local", "u/me/s", due)
	}
	dir := t.TempDir()
	first, again, other := id(dir), id(dir), id(t.TempDir())
	if first != again {
		t.Fatalf("the run's id changed across a restart: %s then %s", first, again)
	}
	if first == other {
		t.Fatal("two installations derive the same run id")
	}
	if u, err := uuid.Parse(first); err != nil || u.Version() != 4 {
		t.Fatalf("%s is not shaped as a random UUID", first)
	}
}
