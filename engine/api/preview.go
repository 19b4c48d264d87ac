package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/webhook"
)

// The job routes Windmill's CLI calls besides the run routes: previews of
// code not saved (`wmill script preview`), dependency jobs for code sent
// with the request (`wmill generate-metadata`), a job's logs (`wmill job
// logs`) and a version's deployment status.
func (s *Server) registerCodeJobs(mux Mux) {
	mux.HandleFunc("POST /api/w/{ws}/jobs/run/preview", s.handler("jobs:run", s.runPreview))
	mux.HandleFunc("POST /api/w/{ws}/jobs/run/dependencies_async", s.handler("jobs:run", s.runDependencies(false)))
	mux.HandleFunc("POST /api/w/{ws}/jobs/run/dependencies", s.handler("jobs:run", s.runDependencies(true)))
	mux.HandleFunc("GET /api/w/{ws}/scripts/deployment_status/h/{hash}", s.handler("scripts:read", s.deploymentStatus))
}

// codeLanguage is the language a code job runs: one millrun runs, or a
// 400 saying why not.
func codeLanguage(lang string) (string, error) {
	if scripts.KeptLanguageExt(lang) != "" {
		return "", scripts.CannotRun(lang)
	}
	l, err := scripts.NormalizeLanguage(lang)
	if err != nil {
		return "", apierr.BadRequest("%s", err)
	}
	return l, nil
}

// queueCode records a code job's code, then queues it; 201 with its id,
// as Windmill's run routes answer.
func (s *Server) queueCode(r *http.Request, job *store.Job, code store.JobCode) error {
	if err := s.DB.PutJobCode(r.Context(), job.ID, code); err != nil {
		return err
	}
	if err := s.Queue.Enqueue(r.Context(), job); err != nil {
		return webhook.EnqueueError(err, job)
	}
	return nil
}

func newCodeJob(r *http.Request, workspace, kind, path, lang string, args json.RawMessage) *store.Job {
	id := auth.FromContext(r.Context())
	if len(args) == 0 || string(args) == "null" {
		args = json.RawMessage("{}")
	}
	return &store.Job{ID: uuid.NewString(), Workspace: workspace, Kind: kind, ScriptPath: path, Language: lang,
		Args: string(args), Trigger: "api", CreatedBy: id.Label, TokenID: id.TokenID}
}

// runPreview runs code that is not saved, with its arguments: Windmill's
// preview (the editor's Test button, `wmill script preview`). The job is
// a preview job of the path it names.
func (s *Server) runPreview(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Content  string          `json:"content"`
		Path     string          `json:"path"`
		Language string          `json:"language"`
		Args     json.RawMessage `json:"args"`
		Lock     string          `json:"lock"`
		Kind     string          `json:"kind"`
	}
	if err := s.decodeBody(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if body.Kind != "" && body.Kind != "code" {
		// A codebase bundle needs the bundle upload route millrun has not.
		s.fail(w, apierr.BadRequest("millrun previews code, not %s previews: preview the script's own file", body.Kind))
		return
	}
	lang, err := codeLanguage(body.Language)
	if err != nil {
		s.fail(w, err)
		return
	}
	if len(body.Args) > 0 && string(body.Args) != "null" && body.Args[0] != '{' {
		s.fail(w, apierr.BadRequest("args must be a JSON object"))
		return
	}
	if body.Path != "" && scripts.ValidatePath(body.Path) != nil {
		body.Path = "" // Windmill previews by any name; the path only names the job
	}
	job := newCodeJob(r, s.Workspace, "preview", body.Path, lang, body.Args)
	if err := s.queueCode(r, job, store.JobCode{Language: lang, Content: body.Content, Lock: body.Lock}); err != nil {
		s.fail(w, err)
		return
	}
	writeText(w, http.StatusCreated, job.ID)
}

// runDependencies resolves the lock of code sent with the request, as
// Windmill's dependency job does for `wmill generate-metadata`: the async
// route answers the job's id (its result is {"lock": ...}), the older
// synchronous one waits and answers {"lock": ...}.
func (s *Server) runDependencies(wait bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			RawScripts []struct {
				RawCode    string `json:"raw_code"`
				Language   string `json:"language"`
				ScriptPath string `json:"script_path"`
			} `json:"raw_scripts"`
			Entrypoint string `json:"entrypoint"`
		}
		if err := s.decodeBody(r, &body); err != nil {
			s.fail(w, err)
			return
		}
		if len(body.RawScripts) == 0 {
			s.fail(w, apierr.BadRequest(`send {"raw_scripts": [{"raw_code", "language", "script_path"}], "entrypoint": "<script_path>"}`))
			return
		}
		entry := body.RawScripts[0]
		for _, rs := range body.RawScripts {
			if rs.ScriptPath == body.Entrypoint {
				entry = rs
			}
		}
		lang, err := codeLanguage(entry.Language)
		if err != nil {
			s.fail(w, err)
			return
		}
		path := entry.ScriptPath
		if scripts.ValidatePath(path) != nil {
			path = ""
		}
		job := newCodeJob(r, s.Workspace, "dependencies", path, lang, nil)
		var ch chan *store.Job
		if wait {
			ch = s.Queue.Subscribe(job.ID)
			defer s.Queue.Unsubscribe(job.ID, ch)
		}
		if err := s.queueCode(r, job, store.JobCode{Language: lang, Content: entry.RawCode}); err != nil {
			s.fail(w, err)
			return
		}
		if !wait {
			writeText(w, http.StatusCreated, job.ID)
			return
		}
		select {
		case done := <-ch:
			if done.Status != store.StatusSuccess {
				var res struct {
					Error struct {
						Message string `json:"message"`
					} `json:"error"`
				}
				_ = json.Unmarshal([]byte(done.Result), &res)
				s.fail(w, apierr.Internal("Error locking file: %s", res.Error.Message))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, done.Result)
		case <-r.Context().Done():
		case <-time.After(10 * time.Minute):
			s.fail(w, apierr.Internal("timeout after 600s: dependency job %s goes on; read its result at jobs_u/completed/get_result/%s", job.ID, job.ID))
		}
	}
}

// deploymentStatus is a version's lock as its dependency job left it
// (Windmill's deployment status): the lock, or why resolving it failed.
func (s *Server) deploymentStatus(w http.ResponseWriter, r *http.Request) {
	hash := r.PathValue("hash")
	v, err := s.Catalog.ByHash(r.Context(), s.Workspace, hash)
	if errors.Is(err, store.ErrNotFound) {
		err = apierr.NotFound("script with hash %s", hash)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"lock": nullIfEmpty(v.Lock), "lock_error_logs": nullIfEmpty(v.LockError), "job_id": nil})
}

// getLogs is a job's whole log as text (`wmill job logs`).
func (s *Server) getLogs(w http.ResponseWriter, r *http.Request) {
	job, err := s.loadJob(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeText(w, http.StatusOK, job.Logs)
}
