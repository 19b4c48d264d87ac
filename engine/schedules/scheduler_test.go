package schedules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
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
	fail error                // what the next enqueues answer, when set
}

func (q *fakeQueue) enqueue(_ context.Context, _ *store.Schedule, due time.Time, id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return q.fail
	}
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
	return New(Config{DB: b.db, Enqueue: b.queue.enqueue, Clock: b.clock, Log: slog.New(slog.DiscardHandler), IDKey: testKey})
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

// dues lists the due times the queue was asked to run, in order.
func (q *fakeQueue) dues() []time.Time {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []time.Time
	for _, d := range q.runs {
		out = append(out, d)
	}
	slices.SortFunc(out, time.Time.Compare)
	return out
}

func (q *fakeQueue) reset() { q.mu.Lock(); q.runs = map[string]time.Time{}; q.mu.Unlock() }

// The process froze (the laptop slept) for 65 s under an every-second
// schedule: skip starts nothing for the past and run_once exactly one run,
// for the latest due time it missed; a second later the schedule is back
// on its beat. Before, both started 31 runs at once on waking (every due
// time of the last 30 s counted as on time).
func TestAFreezeStartsNoBurst(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 4, 10, 0, 0, 200e6, time.UTC)
	for _, policy := range []string{MissedSkip, MissedRunOnce} {
		b := setup(t, start)
		cr := b.put(t, "* * * * * *", policy)
		s := b.scheduler()
		for i := 0; i < 3; i++ { // awake, on the beat
			s.Pass(t.Context())
			b.clock.Set(b.clock.Now().Add(time.Second))
		}
		if n := b.queue.count(); n != 2 {
			t.Fatalf("%s: %d runs in the first 3 passes", policy, n)
		}
		b.queue.reset()
		wake := b.clock.Now().Add(65 * time.Second)
		b.clock.Set(wake)
		s.Pass(t.Context())
		want := 0
		if policy == MissedRunOnce {
			want = 1
		}
		if got := b.queue.dues(); len(got) != want {
			t.Fatalf("%s: %d runs on waking from a 65 s freeze, want %d", policy, len(got), want)
		} else if want == 1 && !got[0].Equal(wake.Truncate(time.Second)) {
			t.Fatalf("run_once ran the due time %s, want the latest missed one %s", got[0], wake.Truncate(time.Second))
		}
		if next := b.nextDue(t); !next.Equal(cr.Next(wake)) {
			t.Fatalf("%s: next due %s, want %s", policy, next, cr.Next(wake))
		}
		b.queue.reset()
		b.clock.Set(wake.Add(time.Second))
		s.Pass(t.Context())
		if got := b.queue.dues(); len(got) != 1 || !got[0].Equal(cr.Next(wake)) {
			t.Fatalf("%s: a second after waking: %v, want the one due then", policy, got)
		}
	}
}

// A 24-hour jump of the clock under 50 every-second schedules starts
// nothing for the past with skip and one run per schedule with run_once
// (before: 31 per schedule, 1,550).
func TestAClockJumpUnderManySchedules(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	for _, policy := range []string{MissedSkip, MissedRunOnce} {
		b := setup(t, start)
		for i := 0; i < 50; i++ {
			c, _ := Parse("* * * * * *", "UTC")
			if err := b.db.PutSchedule(t.Context(), store.Schedule{Workspace: "local", Path: fmt.Sprintf("u/me/s%d", i), Schedule: c.Expr,
				Timezone: "UTC", ScriptPath: "u/me/x", Args: "{}", Enabled: true, Missed: policy, NextDue: c.Next(start)}, true); err != nil {
				t.Fatal(err)
			}
		}
		s := b.scheduler()
		s.Pass(t.Context())
		b.clock.Set(start.Add(24*time.Hour + 500*time.Millisecond))
		s.Pass(t.Context())
		want := 0
		if policy == MissedRunOnce {
			want = 50
		}
		if n := b.queue.count(); n != want {
			t.Errorf("%s: %d runs after a 24 h jump under 50 every-second schedules, want %d", policy, n, want)
		}
	}
}

// A restart after a long stop is a freeze too: with run_once the due time
// it catches up is the same however often the process dies before it
// records that, so it starts once.
func TestCatchUpStartsOnceAcrossRestarts(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	b := setup(t, start)
	b.put(t, "0 * * * * *", MissedRunOnce)
	stale := b.nextDue(t)
	b.clock.Set(start.Add(2*time.Hour + 10*time.Second))
	for i := 0; i < 3; i++ { // each process dies before recording the advance
		b.scheduler().Pass(t.Context())
		if err := b.db.AdvanceSchedule(t.Context(), "local", "u/me/s", b.nextDue(t), stale); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.queue.dues(); len(got) != 1 || !got[0].Equal(start.Add(2*time.Hour)) {
		t.Fatalf("catch-up runs across restarts: %v, want one for %s", got, start.Add(2*time.Hour))
	}
}

// Nights when the clocks change, pass by pass on a clock that ticks every
// second: on Lord Howe's 30-minute jump a daily 02:15 runs once, at 02:30
// (before: never); through Troll's repeated 2 hours an hourly schedule
// runs 01:00, 02:00 and 03:00 once each (before: 01:00 and 02:00 twice).
func TestNightsWhenTheClocksChange(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		zone, expr string
		from, to   time.Time
		want       []string
	}{
		{"Australia/Lord_Howe", "0 15 2 * * *", time.Date(2026, 10, 3, 15, 0, 0, 0, time.UTC), time.Date(2026, 10, 3, 16, 30, 0, 0, time.UTC),
			[]string{"2026-10-04 02:30:00 +11:00"}},
		{"Antarctica/Troll", "0 0 * * * *", time.Date(2026, 10, 24, 22, 30, 0, 0, time.UTC), time.Date(2026, 10, 25, 3, 30, 0, 0, time.UTC),
			[]string{"2026-10-25 01:00:00 +02:00", "2026-10-25 02:00:00 +02:00", "2026-10-25 03:00:00 +00:00"}},
	} {
		b := setup(t, c.from)
		cr, err := Parse(c.expr, c.zone)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.db.PutSchedule(t.Context(), store.Schedule{Workspace: "local", Path: "u/me/s", Schedule: cr.Expr, Timezone: c.zone,
			ScriptPath: "u/me/x", Args: "{}", Enabled: true, Missed: MissedSkip, NextDue: cr.Next(c.from)}, true); err != nil {
			t.Fatal(err)
		}
		s := b.scheduler()
		for now := c.from; now.Before(c.to); now = now.Add(time.Second) {
			b.clock.Set(now)
			s.Pass(t.Context())
		}
		var got []string
		for _, d := range b.queue.dues() {
			got = append(got, d.In(cr.Location).Format("2006-01-02 15:04:05 -07:00"))
		}
		if strings.Join(got, ", ") != strings.Join(c.want, ", ") {
			t.Errorf("%s %q:\n got  %v\n want %v", c.zone, c.expr, got, c.want)
		}
	}
}

// testKey stands for the installation's key, the same in every process of
// a test.
var testKey = []byte("a key of this installation, 32 b")

// A due time that could not start says so on the schedule (its error, as
// Windmill's schedule has): one whose id another job holds, or whose script
// is gone, passes; one the queue refused (full) is tried again while it is
// on time.
func TestADueTimeThatCouldNotStartShowsOnTheSchedule(t *testing.T) {
	t.Parallel()
	paris, _ := time.LoadLocation("Europe/Paris")
	start := time.Date(2026, 12, 4, 7, 59, 59, 0, paris)
	due := start.Add(time.Second)
	for _, c := range []struct {
		fail    error
		want    string
		retried bool
	}{
		{fmt.Errorf("%w (job 1234 of u/me/other)", ErrIDTaken), "the run due 2026-12-04T07:00:00Z did not start: its job id is already another job's", false},
		{fmt.Errorf("%w: no script at u/me/x", ErrTargetGone), "the run due 2026-12-04T07:00:00Z did not start: what the schedule runs does not exist", false},
		{errors.New("the job queue is full"), "could not start the run due 2026-12-04T07:00:00Z: the job queue is full", true},
	} {
		b := setup(t, start)
		cr := b.put(t, "0 0 8 * * *", MissedSkip)
		s := b.scheduler()
		s.Pass(t.Context())
		b.queue.fail = c.fail
		b.clock.Set(due.Add(time.Second))
		s.Pass(t.Context())
		sc, err := b.db.GetSchedule(t.Context(), "local", "u/me/s")
		if err != nil {
			t.Fatal(err)
		}
		if sc.Error == nil || !strings.Contains(*sc.Error, c.want) {
			t.Errorf("after %v the schedule says %v, want %q", c.fail, sc.Error, c.want)
		}
		if c.retried != sc.NextDue.Equal(due) {
			t.Errorf("after %v next due is %s", c.fail, sc.NextDue)
		}
		b.queue.fail = nil
		b.clock.Set(due.Add(2 * time.Second))
		s.Pass(t.Context())
		if got := b.queue.dues(); c.retried != (len(got) == 1) {
			t.Errorf("after %v and a pass that could start it: %v", c.fail, got)
		}
		if next := b.nextDue(t); !next.Equal(cr.Next(due)) {
			t.Errorf("after %v next due stays %s", c.fail, next)
		}
	}
}

// Paused (the status icon's Pause schedules), due times pass without a
// run, whatever the missed-run policy: resuming starts nothing for them,
// and the next due time runs as usual.
func TestPausedSchedulesStartNothing(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	b := setup(t, start)
	c := b.put(t, "0 */5 * * * *", MissedRunOnce)
	s := b.scheduler()
	s.SetPaused(true)
	for i := 1; i <= 20; i++ {
		b.clock.Set(start.Add(time.Duration(i) * time.Minute))
		s.Pass(t.Context())
	}
	if n := b.queue.count(); n != 0 {
		t.Fatalf("paused, %d runs started", n)
	}
	now := b.clock.Now()
	if want := c.Next(now); !b.nextDue(t).Equal(want) {
		t.Fatalf("paused, next due %v, want %v", b.nextDue(t), want)
	}
	s.SetPaused(false)
	s.Pass(t.Context())
	if n := b.queue.count(); n != 0 {
		t.Fatalf("resuming started %d runs for paused due times", n)
	}
	b.clock.Set(c.Next(now))
	s.Pass(t.Context())
	if n := b.queue.count(); n != 1 {
		t.Fatalf("after resuming, the next due time started %d runs", n)
	}
}
