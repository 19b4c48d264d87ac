package schedules

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/flows"
	"github.com/millrun/millrun/engine/runnable"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

// jobQueue keeps what the service enqueues.
type jobQueue struct {
	mu   sync.Mutex
	jobs []*store.Job
}

func (q *jobQueue) Enqueue(_ context.Context, job *store.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, job)
	return nil
}

type serviceBundle struct {
	*bundle
	svc   *Service
	queue *jobQueue
}

func newService(t *testing.T) *serviceBundle {
	t.Helper()
	b := setup(t, time.Date(2026, 3, 2, 7, 30, 0, 0, time.UTC))
	sc := scripts.NewCatalog(b.db)
	q := &jobQueue{}
	svc := &Service{DB: b.db, Targets: runnable.Resolver{Scripts: sc, Flows: flows.NewCatalog(b.db, sc)}, Queue: q,
		Scheduler: b.scheduler()}
	ctx := context.Background()
	for path, req := range map[string]scripts.CreateRequest{
		"u/me/tick":    {Language: "bash", Content: "echo tick\n"},
		"u/me/on_fail": {Language: "bash", Content: "echo handled\n"},
		"u/me/lib":     {Language: "bash", Content: "helper() { :; }\n", NoMainFunc: true},
	} {
		req.Path = path
		if _, _, err := sc.Save(ctx, "local", req); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := svc.Targets.Flows.Save(ctx, "local", flows.CreateRequest{Path: "f/ops/recover",
		Value: json.RawMessage(`{"modules":[{"id":"a","value":{"type":"script","path":"u/me/on_fail","input_transforms":{}}}]}`)}); err != nil {
		t.Fatal(err)
	}
	return &serviceBundle{bundle: b, svc: svc, queue: q}
}

func ptr[T any](v T) *T { return &v }

func TestCreateChecksEveryRule(t *testing.T) {
	b := newService(t)
	ok := Input{Path: "u/me/s", Schedule: "* * * * * *", Timezone: "UTC", ScriptPath: "u/me/tick"}
	for _, c := range []struct {
		change func(*Input)
		want   string
	}{
		{func(in *Input) { in.Path = "nope" }, "schedule path: invalid path"},
		{func(in *Input) { in.ScriptPath = "u/me/nope" }, "script not found at name u/me/nope"},
		{func(in *Input) { in.ScriptPath, in.IsFlow = "u/me/tick", true }, "flow not found at path u/me/tick"},
		{func(in *Input) { in.ScriptPath = "u/me/lib" }, "library"},
		{func(in *Input) { in.Timezone = "" }, "time zone is missing"},
		{func(in *Input) { in.Schedule = "* * *" }, "has 3 fields"},
		{func(in *Input) { in.Args = json.RawMessage(`[1]`) }, "args must be a JSON object"},
		{func(in *Input) { in.OnFailure = ptr("script/u/me/gone") }, "on_failure: script not found at name u/me/gone"},
		{func(in *Input) { in.OnFailure = ptr("flow/u/me/on_fail") }, "on_failure: flow not found at path u/me/on_fail"},
		{func(in *Input) { in.Missed = ptr("later") }, `missed must be "skip"`},
	} {
		in := ok
		c.change(&in)
		_, err := b.svc.Create(t.Context(), "local", in, "me")
		var inv *errs.Invalid
		if !errors.As(err, &inv) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an input error containing %q", in, err, c.want)
		}
	}
	if list, _ := b.svc.List(t.Context(), "local", Filter{}); len(list) != 0 {
		t.Fatalf("a refused schedule was saved: %+v", list)
	}

	in := ok
	in.OnFailure, in.Missed = ptr("flow/f/ops/recover"), ptr(MissedRunOnce)
	sc, err := b.svc.Create(t.Context(), "local", in, "me")
	if err != nil {
		t.Fatal(err)
	}
	if want := b.clock.Now().Add(time.Second); !sc.NextDue.Equal(want) || sc.EditedBy != "me" || sc.Missed != MissedRunOnce || sc.Args != "{}" {
		t.Fatalf("saved: %+v (next due want %s)", sc, want)
	}
	if _, err := b.svc.Create(t.Context(), "local", in, "me"); err == nil || !strings.Contains(err.Error(), "a schedule already exists at u/me/s") {
		t.Fatalf("a second schedule at one path: %v", err)
	}
}

// An update keeps what it does not name, and what the schedule runs.
func TestUpdateKeepsWhatItDoesNotName(t *testing.T) {
	b := newService(t)
	_, err := b.svc.Create(t.Context(), "local", Input{Path: "u/me/s", Schedule: "0 0 8 * * *", Timezone: "Europe/Paris",
		ScriptPath: "u/me/tick", Args: json.RawMessage(`{"who":"cron"}`), Summary: ptr("daily")}, "me")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := b.svc.Update(t.Context(), "local", "u/me/s", Input{ScriptPath: "u/me/on_fail", Enabled: ptr(false)}, "you")
	if err != nil {
		t.Fatal(err)
	}
	if sc.Schedule != "0 0 8 * * *" || sc.Timezone != "Europe/Paris" || sc.ScriptPath != "u/me/tick" || sc.Args != `{"who":"cron"}` ||
		*sc.Summary != "daily" || sc.Enabled || !sc.NextDue.IsZero() || sc.EditedBy != "you" {
		t.Fatalf("updated: %+v", sc)
	}
	if _, err := b.svc.Update(t.Context(), "local", "u/me/none", Input{}, "me"); !errors.Is(err, store.ErrNotFound) || err.Error() != "schedule u/me/none" {
		t.Fatalf("updating nothing: %v", err)
	}
}

// Turned on again, a schedule's next run is counted from now: the time it
// was off is not caught up.
func TestSetEnabledCountsFromNow(t *testing.T) {
	b := newService(t)
	if _, err := b.svc.Create(t.Context(), "local", Input{Path: "u/me/s", Schedule: "0 0 8 * * *", Timezone: "UTC", ScriptPath: "u/me/tick"}, "me"); err != nil {
		t.Fatal(err)
	}
	if err := b.svc.SetEnabled(t.Context(), "local", "u/me/s", false); err != nil {
		t.Fatal(err)
	}
	b.clock.Set(time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC))
	if err := b.svc.SetEnabled(t.Context(), "local", "u/me/s", true); err != nil {
		t.Fatal(err)
	}
	sc, _ := b.svc.Get(t.Context(), "local", "u/me/s")
	if !sc.Enabled || !sc.NextDue.Equal(time.Date(2026, 3, 6, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("enabled again: %+v", sc)
	}
	if err := b.svc.SetEnabled(t.Context(), "local", "u/me/none", true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("enabling nothing: %v", err)
	}
}

func TestOnFailureTarget(t *testing.T) {
	for in, want := range map[string]struct {
		kind runnable.Kind
		path string
	}{
		"script/u/me/x":      {runnable.Script, "u/me/x"},
		"flow/f/ops/x":       {runnable.Flow, "f/ops/x"},
		"u/me/x":             {runnable.Script, "u/me/x"},
		"script/flow/u/me/x": {runnable.Script, "flow/u/me/x"},
	} {
		if kind, path := OnFailureTarget(in); kind != want.kind || path != want.path {
			t.Errorf("%s: %s %s, want %v", in, kind, path, want)
		}
	}
}

// A due time of a schedule whose target was deleted, or became a library,
// passes as failed rather than being retried every tick.
func TestEnqueueDueOfATargetThatCannotRun(t *testing.T) {
	b := newService(t)
	due := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for _, sc := range []*store.Schedule{
		{Workspace: "local", Path: "u/me/s", ScriptPath: "u/me/gone", Args: "{}"},
		{Workspace: "local", Path: "u/me/s", ScriptPath: "u/me/lib", Args: "{}"},
		{Workspace: "local", Path: "u/me/s", ScriptPath: "f/ops/gone", IsFlow: true, Args: "{}"},
	} {
		err := b.svc.EnqueueDue(t.Context(), sc, due, "id")
		if !errors.Is(err, ErrTargetGone) {
			t.Errorf("%s: %v, want ErrTargetGone", sc.ScriptPath, err)
		}
		// The schedule's error is what the Schedules page shows: it says
		// why the target is missing, not only that it is.
		if strings.Contains(sc.ScriptPath, "gone") && (err == nil || !strings.HasSuffix(err.Error(), "(deleted or archived)")) {
			t.Errorf("%s: %v, want it to say the target was deleted or archived", sc.ScriptPath, err)
		}
	}
	sc := &store.Schedule{Workspace: "local", Path: "u/me/s", ScriptPath: "u/me/tick", Args: `{"who":"cron"}`}
	if err := b.svc.EnqueueDue(t.Context(), sc, due, "the-id"); err != nil {
		t.Fatal(err)
	}
	if len(b.queue.jobs) != 1 {
		t.Fatalf("enqueued: %+v", b.queue.jobs)
	}
	j := b.queue.jobs[0]
	if j.ID != "the-id" || j.Kind != "script" || j.ScriptPath != "u/me/tick" || j.Language != "bash" || j.Args != `{"who":"cron"}` ||
		j.Trigger != "schedule" || j.SchedulePath != "u/me/s" || !j.ScheduledFor.Equal(due) {
		t.Fatalf("the due run: %+v", j)
	}
}

// A failed run is shown on its schedule and starts the failure handler
// with Windmill's arguments; a later success clears the schedule's error.
func TestAFailedRunStartsTheFailureHandler(t *testing.T) {
	b := newService(t)
	if _, err := b.svc.Create(t.Context(), "local", Input{Path: "u/me/s", Schedule: "* * * * * *", Timezone: "UTC", ScriptPath: "u/me/tick",
		OnFailure: ptr("flow/f/ops/recover")}, "me"); err != nil {
		t.Fatal(err)
	}
	started := time.Date(2026, 3, 2, 7, 30, 1, 0, time.UTC)
	failed := &store.Job{ID: "j1", Workspace: "local", Kind: "script", ScriptPath: "u/me/tick", SchedulePath: "u/me/s", Status: store.StatusFailure,
		Result: `{"error":{"name":"RuntimeError","message":"disk full"}}`, StartedAt: started, CompletedAt: started.Add(time.Second)}
	b.svc.recordRun(t.Context(), failed)
	sc, _ := b.svc.Get(t.Context(), "local", "u/me/s")
	if sc.Error == nil || *sc.Error != "run j1 failed at 2026-03-02T07:30:02Z: RuntimeError: disk full" {
		t.Fatalf("the schedule's error: %v", sc.Error)
	}
	if len(b.queue.jobs) != 1 {
		t.Fatalf("enqueued: %+v", b.queue.jobs)
	}
	h := b.queue.jobs[0]
	var args map[string]any
	json.Unmarshal([]byte(h.Args), &args)
	if h.Kind != "flow" || h.ScriptPath != "f/ops/recover" || h.Trigger != "schedule_on_failure" || args["schedule_path"] != "u/me/s" ||
		args["job_id"] != "j1" || args["path"] != "u/me/tick" || args["is_flow"] != false ||
		args["error"].(map[string]any)["error"].(map[string]any)["message"] != "disk full" {
		t.Fatalf("the handler's run: %+v %v", h, args)
	}
	b.svc.recordRun(t.Context(), &store.Job{ID: "j2", Workspace: "local", SchedulePath: "u/me/s", Status: store.StatusSuccess})
	if sc, _ := b.svc.Get(t.Context(), "local", "u/me/s"); sc.Error != nil {
		t.Fatalf("a success left the error: %v", *sc.Error)
	}
	if len(b.queue.jobs) != 1 {
		t.Fatal("a success started the failure handler")
	}
}
