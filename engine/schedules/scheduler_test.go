package schedules

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/store"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// fakeQueue refuses a job id it has seen, as the real queue does.
type fakeQueue struct {
	mu   sync.Mutex
	runs map[string]time.Time // job id → due time
}

func (q *fakeQueue) enqueue(_ context.Context, _ *store.Schedule, due time.Time, id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.runs[id]; ok {
		return store.ErrDuplicateJob
	}
	q.runs[id] = due
	return nil
}

func (q *fakeQueue) count() int { q.mu.Lock(); defer q.mu.Unlock(); return len(q.runs) }

type bundle struct {
	db    *store.DB
	clock *fakeClock
	queue *fakeQueue
}

func setup(t *testing.T, start time.Time) *bundle {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &bundle{db: db, clock: &fakeClock{now: start}, queue: &fakeQueue{runs: map[string]time.Time{}}}
}

func (b *bundle) scheduler() *Scheduler {
	return New(Config{DB: b.db, Enqueue: b.queue.enqueue, Clock: b.clock, Log: slog.New(slog.DiscardHandler)})
}

func (b *bundle) put(t *testing.T, expr, missed string) *Cron {
	t.Helper()
	c, err := Parse(expr, "Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	err = b.db.PutSchedule(t.Context(), store.Schedule{Workspace: "local", Path: "u/me/s", Schedule: c.Expr, Timezone: "Europe/Paris",
		ScriptPath: "u/me/x", Args: "{}", Enabled: true, Missed: missed, NextDue: c.Next(b.clock.Now())}, true)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (b *bundle) nextDue(t *testing.T) time.Time {
	t.Helper()
	s, err := b.db.GetSchedule(t.Context(), "local", "u/me/s")
	if err != nil {
		t.Fatal(err)
	}
	return s.NextDue
}

// One job per due time: passes every second start each run once, and a
// restart at the due instant (the run started, the advance not yet
// written) does not start it again.
func TestOneRunPerDueTimeAcrossARestart(t *testing.T) {
	t.Parallel()
	paris, _ := time.LoadLocation("Europe/Paris")
	b := setup(t, time.Date(2026, 12, 4, 7, 59, 58, 0, paris))
	b.put(t, "0 0 8 * * *", MissedSkip)
	s := b.scheduler()
	for i := 0; i < 5; i++ { // 07:59:58 … 08:00:02
		s.Pass(t.Context())
		b.clock.Set(b.clock.Now().Add(time.Second))
	}
	if b.queue.count() != 1 {
		t.Fatalf("%d runs for one due time", b.queue.count())
	}
	due := time.Date(2026, 12, 4, 8, 0, 0, 0, paris)
	if next := b.nextDue(t); !next.Equal(due.AddDate(0, 0, 1)) {
		t.Fatalf("next due %v", next)
	}
	// The process died after starting the run and before recording it.
	if err := b.db.PutSchedule(t.Context(), store.Schedule{Workspace: "local", Path: "u/me/s", Schedule: "0 0 8 * * *", Timezone: "Europe/Paris",
		ScriptPath: "u/me/x", Args: "{}", Enabled: true, Missed: MissedSkip, NextDue: due}, false); err != nil {
		t.Fatal(err)
	}
	b.clock.Set(due.Add(time.Second))
	b.scheduler().Pass(t.Context()) // a new process
	if b.queue.count() != 1 {
		t.Fatalf("the restart ran the due time again: %d runs", b.queue.count())
	}
	if next := b.nextDue(t); !next.Equal(due.AddDate(0, 0, 1)) {
		t.Fatalf("after the restart next due %v", next)
	}
}

// A laptop asleep from 23:00 to 09:00 missed the 08:00 run: by default it
// is skipped (Windmill's way); with run_once it runs once on waking, and
// an every-minute schedule runs once, not 600 times.
func TestMissedRunsAfterSleep(t *testing.T) {
	t.Parallel()
	paris, _ := time.LoadLocation("Europe/Paris")
	evening := time.Date(2026, 12, 3, 23, 0, 0, 0, paris)
	wake := time.Date(2026, 12, 4, 9, 0, 40, 0, paris)
	for _, c := range []struct {
		expr, policy string
		runs         int
	}{
		{"0 0 8 * * *", MissedSkip, 0},
		{"0 0 8 * * *", MissedRunOnce, 1},
		{"0 * * * * *", MissedRunOnce, 1},
		{"0 * * * * *", MissedSkip, 0},
	} {
		b := setup(t, evening)
		cr := b.put(t, c.expr, c.policy)
		s := b.scheduler()
		s.Pass(t.Context())
		b.queue.runs = map[string]time.Time{}
		b.clock.Set(wake) // the clock jumps: the computer slept
		s.Pass(t.Context())
		if b.queue.count() != c.runs {
			t.Errorf("%s %s: %d runs on waking, want %d", c.expr, c.policy, b.queue.count(), c.runs)
		}
		if next := b.nextDue(t); !next.Equal(cr.Next(wake)) {
			t.Errorf("%s %s: next due %v, want %v", c.expr, c.policy, next, cr.Next(wake))
		}
	}
}

// A disabled schedule starts nothing; enabled again, it resumes from now
// without catching up the time it was off.
func TestDisableAndEnable(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	b := setup(t, start)
	cr := b.put(t, "*/10 * * * * *", MissedRunOnce)
	s := b.scheduler()
	if err := b.db.SetScheduleEnabled(t.Context(), "local", "u/me/s", false, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 60; i++ {
		b.clock.Set(start.Add(time.Duration(i) * time.Second))
		s.Pass(t.Context())
	}
	if b.queue.count() != 0 {
		t.Fatalf("a disabled schedule started %d runs", b.queue.count())
	}
	now := b.clock.Now()
	if err := b.db.SetScheduleEnabled(t.Context(), "local", "u/me/s", true, cr.Next(now)); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 20; i++ {
		b.clock.Set(now.Add(time.Duration(i) * time.Second))
		s.Pass(t.Context())
	}
	if b.queue.count() != 2 {
		t.Fatalf("20 s after enabling an every-10-s schedule: %d runs, want 2", b.queue.count())
	}
}
