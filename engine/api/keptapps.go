package api

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"time"

	"github.com/millrun/millrun/engine/api/answers"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/kept"
	"github.com/millrun/millrun/engine/store"
)

// Workspace dependencies (dependencies/requirements.in and the like) are
// kept and given back; kept.Items holds their rules.
func (s *Server) registerWorkspaceDependencies(mux routes) {
	view := func(d kept.Dependencies) answers.WorkspaceDependencies {
		return answers.WorkspaceDependencies{WorkspaceID: s.Workspace, Language: d.Language, Name: stringOrNull(d.Name), Content: d.Content,
			CreatedAt: d.UpdatedAt.Format(time.RFC3339Nano)}
	}
	mux.full("POST /api/w/{ws}/workspace_dependencies/create", "workspaces:write", func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Name     string `json:"name"`
			Language string `json:"language"`
			Content  string `json:"content"`
		}
		if err := s.decodeBody(r, &body); err != nil {
			return err
		}
		path, err := s.Kept.SaveDeps(r.Context(), s.Workspace, body.Language, body.Name, body.Content)
		if err != nil {
			return err
		}
		s.changed(r, "workspace_dependencies.update", body.Language+"/"+body.Name, "", nil)
		writeText(w, http.StatusCreated, path)
		return nil
	})
	mux.full("GET /api/w/{ws}/workspace_dependencies/get_latest/{language}", "workspaces:read", func(w http.ResponseWriter, r *http.Request) error {
		d, err := s.Kept.GetDeps(r.Context(), s.Workspace, r.PathValue("language"), r.URL.Query().Get("name"))
		if err != nil {
			return err
		}
		httpx.JSON(w, http.StatusOK, view(d))
		return nil
	})
	mux.full("GET /api/w/{ws}/workspace_dependencies/list", "workspaces:read", func(w http.ResponseWriter, r *http.Request) error {
		list, err := s.Kept.ListDeps(r.Context(), s.Workspace)
		if err != nil {
			return err
		}
		out := []answers.WorkspaceDependencies{}
		for _, d := range list {
			out = append(out, view(d))
		}
		httpx.JSON(w, http.StatusOK, out)
		return nil
	})
	mux.full("POST /api/w/{ws}/workspace_dependencies/delete/{language}", "workspaces:write", func(w http.ResponseWriter, r *http.Request) error {
		language, name := r.PathValue("language"), r.URL.Query().Get("name")
		if err := s.Kept.DeleteDeps(r.Context(), s.Workspace, language, name); err != nil {
			return err
		}
		s.changed(r, "workspace_dependencies.delete", language+"/"+name, "", nil)
		writeText(w, http.StatusOK, kept.DepsPath(language, name)+" deleted")
		return nil
	})
}

// Apps (Windmill's low-code apps) are kept and given back (kept.Items
// holds their rules); millrun shows and runs none of them.
func (s *Server) registerApps(mux routes) {
	view := func(r *http.Request, app kept.KeptApp, whole bool) (map[string]json.RawMessage, error) {
		d := app.Doc
		if !whole {
			d = maps.Clone(d)
			delete(d, "value") // lists leave the app's definition out
		}
		return over(answers.App{WorkspaceID: s.Workspace, Path: app.Path, Versions: []int{1}, ID: 1,
			CreatedBy: s.User, CreatedAt: app.UpdatedAt.Format(time.RFC3339Nano), EditedAt: app.UpdatedAt.Format(time.RFC3339Nano),
			ExtraPerms: s.acl(r, "app", app.Path)}, d)
	}
	mux.full("POST /api/w/{ws}/apps/create", "apps:write", func(w http.ResponseWriter, r *http.Request) error {
		var body kept.Doc
		if err := s.decodeBody(r, &body); err != nil {
			return err
		}
		path, err := s.Kept.CreateApp(r.Context(), s.Workspace, body)
		if err != nil {
			return err
		}
		s.changed(r, "app.save", path, "", nil)
		writeText(w, http.StatusCreated, path)
		return nil
	})
	mux.full("POST /api/w/{ws}/apps/update/{path...}", "apps:write", func(w http.ResponseWriter, r *http.Request) error {
		var body kept.Doc
		if err := s.decodeBody(r, &body); err != nil {
			return err
		}
		path := r.PathValue("path")
		if err := s.Kept.UpdateApp(r.Context(), s.Workspace, path, body); err != nil {
			return err
		}
		s.changed(r, "app.save", path, "", nil)
		writeText(w, http.StatusOK, path)
		return nil
	})
	mux.full("GET /api/w/{ws}/apps/get/p/{path...}", "apps:read", func(w http.ResponseWriter, r *http.Request) error {
		app, err := s.Kept.App(r.Context(), s.Workspace, r.PathValue("path"))
		if err != nil {
			return err
		}
		out, err := view(r, app, true)
		if err != nil {
			return err
		}
		httpx.JSON(w, http.StatusOK, out)
		return nil
	})
	mux.full("GET /api/w/{ws}/apps/exists/{path...}", "apps:read", s.existsOrFail(func(r *http.Request) (bool, error) {
		return s.Kept.AppExists(r.Context(), s.Workspace, r.PathValue("path"))
	}))
	mux.full("GET /api/w/{ws}/apps/list", "apps:read", func(w http.ResponseWriter, r *http.Request) error {
		apps, err := s.Kept.Apps(r.Context(), s.Workspace)
		if err != nil {
			return err
		}
		out := []map[string]json.RawMessage{}
		for _, app := range apps {
			v, err := view(r, app, false)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		httpx.JSON(w, http.StatusOK, out)
		return nil
	})
	mux.full("DELETE /api/w/{ws}/apps/delete/{path...}", "apps:write", func(w http.ResponseWriter, r *http.Request) error {
		path := r.PathValue("path")
		if err := s.Kept.DeleteApp(r.Context(), s.Workspace, path); err != nil {
			return err
		}
		s.changed(r, "app.delete", path, "", nil)
		writeText(w, http.StatusOK, path)
		return nil
	})
	// Raw apps (a React or Svelte app in files) arrive as a bundle of
	// files: not kept. The answer says how to push the rest.
	refuseRaw := func(w http.ResponseWriter, r *http.Request) error {
		return apierr.BadRequest("millrun does not keep raw apps (.raw_app folders): add the folder to excludes in wmill.yaml, or push with --skip-apps, and the rest of the workspace pushes")
	}
	mux.full("POST /api/w/{ws}/apps/create_raw", "apps:write", refuseRaw)
	mux.full("POST /api/w/{ws}/apps/update_raw/{path...}", "apps:write", refuseRaw)
}

// exportKept writes the kept items into a workspace export, each where
// Windmill's export puts it and as the query asks (users, groups, the
// settings and the key only when asked, as Windmill does).
func (s *Server) exportKept(r *http.Request, put func(string, []byte), putJSON func(string, any), used func(string), flag func(string) bool) error {
	if !flag("skip_resource_types") {
		types, err := s.Kept.ResourceTypes(r.Context(), s.Workspace)
		if err != nil {
			return err
		}
		for _, t := range types {
			putJSON(t.Name+".resource-type.json", t.Doc)
		}
	}
	apps, err := s.Kept.Apps(r.Context(), s.Workspace)
	if err != nil {
		return err
	}
	for _, app := range apps {
		used(app.Path)
		putJSON(app.Path+".app.json", s.Kept.AppFile(r.Context(), s.Workspace, app))
	}
	if flag("include_workspace_dependencies") {
		deps, err := s.Kept.ListDeps(r.Context(), s.Workspace)
		if err != nil {
			return err
		}
		for _, d := range deps {
			put(kept.DepsPath(d.Language, d.Name), []byte(d.Content))
		}
	}
	if flag("include_triggers") {
		if err := s.exportKeptTriggers(r, putJSON, used); err != nil {
			return err
		}
	}
	if flag("include_users") {
		users, err := s.Kept.Users(r.Context(), s.Workspace)
		if err != nil {
			return err
		}
		for _, u := range users {
			putJSON("users/"+u.Email+".user.json", u)
		}
	}
	if flag("include_groups") {
		groups, err := s.Kept.GroupFiles(r.Context(), s.Workspace)
		if err != nil {
			return err
		}
		for _, g := range groups {
			putJSON("groups/"+g.Name+".group.json", g)
		}
	}
	if flag("include_settings") {
		d, err := s.workspaceSettings(r)
		if err != nil {
			return err
		}
		putJSON("settings.json", settingsExport(d))
	}
	if flag("include_key") {
		it, err := s.Kept.Get(r.Context(), s.Workspace, keptKey, "")
		if err == nil {
			put("encryption_key.json", []byte(it.Value))
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// Windmill's triggers millrun has no listener for are kept and given back
// (kept.Items holds their rules), never started.
func (s *Server) registerKeptTriggers(mux routes) {
	for _, kind := range kept.TriggerKinds {
		base := "/api/w/{ws}/" + kind + "_triggers/"
		view := func(t kept.Document) (map[string]json.RawMessage, error) {
			return over(answers.KeptTrigger{WorkspaceID: s.Workspace, Path: t.Name, EditedBy: s.User, EditedAt: t.UpdatedAt.Format(time.RFC3339Nano),
				ExtraPerms: answers.ExtraPerms{}, Email: s.email()}, t.Doc)
		}
		mux.full("POST "+base+"create", "triggers:write", func(w http.ResponseWriter, r *http.Request) error {
			var body kept.Doc
			if err := s.decodeBody(r, &body); err != nil {
				return err
			}
			path, err := s.Kept.CreateTrigger(r.Context(), s.Workspace, kind, body)
			if err != nil {
				return err
			}
			s.changed(r, kind+"_trigger.save", path, "", nil)
			writeText(w, http.StatusCreated, path)
			return nil
		})
		mux.full("POST "+base+"update/{path...}", "triggers:write", func(w http.ResponseWriter, r *http.Request) error {
			var body kept.Doc
			if err := s.decodeBody(r, &body); err != nil {
				return err
			}
			path := r.PathValue("path")
			if err := s.Kept.UpdateTrigger(r.Context(), s.Workspace, kind, path, body); err != nil {
				return err
			}
			s.changed(r, kind+"_trigger.save", path, "", nil)
			writeText(w, http.StatusOK, path)
			return nil
		})
		mux.full("GET "+base+"get/{path...}", "triggers:read", func(w http.ResponseWriter, r *http.Request) error {
			t, err := s.Kept.Trigger(r.Context(), s.Workspace, kind, r.PathValue("path"))
			if err != nil {
				return err
			}
			out, err := view(t)
			if err != nil {
				return err
			}
			httpx.JSON(w, http.StatusOK, out)
			return nil
		})
		mux.full("GET "+base+"exists/{path...}", "triggers:read", s.existsOrFail(func(r *http.Request) (bool, error) {
			return s.Kept.TriggerExists(r.Context(), s.Workspace, kind, r.PathValue("path"))
		}))
		mux.full("GET "+base+"list", "triggers:read", func(w http.ResponseWriter, r *http.Request) error {
			triggers, err := s.Kept.Triggers(r.Context(), s.Workspace, kind)
			if err != nil {
				return err
			}
			out := []map[string]json.RawMessage{}
			for _, t := range triggers {
				v, err := view(t)
				if err != nil {
					return err
				}
				out = append(out, v)
			}
			httpx.JSON(w, http.StatusOK, out)
			return nil
		})
		mux.full("DELETE "+base+"delete/{path...}", "triggers:write", func(w http.ResponseWriter, r *http.Request) error {
			path := r.PathValue("path")
			if err := s.Kept.DeleteTrigger(r.Context(), s.Workspace, kind, path); err != nil {
				return err
			}
			s.changed(r, kind+"_trigger.delete", path, "", nil)
			writeText(w, http.StatusOK, path)
			return nil
		})
	}
}

// exportKeptTriggers writes the kept triggers into an export, as
// <path>.<kind>_trigger.json, as they were pushed.
func (s *Server) exportKeptTriggers(r *http.Request, putJSON func(string, any), used func(string)) error {
	for _, kind := range kept.TriggerKinds {
		triggers, err := s.Kept.Triggers(r.Context(), s.Workspace, kind)
		if err != nil {
			return err
		}
		for _, t := range triggers {
			used(t.Name)
			putJSON(t.Name+"."+kind+"_trigger.json", t.Doc)
		}
	}
	return nil
}
