package jobs

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/testkit"
)

// waitsOnce requeues each job once, due after a pause, then succeeds: a
// flow that sleeps.
type waitsOnce struct {
	runs  atomic.Int32
	pause time.Duration
	seen  chan *store.Job
}

func (w *waitsOnce) Execute(ctx context.Context, x *Execution) Outcome {
	w.seen <- x.Job
	if w.runs.Add(1) == 1 {
		x.ShowFlowStatus(json.RawMessage(`{"waiting":true}`))
		x.Logs.Write([]byte("first part\n"))
		x.Requeue(time.Now().Add(w.pause))
		return Outcome{}
	}
	x.Logs.Write([]byte("second part\n"))
	return Outcome{Result: json.RawMessage(`"done"`), Success: true}
}

// A job that asks to be requeued gives its worker back, is queued again
// until due (its start, log and flow status kept), then runs again.
func TestRequeueRunsAgainWhenDue(t *testing.T) {
	t.Parallel()
	w := &waitsOnce{pause: 400 * time.Millisecond, seen: make(chan *store.Job, 4)}
	f := &queueFixture{t: t, path: t.TempDir() + "/millrun.db"}
	db, err := store.Open(f.path)
	if err != nil {
		t.Fatal(err)
	}
	q := New(db, w, Config{Workers: 1})
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close(context.Background()); db.Close() })
	j := &store.Job{Workspace: "local", Kind: "flow", ScriptPath: "u/me/sleepy"}
	start := time.Now()
	if err := q.Enqueue(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	first := <-w.seen
	time.Sleep(100 * time.Millisecond)
	stored, _ := db.GetJob(context.Background(), "local", j.ID)
	if stored.Status != store.StatusQueued || stored.FlowStatus != `{"waiting":true}` || stored.Logs != "first part\n" || stored.StartedAt.IsZero() {
		t.Fatalf("while it waits: %+v", stored)
	}
	second := <-w.seen
	if !second.StartedAt.Equal(first.StartedAt) || time.Since(start) < 400*time.Millisecond {
		t.Fatalf("ran again after %s, started %s then %s", time.Since(start), first.StartedAt, second.StartedAt)
	}
	ch := q.Subscribe(j.ID)
	defer q.Unsubscribe(j.ID, ch)
	var done *store.Job
	if live, ok := q.Live(j.ID); ok && live.Finished() {
		done = live
	} else if got, _ := db.GetJob(context.Background(), "local", j.ID); got.Finished() {
		done = got
	} else {
		done = <-ch
	}
	if done.Status != store.StatusSuccess || done.Logs != "first part\nsecond part\n" {
		t.Fatalf("final: %s %q", done.Status, done.Logs)
	}
}

// Slots a flow borrows for parallel branches count against the worker
// count: a queued job waits until they are given back.
func TestBorrowedSlotsHoldWorkers(t *testing.T) {
	t.Parallel()
	f := newQueue(t, Config{Workers: 2})
	blocker := f.enqueue("u/me/block")
	testkit.WaitUntil(t, "the first job to start", 5*time.Second, func() bool { return len(f.exec.order()) > 0 })
	release, ok := f.q.TryBorrow()
	if !ok {
		t.Fatal("one slot of two is free: it may be borrowed")
	}
	if _, ok := f.q.TryBorrow(); ok {
		t.Fatal("no slot is free, yet a second was lent")
	}
	freed := f.q.SlotFreed()
	queued := f.enqueue("u/me/quick")
	time.Sleep(200 * time.Millisecond)
	if len(f.exec.order()) != 1 {
		t.Fatal("a job started on a borrowed slot")
	}
	release()
	select {
	case <-freed:
	case <-time.After(time.Second):
		t.Fatal("giving a slot back did not say so")
	}
	if done := f.wait(queued); done.Status != store.StatusSuccess {
		t.Fatalf("the queued job once the slot came back: %s", done.Status)
	}
	f.exec.release()
	f.wait(blocker)
}

// At start, a top-level flow a crash left running is queued again (it
// resumes from its status); its sub-flows stay as they are, for it to
// resume; a step that was running is failed, as any job that may have
// run.
func TestRecoveryRequeuesFlows(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/millrun.db"
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().UTC()
	mk := func(id, kind, parent string) *store.Job {
		return &store.Job{ID: id, Workspace: "local", Kind: kind, ScriptPath: "u/me/f", ParentJob: parent, Args: "{}",
			Status: store.StatusRunning, CreatedAt: now, ScheduledFor: now, StartedAt: now, FlowStatus: `{"step":1}`}
	}
	flow := mk("6f1b5c1e-0000-4000-8000-00000000000a", "flow", "")
	iter := mk("6f1b5c1e-0000-4000-8000-00000000000b", "flownode", flow.ID)
	step := mk("6f1b5c1e-0000-4000-8000-00000000000c", "flowscript", iter.ID)
	for _, j := range []*store.Job{flow, iter, step} {
		if err := db.InsertJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	f := &queueFixture{t: t, exec: newFake(), path: path}
	f.open(Config{Workers: 1})
	if done := f.wait(flow); done.Status != store.StatusSuccess || !done.StartedAt.Equal(now.Truncate(time.Microsecond)) {
		t.Fatalf("the interrupted flow: %s, started %s (was %s)", done.Status, done.StartedAt, now)
	}
	if j, _ := f.db.GetJob(ctx, "local", iter.ID); j.Status != store.StatusRunning {
		t.Errorf("the flow's iteration: %s, want it left for the flow", j.Status)
	}
	if j, _ := f.db.GetJob(ctx, "local", step.ID); j.Status != store.StatusFailure {
		t.Errorf("the step that was running: %s", j.Status)
	}
}

// wokenWhileRunning requeues itself for an hour on its first run, after
// a Wake that came while it ran (an approval that arrived just after the
// flow looked for it).
type wokenWhileRunning struct {
	q    *Queue
	runs atomic.Int32
	seen chan struct{}
}

func (w *wokenWhileRunning) Execute(ctx context.Context, x *Execution) Outcome {
	w.seen <- struct{}{}
	if w.runs.Add(1) == 1 {
		if !w.q.Wake(x.Job.ID) {
			panic("Wake did not find the running job")
		}
		x.Requeue(time.Now().Add(time.Hour))
		return Outcome{}
	}
	return Outcome{Result: json.RawMessage(`"done"`), Success: true}
}

// A Wake for a job that is running makes its requeue due now, not when
// it asked: otherwise that answer would wait for the next due time.
func TestWakeWhileRunningMakesTheRequeueDueNow(t *testing.T) {
	t.Parallel()
	db, err := store.Open(t.TempDir() + "/millrun.db")
	if err != nil {
		t.Fatal(err)
	}
	w := &wokenWhileRunning{seen: make(chan struct{}, 4)}
	q := New(db, w, Config{Workers: 1})
	w.q = q
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close(context.Background()); db.Close() })
	if err := q.Enqueue(context.Background(), &store.Job{Workspace: "local", Kind: "flow", ScriptPath: "u/me/asks"}); err != nil {
		t.Fatal(err)
	}
	<-w.seen
	select {
	case <-w.seen:
	case <-time.After(10 * time.Second):
		t.Fatal("the job woken while it ran waited for its requeue's due time")
	}
}
