package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/api"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/store"
)

// flusher flushes when the writer can. The desktop window's in-process
// writer (Wails) cannot, but it streams every write straight to the page.
type flusher struct{ rc *http.ResponseController }

func (f flusher) Flush() { _ = f.rc.Flush() }

// sse starts a server-sent-events response.
func sse(w http.ResponseWriter) http.Flusher {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	f := flusher{http.NewResponseController(w)}
	f.Flush()
	return f
}

func sendEvent(w http.ResponseWriter, f http.Flusher, event string, v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
	f.Flush()
}

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

// stream sends each value from ch as a server-sent event (send writes it)
// until the client goes away, with a keepalive comment between.
func stream[T any](w http.ResponseWriter, r *http.Request, ch <-chan T, send func(f http.Flusher, v T)) {
	f := sse(w)
	keepalive := time.NewTicker(25 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case v := <-ch:
			send(f, v)
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
			f.Flush()
		}
	}
}

// registerLive mounts the live views' streams: every job change for the
// Runs page, and one job with its logs as they are written.
func (e *Engine) registerLive(mux *group) {
	mux.HandleFunc("GET /api/millrun/jobs/events", e.fullAccess("jobs:read", func(w http.ResponseWriter, r *http.Request) {
		ch, stop := e.queue.Watch()
		defer stop()
		stream(w, r, ch, func(f http.Flusher, j *store.Job) {
			if j.ParentJob == "" {
				sendEvent(w, f, "job", api.JobJSON(j, false))
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
		f := sse(w)
		// Logs are sent as appended text; the page concatenates. The loop
		// reads the running job from memory, not the database.
		sent := 0
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		lastStatus := ""
		for {
			if len(j.Logs) > sent && strings.HasPrefix(j.Logs, j.Logs[:sent]) {
				sendEvent(w, f, "logs", j.Logs[sent:])
				sent = len(j.Logs)
			}
			if j.Status != lastStatus || j.Finished() || j.FlowStatus != "" {
				sendEvent(w, f, "job", api.JobJSON(j, j.Finished()))
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
