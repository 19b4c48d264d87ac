package engine

import (
	"time"

	"github.com/millrun/millrun/engine/tunnel"
)

// Failure is a run that failed.
type Failure struct {
	JobID, Path, Reason string
	At                  time.Time
}

// Status is the engine at a glance: what a status icon shows.
type Status struct {
	Running, Queued int
	Tunnel          tunnel.Status
	// LastFailure is the newest run (not a flow's step) that failed since
	// this engine started; nil when none did.
	LastFailure     *Failure
	SchedulesPaused bool
}

// Status reports the engine's state now.
func (e *Engine) Status() Status {
	q := e.queue.Stats()
	return Status{Running: q.Running, Queued: q.Queued, Tunnel: e.tunnel.Status(), LastFailure: e.lastFailure.Load(), SchedulesPaused: e.sched.Paused()}
}
