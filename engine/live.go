package engine

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/api"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/store"
)

// fullAccess lets only full-access callers (not webhook-scoped tokens)
// through to h; scope names what they would need in the refusal.
func (e *Engine) fullAccess(scope string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if id := auth.FromContext(r.Context()); id == nil || !id.FullAccess() {
			apierr.Write(w, e.log, apierr.NotAuthorized("Required scope: %s", scope))
			return
		}
		h(w, r)
	}
}

// registerLive mounts the live views' streams: every job change for the
// Runs page, and one job with its logs as they are written.
func (e *Engine) registerLive(mux *group) {
	mux.HandleFunc("GET /api/millrun/jobs/events", e.fullAccess("jobs:read", func(w http.ResponseWriter, r *http.Request) {
		ch, stop := e.queue.Watch()
		defer stop()
		httpx.Stream(w, r, ch, func(f http.Flusher, j *store.Job) {
			if j.ParentJob == "" {
				httpx.Event(w, f, "job", api.JobJSON(j, false))
			}
		})
	}))
	mux.HandleFunc("GET /api/millrun/jobs/{id}/stream", func(w http.ResponseWriter, r *http.Request) {
		who := auth.FromContext(r.Context())
		id := r.PathValue("id")
		load := func() (*store.Job, error) {
			if j, ok := e.queue.Live(id); ok {
				return j, nil
			}
			return e.db.GetJob(r.Context(), e.cfg.Workspace, id)
		}
		j, err := load()
		if errors.Is(err, store.ErrNotFound) || (err == nil && !who.FullAccess() && who.TokenID != j.TokenID) {
			apierr.Write(w, e.log, apierr.NotFound("job %s", id))
			return
		}
		if err != nil {
			apierr.Write(w, e.log, err)
			return
		}
		f := httpx.SSE(w)
		// Logs are sent as appended text; the page concatenates. The loop
		// reads the running job from memory, not the database.
		sent := 0
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		lastStatus := ""
		for {
			if len(j.Logs) > sent && strings.HasPrefix(j.Logs, j.Logs[:sent]) {
				httpx.Event(w, f, "logs", j.Logs[sent:])
				sent = len(j.Logs)
			}
			if j.Status != lastStatus || j.Finished() || j.FlowStatus != "" {
				httpx.Event(w, f, "job", api.JobJSON(j, j.Finished()))
				lastStatus = j.Status
			}
			if j.Finished() {
				fmt.Fprint(w, "event: end\ndata: {}\n\n")
				f.Flush()
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
			if j, err = load(); err != nil {
				return
			}
		}
	})
}
