package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/millrun/millrun/engine/api/answers"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/flows"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/store"
)

func (s *Server) registerFlows(mux routes) {
	mux.full("POST /api/w/{ws}/flows/create", "flows:write", s.createFlow)
	mux.full("POST /api/w/{ws}/flows/update/{path...}", "flows:write", s.createFlow)
	mux.full("POST /api/w/{ws}/flows/archive/{path...}", "flows:write", s.archiveVersioned("flow", s.Flows.Archive))
	mux.full("GET /api/w/{ws}/flows/get/{path...}", "flows:read", s.getFlow)
	mux.full("DELETE /api/w/{ws}/flows/delete/{path...}", "flows:write", s.deleteVersioned("flow", "DeleteFlow", s.Flows.Delete))
	mux.full("GET /api/w/{ws}/flows/list", "flows:read", s.listFlows)
}

// flowJSON is Windmill's Flow shape (the fields millrun has) with the
// version's kept fields over it, except the fields this route answers
// itself: set sets them, own names them.
func flowJSON(v store.FlowVersion, set func(*answers.Flow), own ...string) (map[string]json.RawMessage, error) {
	a := answers.Flow{
		WorkspaceID: v.Workspace,
		Path:        v.Path,
		Hash:        v.Hash,
		Summary:     v.Summary,
		Description: v.Description,
		Schema:      json.RawMessage(v.Schema),
		EditedAt:    v.CreatedAt.Format(time.RFC3339Nano),
		EditedBy:    "millrun",
		ExtraPerms:  answers.ExtraPerms{},
	}
	if set != nil {
		set(&a)
	}
	return keptOver(a, v.Extra, own...)
}

// notFlowExtra are the fields of Windmill's NewFlow that the columns hold
// or that say how to save it, and the server's own a client may post back.
var notFlowExtra = map[string]bool{
	"path": true, "summary": true, "description": true, "value": true, "schema": true,
	"deployment_message": true, "skip_draft_deletion": true, "preserve_on_behalf_of": true, "on_behalf_of": true,
	"draft_only": true, "workspace_id": true, "edited_by": true, "edited_at": true, "archived": true,
	"extra_perms": true, "starred": true, "hash": true, "version_id": true,
}

// flowExtra is the JSON object of a flow request's other fields (tag,
// timeout, ws_error_handler_muted, ...), kept as sent; "" when none.
func flowExtra(raw json.RawMessage) (string, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return "", apierr.BadRequest("the body is not a JSON object: %s", err)
	}
	for k, v := range all {
		if notFlowExtra[k] || string(v) == "null" {
			delete(all, k)
		}
	}
	if len(all) == 0 {
		return "", nil
	}
	b, err := json.Marshal(all)
	return string(b), err
}

func (s *Server) createFlow(w http.ResponseWriter, r *http.Request) error {
	var raw json.RawMessage
	if err := s.decodeBody(r, &raw); err != nil {
		return err
	}
	var req flows.CreateRequest
	if err := decodeBytes(raw, &req, bodyRules{}); err != nil {
		return err
	}
	extra, err := flowExtra(raw)
	if err != nil {
		return err
	}
	if old := r.PathValue("path"); old != "" {
		// flows/update: the path in the URL is the flow's.
		if ok, err := s.Flows.Exists(r.Context(), s.Workspace, old); err == nil && !ok {
			return apierr.NotFound("flow not found at path %s", old)
		}
		if err := keepPath("flow", old, &req.Path); err != nil {
			return err
		}
	}
	isNew := false
	if _, err := s.Flows.Latest(r.Context(), s.Workspace, req.Path); errors.Is(err, store.ErrNotFound) {
		isNew = true
	}
	hash, created, err := s.Flows.Save(r.Context(), s.Workspace, req)
	if err == nil {
		err = s.Flows.SetExtra(r.Context(), s.Workspace, hash, extra)
	}
	if err != nil {
		return err
	}
	if created {
		ev := map[string]any{"type": "CreateFlow", "path": req.Path}
		if !isNew {
			ev = map[string]any{"type": "UpdateFlow", "old_path": req.Path, "new_path": req.Path}
		}
		s.changed(r, "flow.save", req.Path, hash, ev)
	}
	// Windmill answers the flow's path.
	writeText(w, http.StatusCreated, req.Path)
	return nil
}

func (s *Server) getFlow(w http.ResponseWriter, r *http.Request) error {
	path := r.PathValue("path")
	f, err := s.Flows.Latest(r.Context(), s.Workspace, path)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("flow not found at path %s", path)
	}
	if err != nil {
		return err
	}
	out, err := flowJSON(f.FlowVersion, func(a *answers.Flow) {
		a.Value, a.ExtraPerms = json.RawMessage(f.Value), s.acl(r, "flow", path)
	}, "extra_perms")
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listFlows(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Flows.List(r.Context(), s.Workspace, r.URL.Query().Get("show_archived") == "true")
	if err != nil {
		return err
	}
	out := make([]map[string]json.RawMessage, 0, len(list))
	for _, v := range list {
		m, err := flowJSON(v, func(a *answers.Flow) { a.Archived = v.Archived }, "archived")
		if err != nil {
			return err
		}
		out = append(out, m)
	}
	httpx.JSON(w, http.StatusOK, out)
	return nil
}
