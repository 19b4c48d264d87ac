package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/flows"
	"github.com/millrun/millrun/engine/guard"
	"github.com/millrun/millrun/engine/jobs"
	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/runnable"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

// Settings are the live settings the webhook routes read per request.
type Settings struct {
	SyncTimeout    time.Duration
	IncludeHeaders []string
	MaxBody        int64
}

// Service serves the run routes.
type Service struct {
	Workspace string
	Catalog   *scripts.Catalog
	Flows     *flows.Catalog
	Queue     *jobs.Queue
	Settings  func() Settings
	Log       *slog.Logger
	// Limiter rate-limits callers per token; nil for none.
	Limiter *auth.RateLimiter
}

// Mux is where routes are mounted: the engine's route table, whose group
// decides their protection.
type Mux interface {
	Handle(pattern string, h http.Handler)
	HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request))
}

// Register mounts the run routes on mux. Auth middleware runs before them
// and puts the caller's identity in the request context.
func (s *Service) Register(mux Mux) {
	for _, sync := range []bool{false, true} {
		base := "/api/w/{ws}/jobs/run/"
		if sync {
			base = "/api/w/{ws}/jobs/run_wait_result/"
		}
		for _, route := range []struct {
			suffix string
			by     lookup
		}{{"p/{path...}", byPath}, {"h/{hash}", byHash}, {"f/{path...}", byFlow}} {
			h := s.handler(sync, route.by)
			mux.Handle("POST "+base+route.suffix, h)
			switch {
			case sync && route.by == byHash:
				// Windmill routes POST and HEAD only here; its GET answer
				// is a bare 405.
				mux.Handle("HEAD "+base+route.suffix, h)
				mux.HandleFunc("GET "+base+route.suffix, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Allow", "HEAD, POST")
					w.WriteHeader(http.StatusMethodNotAllowed)
				})
			case sync:
				mux.Handle("GET "+base+route.suffix, h) // GET also answers HEAD in net/http's mux
			default:
				mux.Handle("HEAD "+base+route.suffix, h)
			}
		}
	}
}

func (s *Service) fail(w http.ResponseWriter, err error) { apierr.Write(w, s.Log, err) }

// failKeepingBody answers a caller let in by its token whose URL names
// nothing (a mistyped path, hash or workspace) after reading the body, so
// the request inspector keeps what was sent to show, replay and copy.
func (s *Service) failKeepingBody(w http.ResponseWriter, r *http.Request, err error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		_, _ = ReadBody(r, s.Settings().MaxBody)
	}
	s.fail(w, err)
}

// lookup says how a run route names what it runs.
type lookup int

const (
	byPath lookup = iota
	byHash
	byFlow
)

// scopeKind is the kind a token's run scope names for t.
func scopeKind(t *runnable.Target) string {
	if t.Kind == runnable.Flow {
		return auth.KindFlow
	}
	return auth.KindScript
}

func (s *Service) handler(sync bool, by lookup) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ws := r.PathValue("ws"); ws != s.Workspace {
			s.failKeepingBody(w, r, apierr.NotFound("workspace %s does not exist (this millrun serves workspace %s)", ws, s.Workspace))
			return
		}
		id := reqctx.Identity(r.Context())
		v, err := s.resolve(r, by)
		if err != nil {
			s.failKeepingBody(w, r, err)
			return
		}
		if id == nil || !id.CanRun(scopeKind(v), v.Path) {
			s.fail(w, apierr.NotAuthorized("Required scope: %s", auth.RunScope(scopeKind(v), v.Path)))
			return
		}
		if v.NotRunnable != nil {
			s.fail(w, v.NotRunnable)
			return
		}
		if s.Limiter != nil {
			if ok, wait := s.Limiter.Allow(id.TokenID); !ok {
				s.fail(w, apierr.TooManyRequests(wait, "too many requests for this token; retry in %d s", wait))
				return
			}
		}
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
			return
		}
		job, err := s.buildJob(r, v, id)
		if err != nil {
			s.fail(w, err)
			return
		}
		if !sync {
			s.runAsync(w, r, job)
			return
		}
		s.runSync(w, r, job)
	})
}

func (s *Service) resolve(r *http.Request, by lookup) (*runnable.Target, error) {
	switch by {
	case byFlow:
		return s.resolver().Resolve(r.Context(), s.Workspace, runnable.Flow, r.PathValue("path"))
	case byHash:
		hash := r.PathValue("hash")
		if !scripts.ValidHash(hash) {
			return nil, apierr.NotFound("script with hash %s", hash)
		}
		v, err := s.Catalog.ByHash(r.Context(), s.Workspace, hash)
		if errors.Is(err, store.ErrNotFound) {
			return nil, apierr.NotFound("script with hash %s", hash)
		}
		if err != nil {
			return nil, err
		}
		return runnable.ScriptTarget(v), nil
	}
	return s.resolver().Resolve(r.Context(), s.Workspace, runnable.Script, r.PathValue("path"))
}

// recordedHeaders are kept with each job for the Runs page, besides the
// ones the caller asked to include.
var recordedHeaders = []string{"Content-Type", "User-Agent", "X-Request-Id",
	"X-Github-Event", "X-Github-Delivery", "X-Slack-Request-Timestamp", "Ce-Type", "Ce-Source"}

func (s *Service) buildJob(r *http.Request, v *runnable.Target, id *auth.Identity) (*store.Job, error) {
	set := s.Settings()
	var body []byte
	if r.Method != http.MethodGet {
		var err error
		if body, err = ReadBody(r, set.MaxBody); err != nil {
			return nil, err
		}
	}
	q := r.URL.Query()
	args, err := BuildArgs(ArgsInput{Method: r.Method, ContentType: r.Header.Get("Content-Type"), Body: body,
		Header: r.Header, Query: q, IncludeHeaders: set.IncludeHeaders})
	if err != nil {
		return nil, err
	}
	argsJSON, err := json.Marshal(args)
	if err != nil {
		return nil, apierr.BadRequest("arguments cannot be encoded: %s", err)
	}
	job := &store.Job{
		Workspace: s.Workspace, Args: string(argsJSON), Trigger: "webhook", CreatedBy: id.Label, TokenID: id.TokenID,
	}
	v.Fill(job)
	if t := q.Get("trigger"); t == "ui" {
		job.Trigger = t
	}
	if jid := q.Get("job_id"); jid != "" {
		u, err := uuid.Parse(jid)
		if err != nil {
			return nil, apierr.BadRequest("job_id %q is not a UUID", jid)
		}
		job.ID = u.String()
	} else {
		job.ID = uuid.NewString()
	}
	if t := q.Get("timeout"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n <= 0 {
			return nil, apierr.BadRequest("timeout must be a positive number of seconds, got %q", t)
		}
		job.TimeoutS = n
	}
	if sf := q.Get("scheduled_for"); sf != "" {
		t, err := time.Parse(time.RFC3339, sf)
		if err != nil {
			return nil, apierr.BadRequest("scheduled_for must be an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", sf)
		}
		job.ScheduledFor = t.UTC()
	} else if si := q.Get("scheduled_in_secs"); si != "" {
		n, err := strconv.Atoi(si)
		if err != nil || n < 0 {
			return nil, apierr.BadRequest("scheduled_in_secs must be a non-negative integer, got %q", si)
		}
		job.ScheduledFor = time.Now().UTC().Add(time.Duration(n) * time.Second)
	}
	if _, viaTunnel := reqctx.TunnelCaller(r.Context()); viaTunnel {
		job.Trigger = "tunnel"
	}
	recordHeaders(r, job, RecordedHeaders(r.Header, includeList(q.Get("include_header"), set.IncludeHeaders)))
	return job, nil
}

// ReadBody reads a request body of at most limit bytes, with the answer
// to give when that fails: 413 over the limit, the engine's own answer
// when its body budget refused (busy, not bad input), else 400. The body
// is the budget's buffer (guard.ReadBody): nothing may keep it, or a slice
// of it, once the request is answered.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	body, err := guard.ReadBody(r, limit)
	if err != nil {
		return nil, bodyError(err, limit)
	}
	return body, nil
}

// ReadParts is ReadBody for a check that goes through the body's parts
// (guard.ReadParts); guard.Join puts them together.
func ReadParts(r *http.Request, limit int64) ([][]byte, error) {
	parts, err := guard.ReadParts(r, limit)
	if err != nil {
		return nil, bodyError(err, limit)
	}
	return parts, nil
}

func bodyError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	var ae *apierr.Error
	switch {
	case errors.As(err, &mbe):
		return apierr.TooLarge("the request body is larger than the limit of %d bytes", limit)
	case errors.As(err, &ae):
		return ae
	}
	return apierr.BadRequest("reading the request body: %s", err)
}

// EnqueueError is the answer for a job the queue did not take.
func EnqueueError(err error, job *store.Job) error {
	switch {
	case errors.Is(err, jobs.ErrQueueFull):
		return apierr.TooManyRequests(5, "the job queue is full; retry shortly")
	case errors.Is(err, jobs.ErrShuttingDown):
		return apierr.Unavailable(5, "millrun is shutting down; retry shortly")
	case errors.Is(err, store.ErrDuplicateJob):
		// Windmill's words (windmill-queue's push).
		return apierr.BadRequest("Job with id %s already exists", job.ID)
	}
	return err
}

func (s *Service) runSync(w http.ResponseWriter, r *http.Request, job *store.Job) {
	ch := s.Queue.Subscribe(job.ID)
	defer s.Queue.Unsubscribe(job.ID, ch)
	enqueue := s.Queue.EnqueueForWaiter
	if r.URL.Query().Has("job_id") {
		enqueue = s.Queue.Enqueue // a caller-chosen id must be checked for duplicates first
	}
	if err := enqueue(r.Context(), job); err != nil {
		s.fail(w, EnqueueError(err, job))
		return
	}
	limit := s.Settings().SyncTimeout
	timer := time.NewTimer(limit)
	defer timer.Stop()
	stopping := s.Queue.Stopping()
	for {
		select {
		case done := <-ch:
			WriteResult(w, s.Log, done)
			return
		case <-stopping:
			// A running job finishes (or is stopped) within the shutdown
			// grace and its answer comes as usual; a queued one will not
			// start now, so its caller hears that at once.
			if s.Queue.Queued(job.ID) {
				s.fail(w, apierr.Unavailable(30, "millrun is shutting down: job %s stays queued and runs at the next start; read its result then at /api/w/%s/jobs_u/completed/get_result/%s", job.ID, s.Workspace, job.ID))
				return
			}
			stopping = nil
		case <-timer.C:
			_ = s.Queue.Cancel(context.Background(), s.Workspace, job.ID, "millrun", "timeout waiting for the result")
			s.fail(w, apierr.Internal("timeout after %s: job %s did not finish in time and was canceled", formatSeconds(limit), job.ID))
			return
		case <-r.Context().Done():
			// Windmill cancels a sync job whose caller went away.
			_ = s.Queue.Cancel(context.Background(), s.Workspace, job.ID, "millrun", "http connection broke")
			return
		}
	}
}

func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// WriteResult writes a finished job as a sync webhook answer.
func WriteResult(w http.ResponseWriter, log *slog.Logger, job *store.Job) {
	h := w.Header()
	h.Set("X-Millrun-Job-Id", job.ID)
	if job.Status != store.StatusSuccess {
		h.Set("X-Millrun-Job-Success", "false")
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, job.Result)
		return
	}
	h.Set("X-Millrun-Job-Success", "true")
	shaped, err := ShapeResult(json.RawMessage(job.Result))
	if err != nil {
		apierr.Write(w, log, err)
		return
	}
	for k, vs := range shaped.Header {
		h[k] = vs
	}
	guard.SandboxHeaders(h)
	if shaped.Body != nil || shaped.Status != http.StatusNoContent {
		h.Set("Content-Type", shaped.ContentType)
	}
	w.WriteHeader(shaped.Status)
	_, _ = w.Write(shaped.Body)
}
