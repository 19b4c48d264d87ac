//go:build linux || darwin

package flows

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/store"
)

const askStep = "echo please\n"

func suspend(required, timeout int) string {
	return `"suspend":{"required_events":` + itoa(required) + `,"timeout":` + itoa(timeout) + `}`
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// waiting polls until the flow waits for an approval, its worker free,
// and returns its open waits; not names waits that do not count (an
// answered one the flow has not read yet).
func (f *fixture) waiting(id string, not ...string) []Wait {
	f.t.Helper()
	var waits []Wait
	f.waitFor(id, "a wait for approvals", func(j *store.Job) bool {
		if j.Status != store.StatusQueued {
			return false
		}
		var err error
		waits, err = Waits(f.t.Context(), f.db, "local", id)
		if err != nil {
			f.t.Fatal(err)
		}
		return len(waits) > 0 && !slices.Contains(not, waits[0].StepJob)
	})
	return waits
}

func (f *fixture) approve(id string, r Resume) {
	f.t.Helper()
	if err := AddResume(f.t.Context(), f.db, "local", id, r); err != nil {
		f.t.Fatalf("answer %+v: %v", r, err)
	}
	f.queue.Wake(id)
}

// A suspended step inside a loop waits in each iteration, and the
// answers, given to the top-level flow, reach the iteration's next step.
func TestApprovalInsideALoop(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *fixtureOpts) { o.workers = 1 })
	hash := f.save("f/test/looped", flowValue(
		`{"id":"loop","value":{"type":"forloopflow","iterator":{"type":"javascript","expr":"flow_input.items"},"parallel":false,"modules":[`+
			step("ask", "bash", askStep, "", suspend(1, 60))+`,`+
			step("act", "python3", "def main(n, r):\n    return [n, r]\n", js("n", "flow_input.iter.value", "r", "resume"))+`]}}`,
	))
	id := f.start(hash, `{"items":["x","y"]}`)
	var answered []string
	for k, item := range []string{"x", "y"} {
		waits := f.waiting(id, answered...)
		w := waits[0]
		if len(waits) != 1 || w.Step != "ask" || w.FrameJob == id || w.Required != 1 || w.Until.IsZero() || len(w.Resumes) != 0 {
			t.Fatalf("iteration %d's wait: %+v", k, waits)
		}
		if j := f.job(w.StepJob); j.ParentJob != w.FrameJob || j.Status != store.StatusSuccess {
			t.Fatalf("the wait's step job: %+v", j)
		}
		f.approve(id, Resume{ResumeID: k, Approver: "ann", Approved: true, Value: json.RawMessage(`"ok ` + item + `"`)})
		answered = append(answered, w.StepJob)
	}
	final := f.wait(id)
	mustSucceed(t, final)
	if compact(final.Result) != `[["x","ok x"],["y","ok y"]]` {
		t.Fatalf("result %s", final.Result)
	}
	if err := AddResume(t.Context(), f.db, "local", id, Resume{Approver: "bo", Approved: true}); err != ErrNotWaiting {
		t.Errorf("an answer to a finished flow: %v", err)
	}
}

// With required_events 2 one approval is not enough: the flow waits on,
// then goes on with both answers.
func TestApprovalNeedsN(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hash := f.save("f/test/two", flowValue(
		step("ask", "bash", askStep, "", suspend(2, 60)),
		step("act", "python3", "def main(r, all, who):\n    return {'r': r, 'all': all, 'who': who}\n", js("r", "resume", "all", "resumes", "who", "approvers")),
	))
	id := f.start(hash, `{}`)
	f.waiting(id)
	f.approve(id, Resume{ResumeID: 1, Approver: "ann", Approved: true, Value: json.RawMessage(`1`)})
	// Woken, the flow counts one answer of two and waits again.
	f.waitFor(id, "the first answer counted", func(j *store.Job) bool {
		return j.Status == store.StatusQueued && strings.Contains(j.FlowStatus, `"approver":"ann"`)
	})
	if w := f.waiting(id); len(w) != 1 || len(w[0].Resumes) != 1 || w[0].Required != 2 {
		t.Fatalf("after one approval of two: %+v", w)
	}
	f.approve(id, Resume{ResumeID: 2, Approver: "bo", Approved: true, Value: json.RawMessage(`2`)})
	final := f.wait(id)
	mustSucceed(t, final)
	if compact(final.Result) != `{"all":[1,2],"r":2,"who":["ann","bo"]}` {
		t.Fatalf("result %s", final.Result)
	}
	if m := rawModule(t, final, 0); compact(mustJSON(m["approvers"])) != `[{"approver":"ann","resume_id":1},{"approver":"bo","resume_id":2}]` {
		t.Errorf("approvers: %v", m["approvers"])
	}
}

// Answers by link name the suspended step's job. A link used twice, one
// that comes after the flow went on, one for a step that does not wait:
// each is refused, saying why.
func TestAnswerByStepJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	marks := t.TempDir()
	hash := f.save("f/test/linked", flowValue(
		step("ask", "bash", askStep, "", suspend(2, 60)),
		step("act", "bash", "while [ ! -e "+marks+"/go ]; do sleep 0.05; done\necho done\n", ""),
	))
	id := f.start(hash, `{}`)
	w := f.waiting(id)[0]
	if w.StepJob != rawModule(t, f.job(id), 0)["job"] {
		t.Fatalf("the wait's step job %s is not step ask's", w.StepJob)
	}
	answer := func(jobID string, rid int, approved bool) (*Answered, error) {
		return Answer(t.Context(), f.db, f.flows, "local", jobID, Resume{ResumeID: rid, Approver: "ann", Approved: approved, Value: json.RawMessage(`{"n":1}`)})
	}
	got, err := answer(w.StepJob, 7, true)
	if err != nil || got.FlowJob != id || got.Step != "ask" || got.Required != 2 || len(got.Resumes) != 1 || got.FlowPath != "f/test/linked" {
		t.Fatalf("first answer: %+v %v", got, err)
	}
	var conflict *errs.Conflict
	if _, err := answer(w.StepJob, 7, true); !errors.As(err, &conflict) || !strings.Contains(err.Error(), "was used already") {
		t.Fatalf("a link used twice: %v", err)
	}
	if _, err := answer(w.StepJob, 8, true); err != nil {
		t.Fatal(err)
	}
	f.queue.Wake(id)
	f.waitFor(id, "step act running", func(j *store.Job) bool { return rawModule(t, j, 1)["type"] == InProgress })
	_, err = answer(w.StepJob, 9, false)
	if !errors.As(err, &conflict) || !strings.Contains(err.Error(), "step ask's wait for approvals ended (approved)") || !strings.Contains(err.Error(), "no longer does anything") {
		t.Fatalf("a link after the flow went on: %v", err)
	}
	actJob := rawModule(t, f.job(id), 1)["job"].(string)
	var invalid *errs.Invalid
	if _, err := answer(actJob, 1, true); !errors.As(err, &invalid) || !strings.Contains(err.Error(), "step act of flow f/test/linked does not wait for approvals") {
		t.Fatalf("a link for a step without suspend: %v", err)
	}
	if err := writeFile(marks + "/go"); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, f.wait(id))
	if _, err := answer(w.StepJob, 10, true); !errors.As(err, &conflict) || !strings.Contains(err.Error(), "has ended (success)") {
		t.Fatalf("a link after the flow ended: %v", err)
	}
	if _, err := answer("00000000-0000-0000-0000-00000000beef", 1, true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a link for no job: %v", err)
	}
	if _, err := answer(id, 1, true); !errors.As(err, &conflict) || !strings.Contains(err.Error(), "has ended") {
		t.Fatalf("a flow-level link after the end: %v", err)
	}
}

// An answer that comes while the suspended step still runs (the step
// posted its links and someone was quick) is kept: the flow does not
// wait for another.
func TestAnswerWhileTheStepRuns(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	marks := t.TempDir()
	hash := f.save("f/test/quick", flowValue(
		step("ask", "bash", "while [ ! -e "+marks+"/go ]; do sleep 0.05; done\necho asked\n", "", suspend(1, 60)),
		step("act", "python3", "def main(r):\n    return r\n", js("r", "resume")),
	))
	id := f.start(hash, `{}`)
	running := f.waitFor(id, "step ask running", func(j *store.Job) bool {
		return j.FlowStatus != "" && rawModule(t, j, 0)["type"] == InProgress
	})
	stepJob := rawModule(t, running, 0)["job"].(string)
	if _, err := Answer(t.Context(), f.db, f.flows, "local", stepJob, Resume{ResumeID: 3, Approver: "cy", Approved: true, Value: json.RawMessage(`"early"`)}); err != nil {
		t.Fatal(err)
	}
	f.queue.Wake(id)
	if err := writeFile(marks + "/go"); err != nil {
		t.Fatal(err)
	}
	final := f.wait(id)
	mustSucceed(t, final)
	if final.Result != `"early"` || strings.Contains(final.Logs, "the flow waits until") {
		t.Fatalf("result %s\n%s", final.Result, final.Logs)
	}
}

func writeFile(path string) error { return os.WriteFile(path, nil, 0o600) }

// A step with both a suspend and a sleep waits for its approval, then
// sleeps (on main the sleep, recorded first, made the wait look over and
// the approval was skipped).
func TestApprovalThenSleep(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hash := f.save("f/test/sleepy", flowValue(
		step("ask", "bash", askStep, "", suspend(1, 60), `"sleep":{"type":"static","value":1}`),
		step("act", "python3", "def main(r):\n    return r\n", js("r", "resume")),
	))
	id := f.start(hash, `{}`)
	f.waiting(id)
	approved := time.Now()
	f.approve(id, Resume{ResumeID: 1, Approver: "ann", Approved: true, Value: json.RawMessage(`"go"`)})
	final := f.wait(id)
	mustSucceed(t, final)
	if final.Result != `"go"` || time.Since(approved) < time.Second {
		t.Fatalf("result %s after %s", final.Result, time.Since(approved))
	}
}
