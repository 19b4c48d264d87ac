package schedules

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/millrun/millrun/engine/lifecycle"
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

// Enqueue starts one run of s for its due time with the given job id,
// recording due as the job's scheduled time. store.ErrDuplicateJob means
// this run was started before, by an earlier pass or an earlier process;
// an error wrapping ErrTargetGone, that what it runs no longer exists; one
// wrapping ErrIDTaken, that another job holds the id.
type Enqueue func(ctx context.Context, s *store.Schedule, due time.Time, jobID string) error

// ErrTargetGone says a schedule's script or flow was deleted or archived:
// the due time is recorded as failed and passed, not retried every tick.
var ErrTargetGone = errors.New("what the schedule runs does not exist")

// ErrIDTaken says the job id of a due time belongs to a job that is not
// this schedule's run for it. Ids are keyed with a secret of the
// installation, so only someone holding that key gets here; the due time
// is recorded as not started and passed.
var ErrIDTaken = errors.New("its job id is already another job's")

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
	// IDKey is the secret a run's job id is derived with (a key of this
	// installation, kept across restarts). Nil: a key of this process only,
	// so a restart at a due instant could start that due time twice.
	IDKey []byte
}

// Scheduler starts the runs of every enabled schedule as they come due.
// It reads the wall clock every tick rather than sleeping until the next
// due time: a timer does not count time a laptop spends asleep, the wall
// clock does, so a wake is seen as due times far behind the clock.
type Scheduler struct {
	cfg  Config
	wake chan struct{}

	mu sync.Mutex
	// lastPass is when the last pass started or ended: a clock far past it
	// means the process did not run in between (the computer slept, the
	// process was stopped, or the clock was set forward).
	lastPass time.Time
	// earliest is the soonest due time the last full pass saw; passes
	// before it read nothing from the database unless a schedule changed.
	earliest time.Time
	dirty    bool
	paused   bool

	sw   lifecycle.Switch
	stop context.CancelFunc // set and read under sw
	done chan struct{}
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
	if len(cfg.IDKey) == 0 {
		cfg.IDKey = make([]byte, 32)
		_, _ = rand.Read(cfg.IDKey) // never fails (crypto/rand panics rather)
	}
	return &Scheduler{cfg: cfg, wake: make(chan struct{}, 1)}
}

// Start runs passes every tick until Stop.
func (s *Scheduler) Start(ctx context.Context) error {
	return s.sw.Start(ctx, func(context.Context) error {
		// The passes outlive the start's context: Stop ends them.
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		s.stop, s.done = cancel, done
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
		return nil
	})
}

// Stop ends the passes and waits for the one under way.
func (s *Scheduler) Stop(ctx context.Context) {
	s.sw.Stop(ctx, func(context.Context) {
		s.stop()
		<-s.done
	})
}

// Now is the scheduler's wall clock, for computing a new schedule's first
// due time on the same clock its passes read.
func (s *Scheduler) Now() time.Time { return s.cfg.Clock.Now() }

// SetPaused pauses or resumes every schedule at once (the status icon's
// Pause schedules). While paused, due times pass without a run whatever
// the missed-run policy: a pause is asked for, not missed.
func (s *Scheduler) SetPaused(paused bool) {
	s.mu.Lock()
	s.paused = paused
	s.mu.Unlock()
	s.Changed()
}

// Paused reports whether the schedules are paused.
func (s *Scheduler) Paused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused
}

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

// maxOnTime bounds the due times one pass starts for one schedule: those
// of the last Late, which for an every-second schedule and the default is
// 31.
const maxOnTime = 10_000

// Pass handles every due time up to now, once.
func (s *Scheduler) Pass(ctx context.Context) {
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	last := s.lastPass
	s.lastPass = now
	idle := !s.dirty && !s.earliest.IsZero() && now.Before(s.earliest)
	s.dirty = false
	paused := s.paused
	s.mu.Unlock()
	frozen := !last.IsZero() && now.Sub(last) > s.cfg.Late
	if frozen {
		s.cfg.Log.Info("the clock jumped (the computer slept?)", "by", now.Sub(last).Round(time.Second).String())
	}
	if idle {
		return
	}
	defer func() {
		// A slow pass (a busy disk) is not a freeze of the next one.
		s.mu.Lock()
		s.lastPass = s.cfg.Clock.Now()
		s.mu.Unlock()
	}()
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
			if paused {
				sc.NextDue = s.pass(ctx, sc, now)
			} else {
				sc.NextDue = s.handle(ctx, sc, now, frozen)
			}
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
// between starting it and recording that it was. It is keyed with a secret
// of the installation: from public inputs alone (the path and the cron) a
// caller choosing ?job_id= could take a coming run's id, so that it never
// ran, and learn from the 409 which schedules exist.
func (s *Scheduler) JobID(workspace, path string, due time.Time) string {
	mac := hmac.New(sha256.New, s.cfg.IDKey)
	mac.Write([]byte("millrun schedule run\x00" + workspace + "\x00" + path + "\x00" + due.UTC().Format(time.RFC3339Nano)))
	var id uuid.UUID
	copy(id[:], mac.Sum(nil))
	// Shaped as a random (version 4) UUID, which to anyone without the key
	// it is: every client that checks a UUID's version accepts it.
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id.String()
}

// pass moves sc past every due time up to now without a run (paused).
func (s *Scheduler) pass(ctx context.Context, sc *store.Schedule, now time.Time) time.Time {
	c, err := Parse(sc.Schedule, sc.Timezone)
	if err != nil {
		return s.handle(ctx, sc, now, false) // which records why it does not parse
	}
	due := c.Next(now)
	if err := s.cfg.DB.AdvanceSchedule(ctx, sc.Workspace, sc.Path, sc.NextDue, due); err != nil {
		if ctx.Err() == nil {
			s.cfg.Log.Error("schedule: advance", "schedule", sc.Path, "err", err)
		}
		return sc.NextDue
	}
	s.cfg.Log.Info("schedules paused: a due time passed without a run", "schedule", sc.Path, "due", sc.NextDue)
	return due
}

// handle starts what is due of sc and returns its next due time (the one
// it had when it could not start a run: the next pass tries again).
//
// A due time runs on time when the scheduler was there for it: it is at
// most Late behind the clock and the clock did not jump since the last
// pass. Otherwise the computer slept, the process was stopped or the clock
// was set forward, and every due time up to now was missed: skip starts
// none of them (the next run is the next due time), run_once starts one,
// for the latest. Walking the missed due times one by one would start a
// burst of them and, after a day away, take a second per schedule.
func (s *Scheduler) handle(ctx context.Context, sc *store.Schedule, now time.Time, frozen bool) time.Time {
	c, err := Parse(sc.Schedule, sc.Timezone)
	if err != nil { // stored before a zone vanished from the system, say
		msg := "the schedule no longer parses: " + err.Error()
		_ = s.cfg.DB.SetScheduleError(ctx, sc.Workspace, sc.Path, &msg)
		_ = s.cfg.DB.AdvanceSchedule(ctx, sc.Workspace, sc.Path, sc.NextDue, time.Time{})
		return time.Time{}
	}
	var runs []time.Time
	due := sc.NextDue
	if frozen || now.Sub(sc.NextDue) > s.cfg.Late {
		latest := c.Last(now)
		if latest.Before(sc.NextDue) { // the stored due time is not one of this cron's
			latest = sc.NextDue
		}
		due = c.Next(now)
		s.cfg.Log.Info("schedule missed runs", "schedule", sc.Path, "since", sc.NextDue, "latest", latest, "policy", sc.Missed)
		if sc.Missed == MissedRunOnce {
			runs = []time.Time{latest}
		}
	} else {
		for i := 0; !due.IsZero() && !due.After(now) && i < maxOnTime; i++ {
			runs = append(runs, due)
			due = c.Next(due)
		}
		if !due.IsZero() && !due.After(now) {
			due = c.Next(now)
		}
	}
	for _, t := range runs {
		err := s.cfg.Enqueue(ctx, sc, t, s.JobID(sc.Workspace, sc.Path, t))
		switch {
		case err == nil || errors.Is(err, store.ErrDuplicateJob):
		case errors.Is(err, ErrTargetGone) || errors.Is(err, ErrIDTaken):
			// Retrying would meet the same answer: the due time passes, and
			// the schedule says it did not run.
			s.cfg.Log.Warn("schedule: a run did not start", "schedule", sc.Path, "due", t, "err", err)
			msg := "the run due " + t.UTC().Format(time.RFC3339) + " did not start: " + err.Error()
			_ = s.cfg.DB.SetScheduleError(ctx, sc.Workspace, sc.Path, &msg)
		default:
			// Leave next_due where it is: the next pass tries again (past
			// Late, as a missed due time).
			if ctx.Err() == nil {
				s.cfg.Log.Error("schedule: start run", "schedule", sc.Path, "err", err)
				msg := "could not start the run due " + t.UTC().Format(time.RFC3339) + ": " + err.Error()
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
