package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/store"
)

// registerLive mounts the live views' streams: every job change for the
// Runs page, and one job with its logs as they are written.
func (s *Server) registerLive(mux routes) {
	mux.full("GET /api/millrun/jobs/events", "jobs:read", func(w http.ResponseWriter, r *http.Request) error {
		ch, stop := s.Queue.Watch()
		defer stop()
		httpx.Stream(w, r, ch, func(f http.Flusher, j *store.Job) {
			if j.ParentJob == "" {
				httpx.Event(w, f, "job", JobJSON(j, false))
			}
		})
		return nil
	})
	mux.anyToken("GET /api/millrun/jobs/{id}/stream", func(w http.ResponseWriter, r *http.Request) error {
		who := reqctx.Identity(r.Context())
		id := r.PathValue("id")
		load := func() (*store.Job, error) {
			if j, ok := s.Queue.Live(id); ok {
				return j, nil
			}
			return s.Queue.Get(r.Context(), s.Workspace, id)
		}
		j, err := load()
		if errors.Is(err, store.ErrNotFound) || (err == nil && !who.FullAccess() && who.TokenID != j.TokenID) {
			return apierr.NotFound("job %s", id)
		}
		if err != nil {
			return err
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
				return nil
			}
			select {
			case <-r.Context().Done():
				return nil
			case <-tick.C:
			}
			if j, err = load(); err != nil {
				return nil
			}
		}
	})
}
