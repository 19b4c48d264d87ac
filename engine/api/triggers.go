package api

import (
	"net/http"
	"time"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/triggers"
)

// Windmill's http_triggers routes.
func (s *Server) registerTriggers(mux routes) {
	mux.full("POST /api/w/{ws}/http_triggers/create", "http_triggers:write", s.saveRoute(true))
	mux.full("POST /api/w/{ws}/http_triggers/update/{path...}", "http_triggers:write", s.saveRoute(false))
	mux.full("GET /api/w/{ws}/http_triggers/get/{path...}", "http_triggers:read", s.getRoute)
	mux.full("GET /api/w/{ws}/http_triggers/exists/{path...}", "http_triggers:read", s.routeExists)
	mux.full("GET /api/w/{ws}/http_triggers/list", "http_triggers:read", s.listRoutes)
	mux.full("DELETE /api/w/{ws}/http_triggers/delete/{path...}", "http_triggers:write", s.deleteRoute)
}

func (s *Server) saveRoute(create bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var t triggers.Trigger
		if err := s.decodeBody(r, &t); err != nil {
			return err
		}
		if !create {
			old := r.PathValue("path")
			if _, ok := s.Triggers.Get(s.Workspace, old); !ok {
				return apierr.NotFound("route %s", old)
			}
			if err := keepPath("route", old, &t.Path); err != nil {
				return err
			}
		}
		t.WorkspaceID = s.Workspace
		t.EditedAt = time.Now().UTC()
		if id := reqctx.Identity(r.Context()); id != nil {
			t.EditedBy = id.Label
		}
		if err := s.Triggers.Save(r.Context(), &t, create); err != nil {
			if err == store.ErrDuplicate {
				err = apierr.Conflict("a route already exists at %s", t.Path)
			}
			return err
		}
		s.changed(r, "route.save", t.Path, t.HTTPMethod+" /api/r/"+t.RoutePath, nil)
		writeText(w, http.StatusCreated, t.Path)
		return nil
	}
}

func (s *Server) getRoute(w http.ResponseWriter, r *http.Request) error {
	t, ok := s.Triggers.Get(s.Workspace, r.PathValue("path"))
	if !ok {
		return apierr.NotFound("route %s", r.PathValue("path"))
	}
	httpx.JSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) routeExists(w http.ResponseWriter, r *http.Request) error {
	_, ok := s.Triggers.Get(s.Workspace, r.PathValue("path"))
	httpx.JSON(w, http.StatusOK, ok)
	return nil
}

func (s *Server) listRoutes(w http.ResponseWriter, r *http.Request) error {
	list := s.Triggers.List(s.Workspace)
	if p := r.URL.Query().Get("path"); p != "" {
		// The webhook panel lists the routes of one script or flow.
		isFlow := r.URL.Query().Get("is_flow") == "true"
		kept := list[:0]
		for _, t := range list {
			if t.ScriptPath == p && t.IsFlow == isFlow {
				kept = append(kept, t)
			}
		}
		list = kept
	}
	httpx.JSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) deleteRoute(w http.ResponseWriter, r *http.Request) error {
	if err := s.Triggers.Delete(r.Context(), s.Workspace, r.PathValue("path")); err != nil {
		if err == store.ErrNotFound {
			err = apierr.NotFound("route %s", r.PathValue("path"))
		}
		return err
	}
	s.changed(r, "route.delete", r.PathValue("path"), "", nil)
	writeText(w, http.StatusOK, "route "+r.PathValue("path")+" deleted")
	return nil
}
