//go:build linux || darwin

package flows

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/testkit"
)

// crashFixture runs flows on a fixture that "dies" at a point: the point
// blocks the flow for good and the database is closed under it, as a
// kill -9 leaves it; then a second fixture opens the same file, as the
// next start of millrun would.
type crashFixture struct {
	*fixture
	crashed chan struct{}
}

// newCrashFixture dies the nth time the flow reaches point.
func newCrashFixture(t *testing.T, point string, nth int, opts ...func(*fixtureOpts)) *crashFixture {
	t.Helper()
	crashed, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	seen := 0
	opts = append(opts, func(o *fixtureOpts) {
		o.crashAt = func(p string) bool {
			mu.Lock()
			if p == point {
				seen++
			}
			hit := p == point && seen == nth
			mu.Unlock()
			if !hit {
				return false
			}
			close(crashed)
			<-release // dead: whatever it would do next never happens
			return true
		}
	})
	f := newFixture(t, opts...)
	t.Cleanup(func() { close(release) })
	return &crashFixture{fixture: f, crashed: crashed}
}

// die waits for the crash point, then cuts the database off.
func (c *crashFixture) die() {
	c.t.Helper()
	select {
	case <-c.crashed:
	case <-time.After(30 * time.Second):
		c.t.Fatal("the flow never reached its crash point")
	}
	c.db.Close()
}

// restart opens the database the crashed fixture left.
func (c *crashFixture) restart(opts ...func(*fixtureOpts)) *fixture {
	c.t.Helper()
	path := c.dbPath
	return newFixture(c.t, append(opts, func(o *fixtureOpts) { o.dbPath = path })...)
}

// runs counts the lines each step appended to its marker file.
func runs(t *testing.T, dir string, steps ...string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, s := range steps {
		b, _ := os.ReadFile(filepath.Join(dir, s))
		out[s] = strings.Count(string(b), "\n")
	}
	return out
}

func tenSteps(marks string) string {
	var mods []string
	for i := range 10 {
		mods = append(mods, step(fmt.Sprintf("s%d", i), "bash", fmt.Sprintf("echo x >> %s/s%d\necho %d\n", marks, i, i), ""))
	}
	return flowValue(mods...)
}

// A 10-step flow killed at every step boundary in turn goes on, at the
// next start, from the step after the boundary: every step runs once.
func TestKilledAtEveryStepBoundary(t *testing.T) {
	t.Parallel()
	for k := range 9 {
		t.Run(fmt.Sprintf("after s%d", k), func(t *testing.T) {
			t.Parallel()
			marks := t.TempDir()
			a := newCrashFixture(t, fmt.Sprintf("after s%d", k), 1)
			id := a.start(a.save("f/test/ten", tenSteps(marks)), `{}`)
			a.die()
			b := a.restart()
			final := b.wait(id)
			mustSucceed(t, final)
			if final.Result != `"9"` {
				t.Fatalf("result %s", final.Result)
			}
			for s, n := range runs(t, marks, "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9") {
				if n != 1 {
					t.Errorf("step %s ran %d times", s, n)
				}
			}
			for _, m := range statusOf(t, final).Modules {
				if m.Type != Success || len(m.Interrupted) != 0 {
					t.Errorf("module %s after the restart: %+v", m.ID, m)
				}
			}
			if !strings.Contains(final.Logs, fmt.Sprintf("resumes from its recorded progress: step s%d (%d of 10)", k+1, k+2)) {
				t.Errorf("the flow's log does not say it resumed at step %d:\n%s", k+2, final.Logs)
			}
		})
	}
}

// A step that was running when millrun died runs again, once, and its
// status says it was interrupted; the first attempt's job says why.
func TestKilledDuringAStep(t *testing.T) {
	t.Parallel()
	marks := t.TempDir()
	a := newCrashFixture(t, "ran s4", 1)
	id := a.start(a.save("f/test/ten", tenSteps(marks)), `{}`)
	a.die()
	b := a.restart()
	final := b.wait(id)
	mustSucceed(t, final)
	got := runs(t, marks, "s3", "s4", "s5")
	if got["s3"] != 1 || got["s4"] != 2 || got["s5"] != 1 {
		t.Fatalf("runs: %v (s4 was running at the kill: it runs again, once)", got)
	}
	m := statusOf(t, final).Modules[4]
	if len(m.Interrupted) != 1 || m.Type != Success || !strings.Contains(final.Logs, "step s4 was running when millrun stopped") {
		t.Fatalf("s4's status: %+v\n%s", m, final.Logs)
	}
	first := b.job(m.Interrupted[0])
	if first.Status != store.StatusFailure || !strings.Contains(first.Result, "WorkerStopped") {
		t.Errorf("the interrupted attempt: %s %s", first.Status, first.Result)
	}
}

// A loop killed between iterations resumes with the next iteration: the
// iterations done are not run again.
func TestKilledInsideALoop(t *testing.T) {
	t.Parallel()
	marks := t.TempDir()
	a := newCrashFixture(t, "after body", 2)
	hash := a.save("f/test/loopcrash", flowValue(`{"id":"loop","value":{"type":"forloopflow","iterator":{"type":"static","value":["w","x","y","z"]},"skip_failures":false,"modules":[`+
		step("body", "bash", "v=\"$1\"\necho x >> "+marks+"/$v\necho \"$v\"\n", js("v", "flow_input.iter.value"))+`]}}`))
	id := a.start(hash, `{}`)
	a.die()
	b := a.restart()
	final := b.wait(id)
	mustSucceed(t, final)
	if final.Result != `["w","x","y","z"]` {
		t.Fatalf("result %s", final.Result)
	}
	for v, n := range runs(t, marks, "w", "x", "y", "z") {
		if n != 1 {
			t.Errorf("iteration %s ran %d times", v, n)
		}
	}
	if m := rawModule(t, final, 0); len(m["flow_jobs"].([]any)) != 4 {
		t.Errorf("loop status: %v", m)
	}
}

// A flow that sleeps is still sleeping after a restart, and wakes when
// its sleep is over, not before.
func TestSleepSurvivesARestart(t *testing.T) {
	t.Parallel()
	a := newCrashFixture(t, "never", 1, func(o *fixtureOpts) { o.waitInline = 50 * time.Millisecond })
	hash := a.save("f/test/sleeps", flowValue(step("a", "bash", "echo a\n", "", `"sleep":3`), step("b", "bash", "echo b\n", "")))
	id := a.start(hash, `{}`)
	waiting := a.waitFor(id, "the sleep", func(j *store.Job) bool {
		return j.Status == store.StatusQueued && strings.Contains(j.FlowStatus, "WaitingForExecutor")
	})
	due := parseTime(statusOf(t, waiting).Modules[1].ScheduledFor)
	a.db.Close() // killed while the flow sleeps
	b := a.restart(func(o *fixtureOpts) { o.waitInline = 50 * time.Millisecond })
	if time.Until(due) > 500*time.Millisecond {
		time.Sleep(200 * time.Millisecond)
		if j := b.job(id); j.Status != store.StatusQueued || j.Finished() {
			t.Fatalf("after the restart, before its time, the flow should still sleep: %s", j.Status)
		}
	}
	final := b.wait(id)
	mustSucceed(t, final)
	if final.CompletedAt.Before(due) {
		t.Fatalf("the flow ended at %s, before its sleep was over at %s", final.CompletedAt, due)
	}
	if final.Result != `"b"` {
		t.Errorf("result %s", final.Result)
	}
}

// waitFor polls the flow until cond holds of it.
func (f *fixture) waitFor(id string, what string, cond func(j *store.Job) bool) *store.Job {
	f.t.Helper()
	var j *store.Job
	testkit.WaitUntil(f.t, "job "+id+": "+what, 20*time.Second, func() bool { j = f.job(id); return cond(j) })
	return j
}

// A step with a suspend makes the flow wait for approvals, its worker
// free, its wait on disk: still waiting after a restart, it goes on once
// approved, the next step seeing the answer as resume.
func TestApprovalWaitsAcrossARestart(t *testing.T) {
	t.Parallel()
	a := newCrashFixture(t, "never", 1, func(o *fixtureOpts) { o.workers = 1 })
	hash := a.save("f/test/approve", flowValue(
		step("ask", "bash", "echo please\n", "", `"suspend":{"required_events":1,"timeout":60}`),
		step("act", "python3", "def main(ok, who, all):\n    return {'ok': ok, 'who': who, 'all': all}\n", js("ok", "resume.ok", "who", "approvers", "all", "resumes")),
	))
	id := a.start(hash, `{}`)
	waiting := a.waitFor(id, "the wait for an approval", func(j *store.Job) bool {
		return j.Status == store.StatusQueued && strings.Contains(j.FlowStatus, `"WaitingForEvents"`)
	})
	if m := statusOf(t, waiting).Modules[1]; m.Count != 1 || m.Job == "" || m.Job != statusOf(t, waiting).Modules[0].Job || m.SuspendUntil == "" {
		t.Fatalf("the waiting module: %+v", m)
	}
	// The only worker is free while the flow waits.
	mustSucceed(t, a.wait(a.start(a.save("f/test/other", flowValue(step("x", "bash", "echo x\n", ""))), `{}`)))
	a.db.Close()
	b := a.restart(func(o *fixtureOpts) { o.workers = 1 })
	time.Sleep(300 * time.Millisecond)
	if j := b.job(id); j.Status != store.StatusQueued || !strings.Contains(j.FlowStatus, `"WaitingForEvents"`) {
		t.Fatalf("after the restart the flow should still wait: %s %s", j.Status, j.FlowStatus)
	}
	if err := AddResume(t.Context(), b.db, "local", id, Resume{ResumeID: 7, Approver: "ann", Approved: true, Value: json.RawMessage(`{"ok":"yes"}`)}); err != nil {
		t.Fatal(err)
	}
	if !b.queue.Wake(id) {
		t.Fatal("the waiting flow is not in the queue")
	}
	final := b.wait(id)
	mustSucceed(t, final)
	if compact(final.Result) != `{"all":[{"ok":"yes"}],"ok":"yes","who":["ann"]}` {
		t.Fatalf("result %s", final.Result)
	}
	if m := rawModule(t, final, 0); compact(mustJSON(m["approvers"])) != `[{"approver":"ann","resume_id":7}]` {
		t.Errorf("the approved step's approvers: %v", m["approvers"])
	}
	if err := AddResume(t.Context(), b.db, "local", id, Resume{Approver: "bo", Approved: true}); err != ErrNotWaiting {
		t.Errorf("an answer to a finished flow: %v", err)
	}
}

// A wait for approvals ends at its timeout: the flow fails as Windmill's
// does, or goes on with the timeout as resume when
// continue_on_disapprove_timeout; a refusal ends it at once.
func TestApprovalTimeoutAndRefusal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	flow := func(cont bool) string {
		return flowValue(step("ask", "bash", "echo please\n", "", fmt.Sprintf(`"suspend":{"required_events":1,"timeout":1,"continue_on_disapprove_timeout":%v}`, cont)),
			step("act", "python3", "def main(r):\n    return r\n", js("r", "resume")))
	}
	start := time.Now()
	_, final := f.run(f.save("f/test/timeout", flow(false)), `{}`)
	if final.Status != store.StatusFailure || !strings.Contains(final.Result, "SuspendedTimedOut") || !strings.Contains(final.Result, "Timed out waiting to be resumed") || time.Since(start) < time.Second {
		t.Fatalf("timed out wait: %s %s after %s", final.Status, final.Result, time.Since(start))
	}
	_, final = f.run(f.save("f/test/timeoutgoes", flow(true)), `{}`)
	mustSucceed(t, final)
	if !strings.Contains(final.Result, "SuspendedTimedOut") {
		t.Fatalf("continue_on_disapprove_timeout: %s", final.Result)
	}
	id := f.start(f.save("f/test/refused", flowValue(step("ask", "bash", "echo please\n", "", `"suspend":{"required_events":2,"timeout":60}`), step("act", "bash", "echo no\n", ""))), `{}`)
	f.waitFor(id, "the wait", func(j *store.Job) bool {
		return strings.Contains(j.FlowStatus, `"WaitingForEvents"`) && j.Status == store.StatusQueued
	})
	if err := AddResume(t.Context(), f.db, "local", id, Resume{ResumeID: 1, Approver: "cy", Approved: false}); err != nil {
		t.Fatal(err)
	}
	f.queue.Wake(id)
	final = f.wait(id)
	if final.Status != store.StatusFailure || !strings.Contains(final.Result, "Disapproved by cy") {
		t.Fatalf("a refusal: %s %s", final.Status, final.Result)
	}
}
