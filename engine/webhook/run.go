package webhook

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/scripts"
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
	v, err := s.resolvePath(r, req.Flow, req.Path)
	if err == nil {
		err = v.notRunnable
	}
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
		ID: uuid.NewString(), Workspace: s.Workspace, Kind: v.kind, ScriptPath: v.path, ScriptHash: v.hash, Language: v.lang,
		Args: string(args), TimeoutS: v.timeoutS, ConcurrencyLimit: v.limit, Priority: v.priority,
		Trigger: req.Trigger, CreatedBy: req.Identity.Label, TokenID: req.Identity.TokenID,
	}
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

func (s *Service) resolvePath(r *http.Request, flow bool, path string) (*target, error) {
	if flow {
		f, err := s.Flows.Latest(r.Context(), s.Workspace, path)
		if errors.Is(err, store.ErrNotFound) {
			return nil, apierr.NotFound("flow not found at path %s", path)
		}
		if err != nil {
			return nil, err
		}
		timeout, priority := FlowOptions(f.Extra)
		t := &target{kind: "flow", scopeKind: auth.KindFlow, path: f.Path, hash: f.Hash, timeoutS: timeout, priority: priority,
			limit: f.ConcurrencyLimit()}
		if t.notRunnable = s.Flows.Runnable(r.Context(), f); t.notRunnable != nil && !isInvalid(t.notRunnable) {
			return nil, t.notRunnable
		}
		return t, nil
	}
	v, err := s.Catalog.Latest(r.Context(), s.Workspace, path)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apierr.NotFound("script not found at name %s", path)
	}
	if err != nil {
		return nil, err
	}
	return scriptTarget(v), nil
}

func scriptTarget(v *scripts.Version) *target {
	return &target{kind: "script", scopeKind: auth.KindScript, path: v.Path, hash: v.Hash, lang: v.Language,
		timeoutS: v.TimeoutS, limit: v.ConcurrencyLimit, priority: v.Options.Priority, notRunnable: v.Runnable()}
}

// FlowOptions are a flow's Windmill timeout (seconds: the flow job is
// stopped past it, as a script's is) and priority, kept with the flow.
func FlowOptions(extra string) (timeout, priority int) {
	var f struct {
		Timeout  int `json:"timeout"`
		Priority int `json:"priority"`
	}
	if extra != "" && json.Unmarshal([]byte(extra), &f) == nil {
		return max(f.Timeout, 0), f.Priority
	}
	return 0, 0
}

// isInvalid tells a flow that cannot run (the caller's to fix) from a
// failure to find out (the server's).
func isInvalid(err error) bool {
	var inv *errs.Invalid
	return errors.As(err, &inv)
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
