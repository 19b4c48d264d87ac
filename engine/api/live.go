package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/store"
)

// FullAccess lets only full-access callers (not webhook-scoped tokens)
// through to h; scope names what they would need in the refusal.
func FullAccess(log *slog.Logger, scope string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if requireFull(w, r, log, scope) {
			h(w, r)
		}
	}
}

// registerLive mounts the live views' streams: every job change for the
// Runs page, and one job with its logs as they are written.
func (s *Server) registerLive(mux Mux) {
	mux.HandleFunc("GET /api/millrun/jobs/events", FullAccess(s.Log, "jobs:read", func(w http.ResponseWriter, r *http.Request) {
		ch, stop := s.Queue.Watch()
		defer stop()
		httpx.Stream(w, r, ch, func(f http.Flusher, j *store.Job) {
			if j.ParentJob == "" {
				httpx.Event(w, f, "job", JobJSON(j, false))
			}
		})
	}))
	mux.HandleFunc("GET /api/millrun/jobs/{id}/stream", func(w http.ResponseWriter, r *http.Request) {
		who := auth.FromContext(r.Context())
		id := r.PathValue("id")
		load := func() (*store.Job, error) {
			if j, ok := s.Queue.Live(id); ok {
				return j, nil
			}
			return s.DB.GetJob(r.Context(), s.Workspace, id)
		}
		j, err := load()
		if errors.Is(err, store.ErrNotFound) || (err == nil && !who.FullAccess() && who.TokenID != j.TokenID) {
			apierr.Write(w, s.Log, apierr.NotFound("job %s", id))
			return
		}
		if err != nil {
			apierr.Write(w, s.Log, err)
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
				httpx.Event(w, f, "job", JobJSON(j, j.Finished()))
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
