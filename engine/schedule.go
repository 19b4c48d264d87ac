package engine

import (
	"time"

	"github.com/millrun/millrun/engine/alerts"
	"github.com/millrun/millrun/engine/store"
)

// jobFinished is told of every job that ends (on its worker).
func (e *Engine) jobFinished(job *store.Job) {
	e.tokens.RevokeJobTokens(job.ID)
	e.forgetIfAsked(job)
	if job.Kind == "flow" && job.ParentJob == "" {
		// A flow canceled while it waited leaves its loop iterations and
		// branches unfinished: they end with it.
		e.db.CloseDescendantsAsync(job.ID, job.Status, job.Result, time.Now())
	}
	e.schedule.JobFinished(job)
	e.alerts.JobFinished(job)
	if job.Status == store.StatusFailure && job.ParentJob == "" {
		e.lastFailure.Store(&Failure{JobID: job.ID, Path: job.ScriptPath, Reason: alerts.Reason(job.Result), At: time.Now()})
	}
}

// alertTunnel tells the alerter when the tunnel goes offline or fails.
func (e *Engine) alertTunnel(stop <-chan struct{}) {
	ch, cancel := e.tunnel.Subscribe()
	defer cancel()
	was := ""
	for {
		select {
		case <-stop:
			return
		case st := <-ch:
			if was != "" && string(st.State) != was {
				e.alerts.TunnelChanged(was, string(st.State), st.Error)
			}
			was = string(st.State)
		}
	}
}
