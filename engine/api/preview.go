package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/millrun/millrun/engine/api/answers"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/webhook"
)

// The job routes Windmill's CLI calls besides the run routes: previews of
// code and flows not saved (`wmill script preview`, `wmill flow preview`,
// the flow editor's Test), dependency jobs for code sent
// with the request (`wmill generate-metadata`), a job's logs (`wmill job
// logs`) and a version's deployment status.
func (s *Server) registerCodeJobs(mux routes) {
	mux.full("POST /api/w/{ws}/jobs/run/preview", "jobs:run", s.runPreview)
	mux.full("POST /api/w/{ws}/jobs/run/preview_flow", "jobs:run", s.runFlowPreview)
	mux.full("POST /api/millrun/flows/inferred_schema", "flows:read", s.inferredSchema)
	mux.full("POST /api/w/{ws}/jobs/run/dependencies_async", "jobs:run", s.runDependencies(false))
	mux.full("POST /api/w/{ws}/jobs/run/dependencies", "jobs:run", s.runDependencies(true))
	mux.full("POST /api/w/{ws}/jobs/run/flow_dependencies_async", "jobs:run", s.runFlowDependencies)
	mux.full("GET /api/w/{ws}/scripts/deployment_status/h/{hash}", "scripts:read", s.deploymentStatus)
	mux.full("POST /api/w/{ws}/scripts/raw_temp/diff", "scripts:read", s.rawTempDiff)
	mux.full("POST /api/w/{ws}/scripts/raw_temp/store", "scripts:write", s.rawTempStore)
}

// keptRawTemp are local versions of scripts wmill uploads so that a
// preview or a lock of code that imports them reads them rather than the
// saved ones; by the SHA-256 of their code, kept a day.
const keptRawTemp = "raw_temp"

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// rawTempDiff answers which of the local scripts wmill names (path ->
// SHA-256 of its code) differ from the saved ones, and which workspace
// dependency files differ from the kept ones: those it then uploads.
func (s *Server) rawTempDiff(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Scripts       map[string]string `json:"scripts"`
		WorkspaceDeps []struct {
			Path     string  `json:"path"`
			Language string  `json:"language"`
			Name     *string `json:"name"`
			Hash     string  `json:"hash"`
		} `json:"workspace_deps"`
	}
	if err := s.decodeBody(r, &body); err != nil {
		return err
	}
	out := []string{}
	for _, p := range sortedKeys(body.Scripts) {
		v, err := s.Catalog.Latest(r.Context(), s.Workspace, p)
		if err != nil || sha256Hex(v.Content) != body.Scripts[p] {
			out = append(out, p)
		}
	}
	for _, d := range body.WorkspaceDeps {
		name := ""
		if d.Name != nil {
			name = *d.Name
		}
		have, err := s.Kept.GetDeps(r.Context(), s.Workspace, d.Language, name)
		if err != nil || sha256Hex(have.Content) != d.Hash {
			out = append(out, d.Path)
		}
	}
	httpx.JSON(w, http.StatusOK, out)
	return nil
}

// rawTempStore keeps one local script's code (a JSON string) and answers
// its hash, which wmill then names in temp_script_refs.
func (s *Server) rawTempStore(w http.ResponseWriter, r *http.Request) error {
	var content string
	if err := s.decodeBody(r, &content); err != nil {
		return err
	}
	if len(content) > scripts.MaxContent {
		return apierr.BadRequest("the script is larger than %d bytes", scripts.MaxContent)
	}
	hash := sha256Hex(content)
	_ = s.Kept.Prune(r.Context(), s.Workspace, keptRawTemp, 24*time.Hour)
	if err := s.putDoc(r, keptRawTemp, hash, content); err != nil {
		return err
	}
	writeText(w, http.StatusOK, hash)
	return nil
}

// tempModules reads the local versions wmill names (path -> hash of code
// it uploaded); one not kept is left to the saved version.
func (s *Server) tempModules(r *http.Request, refs map[string]string) map[string]string {
	out := map[string]string{}
	for p, hash := range refs {
		it, err := s.Kept.Get(r.Context(), s.Workspace, keptRawTemp, hash)
		if err != nil {
			continue
		}
		var content string
		if json.Unmarshal([]byte(it.Value), &content) == nil {
			out[p] = content
		}
	}
	return out
}

// codePath is the path a code job is named by: the path the caller sent
// when it looks like one (wmill sends where the file is, f/main for a
// file at f/main.ts), else none.
func codePath(p string) string {
	if len(p) > 255 || !codePathRE.MatchString(p) || strings.Contains(p, "..") {
		return ""
	}
	return p
}

var codePathRE = regexp.MustCompile(`^[uf]/[A-Za-z0-9_\-.]+(/[A-Za-z0-9_\-.]+)*$`)

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
	if err := s.Queue.EnqueueCode(r.Context(), job, code); err != nil {
		return webhook.EnqueueError(err, job)
	}
	return nil
}

func newCodeJob(r *http.Request, workspace, kind, path, lang string, args json.RawMessage) *store.Job {
	id := reqctx.Identity(r.Context())
	if len(args) == 0 || string(args) == "null" {
		args = json.RawMessage("{}")
	}
	return &store.Job{ID: uuid.NewString(), Workspace: workspace, Kind: kind, ScriptPath: path, Language: lang,
		Args: string(args), Trigger: "api", CreatedBy: id.Label, TokenID: id.TokenID}
}

// runPreview runs code that is not saved, with its arguments: Windmill's
// preview (the editor's Test button, `wmill script preview`). The job is
// a preview job of the path it names.
func (s *Server) runPreview(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Content  string          `json:"content"`
		Path     string          `json:"path"`
		Language string          `json:"language"`
		Args     json.RawMessage `json:"args"`
		Lock     string          `json:"lock"`
		Kind     string          `json:"kind"`
		// The local versions of scripts it imports (path -> hash of
		// code stored through raw_temp/store).
		TempScriptRefs map[string]string `json:"temp_script_refs"`
	}
	if err := s.decodeBody(r, &body); err != nil {
		return err
	}
	if body.Kind != "" && body.Kind != "code" {
		// A codebase bundle needs the bundle upload route millrun has not.
		return apierr.BadRequest("millrun previews code, not %s previews: preview the script's own file", body.Kind)
	}
	lang, err := codeLanguage(body.Language)
	if err != nil {
		return err
	}
	if len(body.Args) > 0 && string(body.Args) != "null" && body.Args[0] != '{' {
		return apierr.BadRequest("args must be a JSON object")
	}
	job := newCodeJob(r, s.Workspace, "preview", codePath(body.Path), lang, body.Args)
	code := store.JobCode{Language: lang, Content: body.Content, Lock: body.Lock, Modules: s.tempModules(r, body.TempScriptRefs)}
	if err := s.queueCode(r, job, code); err != nil {
		return err
	}
	writeText(w, http.StatusCreated, job.ID)
	return nil
}

// runDependencies resolves the lock of code sent with the request, as
// Windmill's dependency job does for `wmill generate-metadata`: the async
// route answers the job's id (its result is {"lock": ...}), the older
// synchronous one waits and answers {"lock": ...}.
func (s *Server) runDependencies(wait bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			RawScripts []struct {
				RawCode    string `json:"raw_code"`
				Language   string `json:"language"`
				ScriptPath string `json:"script_path"`
			} `json:"raw_scripts"`
			Entrypoint     string            `json:"entrypoint"`
			TempScriptRefs map[string]string `json:"temp_script_refs"`
		}
		if err := s.decodeBody(r, &body); err != nil {
			return err
		}
		if len(body.RawScripts) == 0 {
			return apierr.BadRequest(`send {"raw_scripts": [{"raw_code", "language", "script_path"}], "entrypoint": "<script_path>"}`)
		}
		entry := body.RawScripts[0]
		for _, rs := range body.RawScripts {
			if rs.ScriptPath == body.Entrypoint {
				entry = rs
			}
		}
		lang, err := codeLanguage(entry.Language)
		if err != nil {
			return err
		}
		job := newCodeJob(r, s.Workspace, "dependencies", codePath(entry.ScriptPath), lang, nil)
		modules := s.tempModules(r, body.TempScriptRefs)
		for _, rs := range body.RawScripts {
			if rs.ScriptPath != entry.ScriptPath && codePath(rs.ScriptPath) != "" {
				modules[rs.ScriptPath] = rs.RawCode // sent together: the local versions
			}
		}
		var ch chan *store.Job
		if wait {
			ch = s.Queue.Subscribe(job.ID)
			defer s.Queue.Unsubscribe(job.ID, ch)
		}
		if err := s.queueCode(r, job, store.JobCode{Language: lang, Content: entry.RawCode, Modules: modules}); err != nil {
			return err
		}
		if !wait {
			writeText(w, http.StatusCreated, job.ID)
			return nil
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
				return apierr.Internal("Error locking file: %s", res.Error.Message)
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, done.Result)
		case <-r.Context().Done():
		case <-time.After(10 * time.Minute):
			return apierr.Internal("timeout after 600s: dependency job %s goes on; read its result at jobs_u/completed/get_result/%s", job.ID, job.ID)
		}
		return nil
	}
}

// FlowCode is the language a dependency job's code is given when the code
// is a flow's value (the executor locks each inline script in it).
const FlowCode = store.FlowCode

// runFlowDependencies locks each inline script of a flow value sent with
// the request (`wmill generate-metadata` for a flow folder): the job's
// result is {"updated_flow_value": ...}, the value with each step's lock.
func (s *Server) runFlowDependencies(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		FlowValue      json.RawMessage   `json:"flow_value"`
		Path           string            `json:"path"`
		TempScriptRefs map[string]string `json:"temp_script_refs"`
	}
	if err := s.decodeBody(r, &body); err != nil {
		return err
	}
	if len(body.FlowValue) == 0 || body.FlowValue[0] != '{' {
		return apierr.BadRequest(`send {"flow_value": {"modules": [...]}, "path": "<flow path>"}`)
	}
	job := newCodeJob(r, s.Workspace, "dependencies", codePath(body.Path), FlowCode, nil)
	if err := s.queueCode(r, job, store.JobCode{Language: FlowCode, Content: string(body.FlowValue), Modules: s.tempModules(r, body.TempScriptRefs)}); err != nil {
		return err
	}
	writeText(w, http.StatusCreated, job.ID)
	return nil
}

// deploymentStatus is a version's lock as its dependency job left it
// (Windmill's deployment status): the lock, or why resolving it failed.
func (s *Server) deploymentStatus(w http.ResponseWriter, r *http.Request) error {
	hash := r.PathValue("hash")
	v, err := s.Catalog.ByHash(r.Context(), s.Workspace, hash)
	if errors.Is(err, store.ErrNotFound) {
		err = apierr.NotFound("script with hash %s", hash)
	}
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, answers.DeploymentStatus{Lock: stringOrNull(v.Lock), LockErrorLogs: stringOrNull(v.LockError)})
	return nil
}
