package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/testkit"
)

// fakeExecutor runs jobs by the script path's rule instead of a process:
// "block" waits until released or canceled, "early" answers its waiters
// early then waits to be released, anything else succeeds at once. It
// records what ran and when.
type fakeExecutor struct {
	mu       sync.Mutex
	started  []string             // job ids, in start order
	at       map[string]time.Time // start time per job id
	running  map[string]int       // per script path, now
	peak     map[string]int       // per script path, most at once
	released chan struct{}        // closed by release
	canceled chan string          // ids of jobs whose context ended
}

func newFake() *fakeExecutor {
	return &fakeExecutor{at: map[string]time.Time{}, running: map[string]int{}, peak: map[string]int{},
		released: make(chan struct{}), canceled: make(chan string, 64)}
}

func (f *fakeExecutor) release() { close(f.released) }

func (f *fakeExecutor) Execute(ctx context.Context, x *Execution) Outcome {
	j := x.Job
	f.mu.Lock()
	f.started = append(f.started, j.ID)
	f.at[j.ID] = time.Now()
	f.running[j.ScriptPath]++
	f.peak[j.ScriptPath] = max(f.peak[j.ScriptPath], f.running[j.ScriptPath])
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running[j.ScriptPath]--
		f.mu.Unlock()
	}()
	if strings.HasSuffix(j.ScriptPath, "early") {
		x.EarlyReturn(json.RawMessage(`"early"`))
	}
	if strings.HasSuffix(j.ScriptPath, "block") || strings.HasSuffix(j.ScriptPath, "early") {
		select {
		case <-f.released:
		case <-ctx.Done():
			f.canceled <- j.ID
			return Outcome{Result: json.RawMessage(`{"error":{"name":"Killed","message":"killed"}}`)}
		}
	}
	x.Logs.Write([]byte("ran " + j.ScriptPath + "\n"))
	return Outcome{Result: json.RawMessage(`"done"`), Success: true}
}

func (f *fakeExecutor) order() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{}, f.started...)
}

// queueFixture is a queue on a real database file with a fake executor.
type queueFixture struct {
	t    *testing.T
	db   *store.DB
	exec *fakeExecutor
	q    *Queue
	path string
}

func newQueue(t *testing.T, cfg Config) *queueFixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "millrun.db")
	f := &queueFixture{t: t, exec: newFake(), path: path}
	f.open(cfg)
	return f
}

func (f *queueFixture) open(cfg Config) {
	f.t.Helper()
	db, err := store.Open(f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.db = db
	f.q = New(db, f.exec, cfg)
	if err := f.q.Start(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	q := f.q
	f.t.Cleanup(func() {
		q.Close(context.Background())
		db.Close()
	})
}

func (f *queueFixture) enqueue(path string, edit ...func(*store.Job)) *store.Job {
	f.t.Helper()
	j := &store.Job{Workspace: "local", Kind: "script", ScriptPath: path, Language: "bash"}
	for _, e := range edit {
		e(j)
	}
	if err := f.q.Enqueue(context.Background(), j); err != nil {
		f.t.Fatalf("enqueue %s: %v", path, err)
	}
	return j
}

// wait returns the job once it finished, as a waiter gets it.
func (f *queueFixture) wait(j *store.Job) *store.Job {
	f.t.Helper()
	ch := f.q.Subscribe(j.ID)
	defer f.q.Unsubscribe(j.ID, ch)
	if live, ok := f.q.Live(j.ID); ok && live.Finished() {
		return live
	}
	if got, err := f.db.GetJob(context.Background(), "local", j.ID); err == nil && got.Finished() {
		return got
	}
	select {
	case done := <-ch:
		return done
	case <-time.After(10 * time.Second):
		f.t.Fatalf("job %s (%s) did not finish", j.ID, j.ScriptPath)
		return nil
	}
}

// Due jobs run in the order they are due, none before its time.
func TestJobsRunInScheduleOrder(t *testing.T) {
	t.Parallel()
	f := newQueue(t, Config{Workers: 1})
	now := time.Now()
	late := f.enqueue("u/me/late", func(j *store.Job) { j.ScheduledFor = now.Add(400 * time.Millisecond) })
	soon := f.enqueue("u/me/soon", func(j *store.Job) { j.ScheduledFor = now.Add(150 * time.Millisecond) })
	first := f.enqueue("u/me/now")
	f.wait(late)
	if got := f.exec.order(); strings.Join(got, ",") != strings.Join([]string{first.ID, soon.ID, late.ID}, ",") {
		t.Fatalf("run order %v, want now, soon, late", got)
	}
	for _, j := range []*store.Job{late, soon} {
		f.exec.mu.Lock()
		started := f.exec.at[j.ID]
		f.exec.mu.Unlock()
		if started.Before(j.ScheduledFor) {
			t.Fatalf("%s started %s before it was due", j.ScriptPath, j.ScheduledFor.Sub(started))
		}
	}
}

// A script's concurrency limit holds its jobs back while other scripts'
// jobs go ahead of them.
func TestConcurrencyLimitIsPerScript(t *testing.T) {
	t.Parallel()
	f := newQueue(t, Config{Workers: 4})
	limited := func(j *store.Job) { j.ConcurrencyLimit = 1 }
	var held []*store.Job
	for range 3 {
		held = append(held, f.enqueue("u/me/one_at_a_time_block", limited))
	}
	other := f.enqueue("u/me/other")
	if done := f.wait(other); done.Status != store.StatusSuccess {
		t.Fatalf("another script's job behind the limited ones: %s", done.Status)
	}
	time.Sleep(50 * time.Millisecond) // room for a wrong second start
	if n := len(f.exec.order()); n != 2 {
		t.Fatalf("%d jobs started, want the other script's and one limited", n)
	}
	f.exec.release()
	for _, j := range held {
		f.wait(j)
	}
	f.exec.mu.Lock()
	peak := f.exec.peak["u/me/one_at_a_time_block"]
	f.exec.mu.Unlock()
	if peak != 1 {
		t.Fatalf("%d jobs of a script limited to 1 ran at once", peak)
	}
}

// Cancel ends a queued job without running it and a running one by its
// context, saying who and why; a finished job cannot be canceled.
func TestCancelQueuedAndRunningJobs(t *testing.T) {
	t.Parallel()
	f := newQueue(t, Config{Workers: 1})
	running := f.enqueue("u/me/block")
	queued := f.enqueue("u/me/next")
	testkit.WaitUntil(t, "the first job to start", 10*time.Second, func() bool { return len(f.exec.order()) == 1 })
	ctx := context.Background()
	if err := f.q.Cancel(ctx, "local", queued.ID, "alice", "not needed"); err != nil {
		t.Fatal(err)
	}
	done := f.wait(queued)
	if done.Status != store.StatusCanceled || !strings.Contains(done.Result, "Job canceled: not needed by alice") || done.CanceledBy != "alice" {
		t.Fatalf("canceled queued job: %s %s by %q", done.Status, done.Result, done.CanceledBy)
	}
	if err := f.q.Cancel(ctx, "other", running.ID, "bob", ""); err == nil {
		t.Fatal("a job was canceled from another workspace")
	}
	if err := f.q.Cancel(ctx, "local", running.ID, "bob", ""); err != nil {
		t.Fatal(err)
	}
	if id := <-f.exec.canceled; id != running.ID {
		t.Fatalf("context of %s ended, want %s", id, running.ID)
	}
	done = f.wait(running)
	if done.Status != store.StatusCanceled || !strings.Contains(done.Result, "Job canceled by bob") {
		t.Fatalf("canceled running job: %s %s", done.Status, done.Result)
	}
	if got := f.exec.order(); len(got) != 1 {
		t.Fatalf("the canceled queued job ran: %v", got)
	}
	testkit.WaitUntil(t, "the cancel to be on disk", 10*time.Second, func() bool {
		j, err := f.db.GetJob(ctx, "local", running.ID)
		return err == nil && j.Status == store.StatusCanceled
	})
	if err := f.q.Cancel(ctx, "local", running.ID, "bob", ""); !errors.Is(err, ErrAlreadyCompleted) {
		t.Fatalf("cancel of a finished job: %v", err)
	}
}

// A full queue refuses more jobs rather than growing without bound; the
// bound can change at run time.
func TestFullQueueRefuses(t *testing.T) {
	t.Parallel()
	f := newQueue(t, Config{Workers: 1, MaxQueued: 2})
	f.enqueue("u/me/block")
	testkit.WaitUntil(t, "the first job to start", 10*time.Second, func() bool { return len(f.exec.order()) == 1 })
	f.enqueue("u/me/a")
	f.enqueue("u/me/b")
	if err := f.q.Enqueue(context.Background(), &store.Job{Workspace: "local", ScriptPath: "u/me/c"}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("enqueue past the bound: %v", err)
	}
	f.q.SetMaxQueued(3)
	f.enqueue("u/me/c")
	if s := f.q.Stats(); s.Queued != 3 || s.Running != 1 || s.Workers != 1 {
		t.Fatalf("stats %+v", s)
	}
	f.exec.release()
}

// A job over its timeout is stopped and ends failed, naming the timeout.
func TestTimeoutStopsTheJob(t *testing.T) {
	t.Parallel()
	f := newQueue(t, Config{Workers: 1})
	j := f.enqueue("u/me/block", func(j *store.Job) { j.TimeoutS = 1 })
	done := f.wait(j)
	if done.Status != store.StatusFailure || !strings.Contains(done.Result, `"TimeoutError"`) || !strings.Contains(done.Result, "timed out after 1s") {
		t.Fatalf("timed out job: %s %s", done.Status, done.Result)
	}
}

// Shutdown gives running jobs the grace period, then stops them (failed,
// saying why); queued jobs stay queued on disk and run at the next start;
// no job is taken meanwhile.
func TestShutdownGraceThenNextStart(t *testing.T) {
	t.Parallel()
	f := newQueue(t, Config{Workers: 1, ShutdownGrace: 200 * time.Millisecond})
	running := f.enqueue("u/me/block")
	testkit.WaitUntil(t, "the job to start", 10*time.Second, func() bool { return len(f.exec.order()) == 1 })
	queued := f.enqueue("u/me/later")
	start := time.Now()
	f.q.Close(context.Background())
	if took := time.Since(start); took < 200*time.Millisecond || took > 5*time.Second {
		t.Fatalf("Close took %s with a grace of 200ms", took)
	}
	if err := f.q.Enqueue(context.Background(), &store.Job{Workspace: "local", ScriptPath: "u/me/x"}); !errors.Is(err, ErrShuttingDown) {
		t.Fatalf("enqueue after Close: %v", err)
	}
	f.db.Close()
	f.open(Config{Workers: 1})
	ctx := context.Background()
	stopped, err := f.db.GetJob(ctx, "local", running.ID)
	if err != nil || stopped.Status != store.StatusFailure || !strings.Contains(stopped.Result, "millrun shut down before the job finished") {
		t.Fatalf("the job running at shutdown: %+v %v", stopped, err)
	}
	if done := f.wait(queued); done.Status != store.StatusSuccess {
		t.Fatalf("the job queued at shutdown, after the next start: %s", done.Status)
	}
}

// A job whose start was recorded when millrun died may have run: it is
// failed at the next start, never run again. A queued one runs.
func TestCrashLeftoversAtStart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "millrun.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().UTC()
	ran := &store.Job{ID: "6f1b5c1e-0000-4000-8000-000000000001", Workspace: "local", Kind: "script", ScriptPath: "u/me/was_running", Args: "{}", Status: store.StatusQueued, CreatedAt: now, ScheduledFor: now}
	waiting := &store.Job{ID: "6f1b5c1e-0000-4000-8000-000000000002", Workspace: "local", Kind: "script", ScriptPath: "u/me/was_queued", Args: "{}", Status: store.StatusQueued, CreatedAt: now, ScheduledFor: now}
	for _, j := range []*store.Job{ran, waiting} {
		if err := db.InsertJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	ran.StartedAt = now
	if err := db.MarkRunning(ctx, ran); err != nil {
		t.Fatal(err)
	}
	db.Close() // as a kill -9 would leave it

	f := &queueFixture{t: t, exec: newFake(), path: path}
	f.open(Config{Workers: 1})
	done := f.wait(waiting)
	if done.Status != store.StatusSuccess {
		t.Fatalf("the queued job after the crash: %s", done.Status)
	}
	failed, err := f.db.GetJob(ctx, "local", ran.ID)
	if err != nil || failed.Status != store.StatusFailure || !strings.Contains(failed.Result, CrashReason) {
		t.Fatalf("the job running at the crash: %+v %v", failed, err)
	}
	for _, id := range f.exec.order() {
		if id == ran.ID {
			t.Fatal("the job running at the crash ran again")
		}
	}
}

// An early return answers waiters at once while the job goes on; its
// final state is what the job ends with.
func TestEarlyReturnAnswersWaitersFirst(t *testing.T) {
	t.Parallel()
	f := newQueue(t, Config{Workers: 1})
	j := &store.Job{Workspace: "local", Kind: "script", ScriptPath: "u/me/early"}
	if err := f.q.EnqueueForWaiter(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	waiter := f.q.Subscribe(j.ID)
	defer f.q.Unsubscribe(j.ID, waiter)
	var early *store.Job
	select {
	case early = <-waiter:
	case <-time.After(10 * time.Second):
		t.Fatal("no early answer")
	}
	if early.Result != `"early"` || early.Status != store.StatusSuccess {
		t.Fatalf("early answer: %s %s", early.Status, early.Result)
	}
	if live, ok := f.q.Live(j.ID); !ok || live.Status != store.StatusRunning {
		t.Fatalf("the job after its early return: %+v %v", live, ok)
	}
	f.exec.release()
	testkit.WaitUntil(t, "the final state on disk", 10*time.Second, func() bool {
		got, err := f.db.GetJob(context.Background(), "local", j.ID)
		return err == nil && got.Status == store.StatusSuccess && got.Result == `"done"` && strings.Contains(got.Logs, "ran u/me/early")
	})
}

// Watchers see a job queued, started and finished, without logs or
// results (lists do not show them).
func TestWatchersSeeEveryChange(t *testing.T) {
	t.Parallel()
	f := newQueue(t, Config{Workers: 1})
	events, stop := f.q.Watch()
	defer stop()
	j := f.enqueue("u/me/watched")
	var seen []string
	for len(seen) < 3 {
		select {
		case e := <-events:
			if e.ID != j.ID {
				continue
			}
			if e.Result != "" || e.Logs != "" {
				t.Fatalf("a watcher got the result or logs: %+v", e)
			}
			seen = append(seen, e.Status)
		case <-time.After(10 * time.Second):
			t.Fatalf("events so far: %v", seen)
		}
	}
	if strings.Join(seen, ",") != "queued,running,success" {
		t.Fatalf("events %v", seen)
	}
}

// A job is handed to its waiters before its final write commits; Settle
// is what lets a later database read see it finished.
func TestSettleWaitsForFinalWrites(t *testing.T) {
	t.Parallel()
	f := newQueue(t, Config{Workers: 1})
	j := f.enqueue("u/me/block")
	testkit.WaitUntil(t, "the running mark in the database", 10*time.Second, func() bool {
		got, err := f.db.GetJob(context.Background(), "local", j.ID)
		return err == nil && got.Status == store.StatusRunning
	})
	release := testkit.HoldWriteLock(t, f.path)
	f.exec.release()
	if done := f.wait(j); done.Status != store.StatusSuccess {
		t.Fatalf("job ended %s", done.Status)
	}
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := f.q.Settle(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Settle returned %v while the final write was held back", err)
	}
	release()
	if err := f.q.Settle(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := f.db.GetJob(context.Background(), "local", j.ID)
	if err != nil || got.Status != store.StatusSuccess {
		t.Fatalf("after Settle the database has %v, %v", got, err)
	}
}

// A queued job wakes one idle worker, yet every worker is put to work: a
// burst runs as many at once as there are workers, and jobs queued past
// the wake-ups all run once the workers are free again.
func TestBurstsKeepEveryWorkerBusy(t *testing.T) {
	t.Parallel()
	f := newQueue(t, Config{Workers: 4})
	var blocked, burst []*store.Job
	for range 4 {
		blocked = append(blocked, f.enqueue("u/me/burst_block"))
	}
	testkit.WaitUntil(t, "the four blocking jobs running at once", 10*time.Second, func() bool {
		f.exec.mu.Lock()
		defer f.exec.mu.Unlock()
		return f.exec.running["u/me/burst_block"] == 4
	})
	for range 20 {
		burst = append(burst, f.enqueue("u/me/burst"))
	}
	f.exec.release()
	for _, j := range append(blocked, burst...) {
		if done := f.wait(j); done.Status != store.StatusSuccess {
			t.Fatalf("%s: %s", j.ScriptPath, done.Status)
		}
	}
}

// A job canceled or timed out after its claim, while its running mark is
// written, starts nothing: its executor is never called, and it ends as
// the cancel or the timeout says.
func TestCancelOrTimeoutBeforeTheStartStartsNothing(t *testing.T) {
	t.Parallel()
	f := newQueue(t, Config{Workers: 2})
	// The jobs' writes, their running marks included, wait for the
	// database another connection holds.
	release := testkit.HoldWriteLock(t, f.path)
	canceled := &store.Job{Workspace: "local", Kind: "script", ScriptPath: "u/me/canceled", Language: "bash"}
	timedOut := &store.Job{Workspace: "local", Kind: "script", ScriptPath: "u/me/timed_out", Language: "bash", TimeoutS: 1}
	for _, j := range []*store.Job{canceled, timedOut} {
		if err := f.q.EnqueueForWaiter(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
	testkit.WaitUntil(t, "both jobs claimed", 10*time.Second, func() bool {
		a, _ := f.q.Live(canceled.ID)
		b, _ := f.q.Live(timedOut.ID)
		return a != nil && b != nil && a.Status == store.StatusRunning && b.Status == store.StatusRunning
	})
	if err := f.q.Cancel(context.Background(), "local", canceled.ID, "alice", "race"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond) // past the timeout
	release()
	if done := f.wait(canceled); done.Status != store.StatusCanceled || !strings.Contains(done.Result, "Job canceled: race by alice") {
		t.Fatalf("job canceled before its start: %s %s", done.Status, done.Result)
	}
	if done := f.wait(timedOut); done.Status != store.StatusFailure || !strings.Contains(done.Result, "TimeoutError") {
		t.Fatalf("job timed out before its start: %s %s", done.Status, done.Result)
	}
	if got := f.exec.order(); len(got) != 0 {
		t.Fatalf("jobs canceled or timed out before their start were started: %v", got)
	}
}
