package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/millrun/millrun/engine/api/answers"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

func (s *Server) registerScripts(mux routes) {
	mux.full("POST /api/w/{ws}/scripts/create", "scripts:write", s.createScript)
	mux.full("GET /api/w/{ws}/scripts/get/p/{path...}", "scripts:read", s.getScript)
	mux.full("GET /api/w/{ws}/scripts/get/h/{hash}", "scripts:read", s.getScriptByHash)
	mux.full("GET /api/w/{ws}/scripts/list", "scripts:read", s.listScripts)
	mux.full("GET /api/w/{ws}/scripts/history/p/{path...}", "scripts:read", s.scriptHistory)
	mux.full("POST /api/millrun/scripts/check", "scripts:write", s.checkScript)
	mux.full("POST /api/w/{ws}/scripts/delete/p/{path...}", "scripts:write", s.deleteVersioned("script", "DeleteScript", s.Catalog.Delete))
	mux.full("POST /api/w/{ws}/scripts/delete/h/{hash}", "scripts:write", s.deleteScriptVersion)
	mux.full("POST /api/w/{ws}/scripts/archive/p/{path...}", "scripts:write", s.archiveVersioned("script", s.Catalog.Archive))
	mux.full("POST /api/w/{ws}/scripts/archive/h/{hash}", "scripts:write", s.archiveScriptByHash)
}

// archiveVersioned answers Windmill's archive of a script or flow by path.
// A body {"archived": false} (Windmill's flow form) brings it back.
func (s *Server) archiveVersioned(kind string, archive func(ctx context.Context, workspace, path string, archived bool) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		body := struct {
			Archived *bool `json:"archived"`
		}{}
		if err := s.decodeOptionalBody(r, &body); err != nil {
			return err
		}
		archived := body.Archived == nil || *body.Archived
		path := r.PathValue("path")
		if err := archive(r.Context(), s.Workspace, path, archived); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				err = apierr.NotFound("%s not found at path %s", kind, path)
			}
			return err
		}
		action := kind + ".archive"
		if !archived {
			action = kind + ".unarchive"
		}
		s.changed(r, action, path, "", nil)
		writeText(w, http.StatusOK, path)
		return nil
	}
}

// archiveScriptByHash archives the path when hash is its latest version.
// An older version needs nothing: Windmill archives every version a newer
// one replaces, and those still run by hash, as they do here.
func (s *Server) archiveScriptByHash(w http.ResponseWriter, r *http.Request) error {
	hash := r.PathValue("hash")
	v, err := s.Catalog.ByHash(r.Context(), s.Workspace, hash)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = apierr.NotFound("script not found at hash %s", hash)
		}
		return err
	}
	if s.Catalog.IsLatest(r.Context(), s.Workspace, v.Path, hash) {
		if err := s.Catalog.Archive(r.Context(), s.Workspace, v.Path, true); err != nil {
			return err
		}
		s.changed(r, "script.archive", v.Path, hash, nil)
	}
	return writeScript(w, v.ScriptVersion, func(a *answers.Script) { a.Archived = true }, "archived")
}

// deleteScriptVersion is Windmill's delete by hash: that version goes, and
// the path falls back to its newest remaining version.
func (s *Server) deleteScriptVersion(w http.ResponseWriter, r *http.Request) error {
	hash := r.PathValue("hash")
	v, err := s.Catalog.ByHash(r.Context(), s.Workspace, hash)
	if err == nil {
		_, err = s.Catalog.DeleteVersion(r.Context(), s.Workspace, hash)
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = apierr.NotFound("script not found at hash %s", hash)
		}
		return err
	}
	s.changed(r, "script.delete_version", v.Path, hash, nil)
	return writeScript(w, v.ScriptVersion, func(a *answers.Script) {
		a.Archived, a.Deleted, a.Content = true, true, new("")
	}, "archived", "deleted", "content")
}

// deleteVersioned answers Windmill's delete of a script or flow by path:
// every version goes. Routes that run it stay and answer 404 until they
// are deleted or pointed elsewhere; past runs stay in the history.
func (s *Server) deleteVersioned(kind, event string, del func(ctx context.Context, workspace, path string) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		path := r.PathValue("path")
		if err := del(r.Context(), s.Workspace, path); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				err = apierr.NotFound("%s not found at path %s", kind, path)
			}
			return err
		}
		s.changed(r, kind+".delete", path, "", map[string]any{"type": event, "path": path})
		writeText(w, http.StatusOK, path)
		return nil
	}
}

// checkScript tells the editor where a script stops parsing, before it is
// saved. Saving never refuses a script that does not parse: Windmill's
// create does not, and tools that push scripts rely on that.
func (s *Server) checkScript(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Language string `json:"language"`
		Content  string `json:"content"`
	}
	if err := s.decodeBody(r, &req); err != nil {
		return err
	}
	lang, err := scripts.NormalizeLanguage(req.Language)
	if err != nil {
		return apierr.BadRequest("%s", err)
	}
	out := answers.ScriptCheck{OK: true}
	if s.CheckSyntax != nil {
		se, err := s.CheckSyntax(r.Context(), lang, req.Content)
		if err != nil {
			return err
		}
		if se != nil {
			out = answers.ScriptCheck{OK: false, Line: &se.Line, Message: &se.Message}
		}
	}
	httpx.JSON(w, http.StatusOK, out)
	return nil
}

// scriptAnswer is Windmill's Script shape (the fields millrun has),
// before the version's kept fields are put over it (scriptJSON).
func scriptAnswer(v store.ScriptVersion) answers.Script {
	return answers.Script{
		WorkspaceID:     v.Workspace,
		Hash:            v.Hash,
		Path:            v.Path,
		Summary:         v.Summary,
		Description:     v.Description,
		Content:         &v.Content,
		Language:        v.Language,
		Schema:          json.RawMessage(v.Schema),
		CreatedAt:       v.CreatedAt.Format(time.RFC3339Nano),
		CreatedBy:       "millrun",
		Kind:            "script",
		Timeout:         intOrNull(v.TimeoutS),
		ConcurrentLimit: intOrNull(v.ConcurrencyLimit),
		DedicatedWorker: trueOrNull(v.DedicatedWorker),
		// Fields Windmill's Script always has; the CLI compares some of
		// them to decide whether a push changes anything.
		ParentHashes:  []string{},
		ExtraPerms:    answers.ExtraPerms{},
		Lock:          stringOrNull(v.Lock),
		LockErrorLogs: stringOrNull(v.LockError),
		NoMainFunc:    v.NoMainFunc,
	}
}

// scriptJSON is the Script answer with the version's kept fields over
// it, except the fields this route answers itself: set sets them, own
// names them.
func scriptJSON(v store.ScriptVersion, set func(*answers.Script), own ...string) (map[string]json.RawMessage, error) {
	a := scriptAnswer(v)
	if set != nil {
		set(&a)
	}
	return keptOver(a, v.Extra, own...)
}

// writeScript answers with scriptJSON.
func writeScript(w http.ResponseWriter, v store.ScriptVersion, set func(*answers.Script), own ...string) error {
	out, err := scriptJSON(v, set, own...)
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, out)
	return nil
}

// trueOrNull answers an unset flag as Windmill does (null, not false):
// wmill compares it with ==, and its local files leave it out.
func trueOrNull(b bool) *bool {
	if b {
		return &b
	}
	return nil
}

func intOrNull(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

func (s *Server) createScript(w http.ResponseWriter, r *http.Request) error {
	var req scripts.CreateRequest
	if err := s.decodeBody(r, &req); err != nil {
		return err
	}
	isNew := false
	if _, err := s.Catalog.Latest(r.Context(), s.Workspace, req.Path); errors.Is(err, store.ErrNotFound) {
		isNew = true
	}
	hash, created, err := s.Catalog.Save(r.Context(), s.Workspace, req)
	if err != nil {
		return err
	}
	if created {
		kind := "UpdateScript"
		if isNew {
			kind = "CreateScript"
		}
		s.changed(r, "script.save", req.Path, hash, map[string]any{"type": kind, "path": req.Path, "hash": hash})
		if s.Saved != nil {
			s.Saved(r.Context(), hash)
		}
	}
	writeText(w, http.StatusCreated, hash)
	return nil
}

func (s *Server) getScript(w http.ResponseWriter, r *http.Request) error {
	path := r.PathValue("path")
	v, err := s.Catalog.Latest(r.Context(), s.Workspace, path)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("script not found at name %s", path)
	}
	if err != nil {
		return err
	}
	return writeScript(w, v.ScriptVersion, func(a *answers.Script) { a.ExtraPerms = s.acl(r, "script", path) }, "extra_perms")
}

func (s *Server) getScriptByHash(w http.ResponseWriter, r *http.Request) error {
	hash := r.PathValue("hash")
	v, err := s.Catalog.ByHash(r.Context(), s.Workspace, hash)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("script with hash %s", hash)
	}
	if err != nil {
		return err
	}
	return writeScript(w, v.ScriptVersion, nil)
}

func (s *Server) listScripts(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Catalog.List(r.Context(), s.Workspace, r.URL.Query().Get("show_archived") == "true")
	if err != nil {
		return err
	}
	out := make([]map[string]json.RawMessage, 0, len(list))
	for _, sum := range list {
		// Lists stay small: get/p has the content.
		m, err := scriptJSON(sum.Latest, func(a *answers.Script) {
			a.Content, a.RunCount, a.LastStatus, a.Archived = nil, new(sum.RunCount), new(sum.LastStatus), sum.Archived
		}, "content", "run_count", "last_status", "archived")
		if err != nil {
			return err
		}
		out = append(out, m)
	}
	httpx.JSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) scriptHistory(w http.ResponseWriter, r *http.Request) error {
	path := r.PathValue("path")
	vs, err := s.Catalog.Versions(r.Context(), s.Workspace, path)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("script not found at name %s", path)
	}
	if err != nil {
		return err
	}
	out := make([]answers.ScriptVersion, 0, len(vs))
	for _, v := range vs {
		out = append(out, answers.ScriptVersion{ScriptHash: v.Hash, CreatedAt: v.CreatedAt.Format(time.RFC3339Nano), Summary: v.Summary})
	}
	httpx.JSON(w, http.StatusOK, out)
	return nil
}

// stringOrNull answers an unset text field as Windmill does: null.
func stringOrNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// nullIfEmpty answers an unset text field as Windmill does: null.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
