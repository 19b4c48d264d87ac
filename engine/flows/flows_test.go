//go:build linux || darwin

package flows

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/jobs"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/testkit"
)

// fixture: flows on a real database, run by a real runner behind a queue.
type fixture struct {
	t       *testing.T
	db      *store.DB
	scripts *scripts.Catalog
	flows   *Catalog
	queue   *jobs.Queue
	exec    *Executor
	dbPath  string
}

// fixtureOpts change what newFixture builds.
type fixtureOpts struct {
	workers    int
	dbPath     string // "" for a fresh database
	secrets    Secrets
	clock      Clock
	waitInline time.Duration
	crashAt    func(string) bool
}

func newFixture(t *testing.T, opts ...func(*fixtureOpts)) *fixture {
	t.Helper()
	o := fixtureOpts{workers: 2}
	for _, fn := range opts {
		fn(&o)
	}
	if o.dbPath == "" {
		o.dbPath = filepath.Join(t.TempDir(), "millrun.db")
	}
	db, err := store.Open(o.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	in := runtime.Resolve(context.Background(), nil)
	if in.Python == "" || in.Bash == "" {
		t.Fatalf("the flow tests need python3 and bash (make setup-test installs them)")
	}
	runner := runtime.New(in)
	runner.TempRoot = t.TempDir()
	runner.NoForkServer = true
	sc := scripts.NewCatalog(db)
	f := &fixture{t: t, db: db, scripts: sc, flows: NewCatalog(db, sc), dbPath: o.dbPath}
	exec := &Executor{DB: db, Flows: f.flows, Scripts: sc, Runner: runner, StepLogLimit: 1 << 20, Secrets: o.secrets, Clock: o.clock,
		WaitInline: o.waitInline, crashAt: o.crashAt,
		Env: func(job *store.Job, st Step) ([]string, func()) {
			return []string{"WM_JOB_ID=" + job.ID, "WM_ROOT_FLOW_JOB_ID=" + st.RootJob}, func() {}
		}}
	f.exec = exec
	f.queue = jobs.New(db, exec, jobs.Config{Workers: o.workers})
	exec.Slots = f.queue
	if err := f.queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.queue.Close(context.Background())
		runner.Close()
		db.Close()
	})
	return f
}

func (f *fixture) save(path, value string) string {
	f.t.Helper()
	hash, _, err := f.flows.Save(context.Background(), "local", CreateRequest{Path: path, Value: json.RawMessage(value)})
	if err != nil {
		f.t.Fatalf("save %s: %v", path, err)
	}
	return hash
}

// start queues the flow at hash (durably, as an async webhook does).
func (f *fixture) start(hash, args string) string {
	f.t.Helper()
	fl, err := f.flows.ByHash(context.Background(), "local", hash)
	if err != nil {
		f.t.Fatal(err)
	}
	j := &store.Job{Workspace: "local", Kind: "flow", ScriptPath: fl.Path, ScriptHash: hash, Args: args, ConcurrencyLimit: fl.ConcurrencyLimit()}
	if err := f.queue.Enqueue(context.Background(), j); err != nil {
		f.t.Fatal(err)
	}
	return j.ID
}

// wait returns the job once it has finished.
func (f *fixture) wait(id string) *store.Job {
	f.t.Helper()
	var got *store.Job
	testkit.WaitUntil(f.t, "job "+id+" to finish", 60*time.Second, func() bool {
		j, err := f.db.GetJob(context.Background(), "local", id)
		got = j
		return err == nil && j.Finished()
	})
	return got
}

// run starts the flow at hash with args and returns what its sync caller
// gets (first: an early answer, if any) and the job as it ends.
func (f *fixture) run(hash, args string) (answer, final *store.Job) {
	f.t.Helper()
	fl, err := f.flows.ByHash(context.Background(), "local", hash)
	if err != nil {
		f.t.Fatal(err)
	}
	j := &store.Job{ID: uuid.NewString(), Workspace: "local", Kind: "flow", ScriptPath: fl.Path, ScriptHash: hash, Args: args}
	ch := f.queue.Subscribe(j.ID)
	if err := f.queue.EnqueueForWaiter(context.Background(), j); err != nil {
		f.t.Fatal(err)
	}
	defer f.queue.Unsubscribe(j.ID, ch)
	select {
	case answer = <-ch:
	case <-time.After(60 * time.Second):
		f.t.Fatal("the flow did not answer")
	}
	return answer, f.wait(j.ID)
}

// Steps run in order, each fed by static values and JavaScript over the
// flow's input and earlier results; the flow's result is the last step's.
func TestStepsFeedEachOther(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hash := f.save("f/test/chain", `{"modules": [
		{"id": "a", "value": {"type": "rawscript", "language": "python3", "content": "def main(n: int, unit: str):\n    return {'double': n * 2, 'unit': unit}\n",
			"input_transforms": {"n": {"type": "javascript", "expr": "flow_input.n"}, "unit": {"type": "static", "value": "kg"}}}},
		{"id": "b", "value": {"type": "rawscript", "language": "bash", "content": "x=\"$1\"\ny=\"$2\"\necho \"$x $y\"\n",
			"input_transforms": {"x": {"type": "javascript", "expr": "results.a.double + 1"}, "y": {"type": "javascript", "expr": "previous_result.unit"}}}}
	]}`)
	_, final := f.run(hash, `{"n": 20}`)
	if final.Status != store.StatusSuccess || final.Result != `"41 kg"` {
		t.Fatalf("flow ended %s with %s", final.Status, final.Result)
	}
	var status Status
	json.Unmarshal([]byte(final.FlowStatus), &status)
	if len(status.Modules) != 2 || status.Modules[0].Type != "Success" || status.Modules[1].Type != "Success" || status.Modules[0].Job == "" {
		t.Fatalf("flow status %s", final.FlowStatus)
	}
	steps, err := f.db.GetJob(context.Background(), "local", status.Modules[0].Job)
	if err != nil || steps.ParentJob != final.ID || steps.Result != `{"double":40,"unit":"kg"}` {
		t.Fatalf("step a's own job: %+v %v", steps, err)
	}
}

// A failing step stops the flow; the flow's error names the step and its
// job, and later steps do not run.
func TestFailingStepStopsTheFlow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hash := f.save("f/test/fails", `{"modules": [
		{"id": "boom", "value": {"type": "rawscript", "language": "python3", "content": "def main():\n    raise ValueError('no luck')\n", "input_transforms": {}}},
		{"id": "never", "value": {"type": "rawscript", "language": "bash", "content": "echo ran\n", "input_transforms": {}}}
	]}`)
	_, final := f.run(hash, `{}`)
	var e struct {
		Error map[string]any `json:"error"`
	}
	json.Unmarshal([]byte(final.Result), &e)
	if final.Status != store.StatusFailure || e.Error["step_id"] != "boom" || !strings.Contains(e.Error["message"].(string), "step boom failed: no luck") || e.Error["step_job"] == "" {
		t.Fatalf("flow ended %s with %s", final.Status, final.Result)
	}
	var status Status
	json.Unmarshal([]byte(final.FlowStatus), &status)
	if status.Modules[1].Type != "WaitingForPriorSteps" || status.Modules[0].Type != "Failure" || status.FailureModule.ID != "failure" {
		t.Fatalf("flow status %s", final.FlowStatus)
	}
}

// An early_return step answers the sync caller at once while the rest of
// the flow goes on.
func TestEarlyReturnAnswersFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hash := f.save("f/test/early", `{"early_return": "ack", "modules": [
		{"id": "ack", "value": {"type": "rawscript", "language": "bash", "content": "echo accepted\n", "input_transforms": {}}},
		{"id": "slow", "value": {"type": "rawscript", "language": "bash", "content": "sleep 1\necho done\n", "input_transforms": {}}}
	]}`)
	start := time.Now()
	answer, final := f.run(hash, `{}`)
	if answer.Result != `"accepted"` || answer.Status != store.StatusSuccess {
		t.Fatalf("early answer %s %s", answer.Status, answer.Result)
	}
	if final.Result != `"done"` || final.CompletedAt.Sub(start) < time.Second {
		t.Fatalf("the flow after its early answer: %s, ended %s after the start", final.Result, final.CompletedAt.Sub(start))
	}
	var status Status
	json.Unmarshal([]byte(final.FlowStatus), &status)
	if status.EarlyAnswer == nil || status.EarlyAnswer.Step != "ack" || string(status.EarlyAnswer.Result) != `"accepted"` {
		t.Fatalf("flow status %s", final.FlowStatus)
	}
}

// A flow that cannot run is refused when saved, saying what is wrong.
func TestInvalidFlowsAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for want, value := range map[string]string{
		"the flow has no steps":                  `{"modules": []}`,
		`id "1a" must be letters`:                `{"modules": [{"id": "1a", "value": {"type": "rawscript", "language": "bash", "content": "echo\n"}}]}`,
		`step id "a" is used twice`:              `{"modules": [{"id": "a", "value": {"type": "rawscript", "language": "bash", "content": "echo\n"}}, {"id": "a", "value": {"type": "rawscript", "language": "bash", "content": "echo\n"}}]}`,
		"step a: no script at u/me/missing":      `{"modules": [{"id": "a", "value": {"type": "script", "path": "u/me/missing"}}]}`,
		"a for loop needs an iterator":           `{"modules": [{"id": "a", "value": {"type": "forloopflow", "modules": []}}]}`,
		`module type "aiagent" is not supported`: `{"modules": [{"id": "a", "value": {"type": "aiagent"}}]}`,
		`module type "nope" is not an OpenFlow`:  `{"modules": [{"id": "a", "value": {"type": "nope"}}]}`,
		"the expression does not parse":          `{"modules": [{"id": "a", "value": {"type": "rawscript", "language": "bash", "content": "echo\n", "input_transforms": {"x": {"type": "javascript", "expr": "flow_input.("}}}}]}`,
		`early_return names step "zz"`:           `{"early_return": "zz", "modules": [{"id": "a", "value": {"type": "rawscript", "language": "bash", "content": "echo\n"}}]}`,
	} {
		_, _, err := f.flows.Save(context.Background(), "local", CreateRequest{Path: "f/test/bad", Value: json.RawMessage(value)})
		if inv := new(errs.Invalid); !errors.As(err, &inv) || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q, got %v", want, err)
		}
	}
}
