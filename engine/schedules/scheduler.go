package schedules

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/millrun/millrun/engine/store"
)

// Missed-run policies: what a schedule does about due times that passed
// while the laptop slept or millrun was not running.
const (
	MissedSkip    = "skip"     // as Windmill: the next run is the next due time
	MissedRunOnce = "run_once" // one run on waking for all that was missed
)

// Clock tells the wall-clock time; tests move it by hand.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Enqueue starts one run of s for its due time with the given job id. A
// job with that id already existing (store.ErrDuplicateJob) means the run
// was started before, by an earlier pass or an earlier process; an error
// wrapping ErrTargetGone, that what it runs no longer exists.
type Enqueue func(ctx context.Context, s *store.Schedule, due time.Time, jobID string) error

// ErrTargetGone says a schedule's script or flow was deleted or archived:
// the due time is recorded as failed and passed, not retried every tick.
var ErrTargetGone = errors.New("what the schedule runs does not exist")

// Config is what a Scheduler needs.
type Config struct {
	DB      *store.DB
	Enqueue Enqueue
	Clock   Clock         // default: the system clock
	Tick    time.Duration // how often the clock is read (default 1 s)
	// Late is how far past its due time a run still counts as on time
	// (default 30 s). Later than that, the computer was asleep or millrun
	// was not running when it came due: it was missed.
	Late time.Duration
	Log  *slog.Logger
}

// Scheduler starts the runs of every enabled schedule as they come due.
// It reads the wall clock every tick rather than sleeping until the next
// due time: a timer does not count time a laptop spends asleep, the wall
// clock does, so a wake is seen as due times far behind the clock.
type Scheduler struct {
	cfg  Config
	wake chan struct{}

	mu       sync.Mutex
	lastPass time.Time
	// earliest is the soonest due time the last full pass saw; passes
	// before it read nothing from the database unless a schedule changed.
	earliest time.Time
	dirty    bool
	stop     context.CancelFunc
	done     chan struct{}
}

// New returns a scheduler; Start runs it.
func New(cfg Config) *Scheduler {
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.Late <= 0 {
		cfg.Late = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Scheduler{cfg: cfg, wake: make(chan struct{}, 1)}
}

// Start runs passes every tick until Stop.
func (s *Scheduler) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.stop, s.done = cancel, make(chan struct{})
	done := s.done
	s.mu.Unlock()
	go func() {
		defer close(done)
		t := time.NewTicker(s.cfg.Tick)
		defer t.Stop()
		for {
			s.Pass(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-s.wake:
			}
		}
	}()
}

// Stop ends the passes and waits for the one under way.
func (s *Scheduler) Stop() {
	s.mu.Lock()
	stop, done := s.stop, s.done
	s.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// Now is the scheduler's wall clock, for computing a new schedule's first
// due time on the same clock its passes read.
func (s *Scheduler) Now() time.Time { return s.cfg.Clock.Now() }

// Changed asks for a pass now (a schedule was created or edited).
func (s *Scheduler) Changed() {
	s.mu.Lock()
	s.dirty = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// maxDuePerPass bounds the due times one pass walks through for one
// schedule (an every-second schedule after a night asleep).
const maxDuePerPass = 200_000

// Pass handles every due time up to now, once.
func (s *Scheduler) Pass(ctx context.Context) {
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	last := s.lastPass
	s.lastPass = now
	idle := !s.dirty && !s.earliest.IsZero() && now.Before(s.earliest)
	s.dirty = false
	s.mu.Unlock()
	if !last.IsZero() && now.Sub(last) > s.cfg.Late {
		s.cfg.Log.Info("the clock jumped (the computer slept?)", "by", now.Sub(last).Round(time.Second).String())
	}
	if idle {
		return
	}
	list, err := s.cfg.DB.ListSchedules(ctx, "")
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Log.Error("schedules: list", "err", err)
		}
		s.setEarliest(time.Time{})
		return
	}
	// The soonest due time from here on: handling a schedule moves its own;
	// an edit meanwhile marks the scheduler changed, so nothing is missed.
	earliest := now.Add(time.Minute) // a bound: look again at least once a minute
	for _, sc := range list {
		if sc.Enabled && !sc.NextDue.IsZero() && !sc.NextDue.After(now) {
			sc.NextDue = s.handle(ctx, sc, now)
		}
		if sc.Enabled && !sc.NextDue.IsZero() && sc.NextDue.Before(earliest) {
			earliest = sc.NextDue
		}
	}
	s.setEarliest(earliest)
}

func (s *Scheduler) setEarliest(t time.Time) {
	s.mu.Lock()
	s.earliest = t
	s.mu.Unlock()
}

// JobID is the id of the run of schedule path for due: the same due time
// always gives the same id, so a run is started once whatever happens
// between starting it and recording that it was.
func JobID(workspace, path string, due time.Time) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("millrun-schedule:"+workspace+"\x00"+path+"\x00"+due.UTC().Format(time.RFC3339Nano))).String()
}

// handle starts what is due of sc and returns its next due time (the one
// it had when it could not start a run: the next pass tries again).
func (s *Scheduler) handle(ctx context.Context, sc *store.Schedule, now time.Time) time.Time {
	c, err := Parse(sc.Schedule, sc.Timezone)
	if err != nil { // stored before a zone vanished from the system, say
		msg := "the schedule no longer parses: " + err.Error()
		_ = s.cfg.DB.SetScheduleError(ctx, sc.Workspace, sc.Path, &msg)
		_ = s.cfg.DB.AdvanceSchedule(ctx, sc.Workspace, sc.Path, sc.NextDue, time.Time{})
		return time.Time{}
	}
	var onTime []time.Time
	missed, lastMissed := 0, time.Time{}
	due := sc.NextDue
	for i := 0; !due.IsZero() && !due.After(now) && i < maxDuePerPass; i++ {
		if now.Sub(due) <= s.cfg.Late {
			onTime = append(onTime, due)
		} else {
			missed++
			lastMissed = due
		}
		due = c.Next(due)
	}
	if !due.IsZero() && !due.After(now) {
		due = c.Next(now) // more than a pass walks: start again from now
	}
	runs := onTime
	if missed > 0 {
		s.cfg.Log.Info("schedule missed runs", "schedule", sc.Path, "missed", missed, "policy", sc.Missed)
		if sc.Missed == MissedRunOnce && len(onTime) == 0 {
			runs = []time.Time{lastMissed}
		}
	}
	for _, t := range runs {
		err := s.cfg.Enqueue(ctx, sc, t, JobID(sc.Workspace, sc.Path, t))
		if errors.Is(err, ErrTargetGone) {
			msg := "the run due " + t.Format(time.RFC3339) + " did not start: " + err.Error()
			_ = s.cfg.DB.SetScheduleError(ctx, sc.Workspace, sc.Path, &msg)
			continue
		}
		if err != nil && !errors.Is(err, store.ErrDuplicateJob) {
			// Leave next_due where it is: the next pass tries again.
			if ctx.Err() == nil {
				s.cfg.Log.Error("schedule: start run", "schedule", sc.Path, "err", err)
				msg := "could not start the run due " + t.Format(time.RFC3339) + ": " + err.Error()
				_ = s.cfg.DB.SetScheduleError(ctx, sc.Workspace, sc.Path, &msg)
			}
			return sc.NextDue
		}
	}
	if err := s.cfg.DB.AdvanceSchedule(ctx, sc.Workspace, sc.Path, sc.NextDue, due); err != nil {
		if ctx.Err() == nil {
			s.cfg.Log.Error("schedule: advance", "schedule", sc.Path, "err", err)
		}
		return sc.NextDue
	}
	return due
}
