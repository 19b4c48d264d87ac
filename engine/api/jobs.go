package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/api/answers"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/flows"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/jobs"
	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/store"
)

// logTail is how much of a job's log Windmill's job JSON carries.
const logTail = 20000

func (s *Server) registerJobs(mux routes) {
	mux.anyToken("POST /api/w/{ws}/jobs_u/queue/cancel/{id}", s.cancelJob)
	mux.full("GET /api/w/{ws}/jobs/completed/list", "jobs:read", s.listJobs([]string{store.StatusSuccess, store.StatusFailure, store.StatusCanceled}))
	mux.full("GET /api/w/{ws}/jobs/queue/list", "jobs:read", s.listJobs([]string{store.StatusQueued, store.StatusRunning}))
	mux.full("GET /api/w/{ws}/jobs/list", "jobs:read", s.listJobs(nil))
	mux.full("GET /api/w/{ws}/jobs/completed/count", "jobs:read", s.countJobs([]string{store.StatusSuccess, store.StatusFailure, store.StatusCanceled}))
	mux.full("GET /api/w/{ws}/jobs/queue/count", "jobs:read", s.countJobs([]string{store.StatusQueued, store.StatusRunning}))
}

// formatTime writes a job's time as Windmill does, null when unset.
func formatTime(t time.Time) json.RawMessage {
	if t.IsZero() {
		return null
	}
	return json.RawMessage(t.UTC().Format(`"2006-01-02T15:04:05.000000Z"`))
}

var null = json.RawMessage("null")

func rawOrNull(s string) json.RawMessage {
	if s == "" {
		return null
	}
	return json.RawMessage(s)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// JobJSON renders a job in Windmill's QueuedJob / CompletedJob shape, plus
// millrun's own status, trigger and headers fields.
func JobJSON(j *store.Job, withLogs bool) answers.Job {
	out := answers.Job{
		WorkspaceID: j.Workspace,
		ID:          j.ID,
		CreatedBy:   j.CreatedBy,
		CreatedAt:   formatTime(j.CreatedAt),
		Args:        rawOrNull(j.Args),
		// Lists leave large arguments out (args is null then).
		ArgsTruncated:  j.Args == "",
		Canceled:       j.Status == store.StatusCanceled,
		JobKind:        j.Kind,
		Status:         j.Status,
		Trigger:        j.Trigger,
		Email:          "millrun@localhost",
		PermissionedAs: "u/" + j.CreatedBy,
		// Fields Windmill's jobs always carry, with the values a single
		// machine gives them: clients read them without checking.
		Tag:            jobTag(j),
		VisibleToOwner: true,
		ScriptPath:     j.ScriptPath,
		ScriptHash:     j.ScriptHash,
		Language:       j.Language,
		SchedulePath:   j.SchedulePath,
		ParentJob:      j.ParentJob,
		IsFlowStep:     j.ParentJob != "",
	}
	if j.Headers != "" {
		out.Headers = json.RawMessage(j.Headers)
	}
	if j.FlowStatus != "" {
		out.FlowStatus = json.RawMessage(j.FlowStatus)
	}
	if withLogs {
		logs := tail(j.Logs, logTail)
		out.Logs = &logs
	}
	if j.Finished() {
		out.Type = "CompletedJob"
		out.StartedAt = formatTime(j.StartedAt)
		if j.StartedAt.IsZero() {
			out.StartedAt = formatTime(j.CompletedAt)
		}
		out.CompletedAt = formatTime(j.CompletedAt)
		duration := j.DurationMs
		out.DurationMs = &duration
		success, no := j.Status == store.StatusSuccess, false
		out.Success = &success
		out.Deleted = &no
		skipped := skippedFlow(j)
		out.IsSkipped = &skipped
		out.ResultColumns = null
		if withLogs {
			out.Result = rawOrNull(j.Result)
		}
		out.CanceledBy = j.CanceledBy
		out.CanceledReason = j.CanceledReason
		return out
	}
	out.Type = "QueuedJob"
	// A flow that waits (a sleep, an approval) is queued again, its
	// worker free, but it has started and is still running.
	running := j.Status == store.StatusRunning || (j.Kind == "flow" || j.Kind == flows.KindPreview) && !j.StartedAt.IsZero()
	out.Running = &running
	out.ScriptEntrypointOverride = null
	out.ScheduledFor = formatTime(j.ScheduledFor)
	if !j.StartedAt.IsZero() {
		out.StartedAt = formatTime(j.StartedAt)
	}
	return out
}

// jobTag is the worker tag Windmill would give the job: its language, or
// "flow".
func jobTag(j *store.Job) string {
	if j.Kind == "flow" || j.Kind == "flownode" || j.Kind == "identity" || j.Kind == flows.KindPreview {
		return "flow"
	}
	if j.Language != "" {
		return j.Language
	}
	return "default"
}

// loadJob returns the freshest view of a job: the live one in memory while
// it runs (with logs so far), else the stored one. Scoped tokens may read
// only the jobs they started.
func (s *Server) loadJob(r *http.Request) (*store.Job, error) {
	if ws := r.PathValue("ws"); ws != s.Workspace {
		return nil, apierr.NotFound("workspace %s does not exist", ws)
	}
	id := r.PathValue("id")
	job, ok := s.Queue.Live(id)
	if !ok {
		var err error
		job, err = s.Queue.Get(r.Context(), s.Workspace, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, apierr.NotFound("job %s", id)
		}
		if err != nil {
			return nil, err
		}
	}
	who := reqctx.Identity(r.Context())
	if who == nil || (!who.FullAccess() && who.TokenID != job.TokenID) {
		return nil, apierr.NotFound("job %s", id)
	}
	return job, nil
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	job, err := s.loadJob(r)
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, JobJSON(job, true))
	return nil
}

func (s *Server) getResult(w http.ResponseWriter, r *http.Request) error {
	job, err := s.loadJob(r)
	if err != nil {
		return err
	}
	if !job.Finished() {
		return apierr.NotFound("job %s has not completed yet", job.ID)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(rawOrNull(job.Result))
	return nil
}

func (s *Server) getResultMaybe(w http.ResponseWriter, r *http.Request) error {
	job, err := s.loadJob(r)
	var ae *apierr.Error
	// Windmill's answer for what has not finished: nothing is known of its
	// success, and of an unknown or queued job not even that it started.
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		httpx.JSON(w, http.StatusOK, answers.ResultMaybe{})
		return nil
	}
	if err != nil {
		return err
	}
	if !job.Finished() {
		var out answers.ResultMaybe
		if job.Status == store.StatusRunning {
			started := true
			out.Started = &started
		}
		httpx.JSON(w, http.StatusOK, out)
		return nil
	}
	started, success := true, job.Status == store.StatusSuccess
	httpx.JSON(w, http.StatusOK, answers.ResultMaybe{Started: &started, Success: &success, Completed: true, Result: rawOrNull(job.Result)})
	return nil
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) error {
	job, err := s.loadJob(r)
	var ae *apierr.Error
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		err = apierr.NotFound("queued job id %s does not exist", r.PathValue("id")) // Windmill's words
	}
	if err != nil {
		return err
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 {
		_ = s.decodeBody(r, &body) // the reason is optional; a bad body still cancels
	}
	who := reqctx.Identity(r.Context())
	err = s.Queue.Cancel(r.Context(), s.Workspace, job.ID, who.Label, body.Reason)
	if errors.Is(err, jobs.ErrAlreadyCompleted) {
		writeText(w, http.StatusOK, "queued job id "+job.ID+" is already completed")
		return nil
	}
	if err != nil {
		return err
	}
	writeText(w, http.StatusOK, job.ID)
	return nil
}

// countJobs serves Windmill's count routes ({"database_length": n}): the
// runs the Runs page lists (flow steps aside) in statuses.
func (s *Server) countJobs(statuses []string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		n, err := s.Queue.Count(r.Context(), store.JobFilter{Workspace: s.Workspace, Statuses: statuses})
		if err != nil {
			return err
		}
		httpx.JSON(w, http.StatusOK, answers.JobCount{DatabaseLength: n})
		return nil
	}
}

// listJobs serves Windmill's list routes. Besides page/per_page it takes a
// keyset cursor (the X-Millrun-Next-Cursor header of the previous page), so
// deep pages cost the same as the first.
// statuses is what the route lists when the caller names none.
func (s *Server) listJobs(statuses []string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		f := store.JobFilter{Workspace: s.Workspace, Path: q.Get("script_path_exact"), Trigger: q.Get("trigger"), SchedulePath: q.Get("schedule_path"),
			WithFlowSteps: q.Get("include_flow_steps") == "true", PathPrefix: q.Get("script_path_start"), PathContains: q.Get("script_path_contains")}
		flowStepFilters(q, &f)
		perPage := 30
		if v := q.Get("per_page"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return apierr.BadRequest("per_page must be a positive integer, got %q", v)
			}
			perPage = min(n, 1000)
		}
		f.Limit = perPage
		if v := q.Get("page"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return apierr.BadRequest("page must be a positive integer, got %q", v)
			}
			f.Offset = (n - 1) * perPage
		}
		switch q.Get("success") {
		case "true":
			f.Statuses = []string{store.StatusSuccess}
		case "false":
			f.Statuses = []string{store.StatusFailure, store.StatusCanceled}
		case "":
			f.Statuses = statuses
		default:
			return apierr.BadRequest("success must be true or false")
		}
		if v := q.Get("status"); v != "" {
			f.Statuses = strings.Split(v, ",")
		}
		if v := q.Get("running"); v == "true" {
			f.Statuses = []string{store.StatusRunning}
		}
		if v := q.Get("created_before"); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return apierr.BadRequest("created_before must be an RFC 3339 time, got %q", v)
			}
			f.Before = t
		}
		if v := q.Get("created_after"); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return apierr.BadRequest("created_after must be an RFC 3339 time, got %q", v)
			}
			f.CreatedAfter = t
		}
		if v := q.Get("cursor"); v != "" {
			micros, id, ok := strings.Cut(v, "_")
			n, err := strconv.ParseInt(micros, 10, 64)
			if !ok || err != nil {
				return apierr.BadRequest("cursor %q is not one this server issued", v)
			}
			f.Before, f.BeforeID = time.UnixMicro(n), id
		}
		// A caller who just saw a job finish (get_result_maybe answers from
		// memory) must find it in the list, not still running.
		if err := s.Queue.Settle(r.Context()); err != nil {
			return err
		}
		list, err := s.Queue.List(r.Context(), f)
		if err != nil {
			return err
		}
		out := make([]answers.Job, 0, len(list))
		for _, j := range list {
			out = append(out, JobJSON(j, false))
		}
		if len(list) == f.Limit {
			last := list[len(list)-1]
			w.Header().Set("X-Millrun-Next-Cursor", strconv.FormatInt(last.CreatedAt.UnixMicro(), 10)+"_"+last.ID)
		}
		httpx.JSON(w, http.StatusOK, out)
		return nil
	}
}

// RegisterJobReads mounts the job-read routes webhook callers poll (the
// tunnel serves them too).
func (s *Server) RegisterJobReads(m Mux) {
	mux := s.group(m)
	mux.HandleFunc("GET /api/w/{ws}/jobs_u/get/{id}", s.getJob)
	mux.HandleFunc("GET /api/w/{ws}/jobs_u/completed/get_result/{id}", s.getResult)
	mux.HandleFunc("GET /api/w/{ws}/jobs_u/completed/get_result_maybe/{id}", s.getResultMaybe)
	mux.HandleFunc("GET /api/w/{ws}/jobs_u/completed/get/{id}", s.getCompletedJob)
	mux.HandleFunc("GET /api/w/{ws}/jobs_u/getupdate/{id}", s.getJobUpdate)
	mux.HandleFunc("GET /api/w/{ws}/jobs_u/get_root_job_id/{id}", s.getRootJobID)
	mux.HandleFunc("GET /api/w/{ws}/jobs_u/get_logs/{id}", s.getLogs) // flowjobs.go
}

// getRootJobID is Windmill's root of a job, as a JSON string: the
// top-level flow of a flow step (through the loops and branches it sits
// in), else the job itself. (A job a script starts through the API is a
// root job of its own.)
func (s *Server) getRootJobID(w http.ResponseWriter, r *http.Request) error {
	job, err := s.loadJob(r)
	if err != nil {
		return err
	}
	root := job
	for range 20 {
		if root.ParentJob == "" {
			break
		}
		parent, err := s.Queue.Get(r.Context(), root.Workspace, root.ParentJob)
		if err != nil {
			break
		}
		root = parent
	}
	httpx.JSON(w, http.StatusOK, root.ID)
	return nil
}

func (s *Server) getCompletedJob(w http.ResponseWriter, r *http.Request) error {
	job, err := s.loadJob(r)
	if err != nil {
		return err
	}
	if !job.Finished() {
		return apierr.NotFound("completed job %s not found: it has not completed yet", job.ID)
	}
	httpx.JSON(w, http.StatusOK, JobJSON(job, true))
	return nil
}

// getJobUpdate is what `wmill script run` polls: the state, and the logs
// written since log_offset (a byte offset, as Windmill's), so output
// streams without sending it all each time.
func (s *Server) getJobUpdate(w http.ResponseWriter, r *http.Request) error {
	job, err := s.loadJob(r)
	if err != nil {
		return err
	}
	offset, _ := strconv.Atoi(r.URL.Query().Get("log_offset"))
	if offset < 0 || offset > len(job.Logs) {
		offset = 0 // the logs were cut since: send them again from the start
	}
	out := answers.JobUpdate{
		Running:   job.Status == store.StatusRunning,
		Completed: job.Finished(),
		NewLogs:   job.Logs[offset:],
		LogOffset: len(job.Logs),
	}
	if job.FlowStatus != "" {
		out.FlowStatus = json.RawMessage(job.FlowStatus)
	}
	httpx.JSON(w, http.StatusOK, out)
	return nil
}
