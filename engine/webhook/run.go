package webhook

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/runnable"
	"github.com/millrun/millrun/engine/store"
)

// RunRequest is a run that another entry point (an HTTP route) has already
// authenticated and turned into arguments.
type RunRequest struct {
	Flow     bool
	Path     string
	Args     Args
	Sync     bool
	Identity *auth.Identity
	Trigger  string            // "route", ...
	Headers  map[string]string // recorded with the job
}

// Run starts the latest version of a script or flow and answers like the
// run routes do: 201 with the job id, or the shaped result when Sync.
func (s *Service) Run(w http.ResponseWriter, r *http.Request, req RunRequest) {
	v, err := s.resolver().Runnable(r.Context(), s.Workspace, runnable.KindOf(req.Flow), req.Path)
	if err != nil {
		s.fail(w, err)
		return
	}
	args, err := json.Marshal(req.Args)
	if err != nil {
		s.fail(w, apierr.BadRequest("arguments cannot be encoded: %s", err))
		return
	}
	job := &store.Job{
		ID: uuid.NewString(), Workspace: s.Workspace, Args: string(args),
		Trigger: req.Trigger, CreatedBy: req.Identity.Label, TokenID: req.Identity.TokenID,
	}
	v.Fill(job)
	hdrs := req.Headers
	if hdrs == nil {
		hdrs = map[string]string{}
	}
	recordHeaders(r, job, hdrs)
	if req.Sync {
		s.runSync(w, r, job)
		return
	}
	s.runAsync(w, r, job)
}

// runAsync queues job and answers 201 with its id, as Windmill does.
func (s *Service) runAsync(w http.ResponseWriter, r *http.Request, job *store.Job) {
	if err := s.Queue.Enqueue(r.Context(), job); err != nil {
		s.fail(w, EnqueueError(err, job))
		return
	}
	w.Header().Set("X-Millrun-Job-Id", job.ID)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, job.ID)
}

func (s *Service) resolver() runnable.Resolver {
	return runnable.Resolver{Scripts: s.Catalog, Flows: s.Flows}
}

// RecordedHeaders picks the request headers kept with a job.
func RecordedHeaders(h http.Header, include []string) map[string]string {
	out := map[string]string{}
	for _, name := range append(recordedHeaders, include...) {
		if val := h.Get(name); val != "" && !auth.SensitiveHeader(name) {
			out[strings.ToLower(name)] = val
		}
	}
	return out
}

// recordHeaders stores hdrs with the job, adding where a tunnel request
// came from.
func recordHeaders(r *http.Request, job *store.Job, hdrs map[string]string) {
	if ip, ok := reqctx.TunnelCaller(r.Context()); ok {
		hdrs["via"] = "tunnel"
		if ip != "" {
			hdrs["caller_ip"] = ip
		}
	}
	if len(hdrs) > 0 {
		b, _ := json.Marshal(hdrs)
		job.Headers = string(b)
	}
}
