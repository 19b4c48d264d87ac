package api

import (
	"net/http"
	"time"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/triggers"
)

// Windmill's http_triggers routes.
func (s *Server) registerTriggers(mux Mux) {
	mux.HandleFunc("POST /api/w/{ws}/http_triggers/create", s.saveRoute(true))
	mux.HandleFunc("POST /api/w/{ws}/http_triggers/update/{path...}", s.saveRoute(false))
	mux.HandleFunc("GET /api/w/{ws}/http_triggers/get/{path...}", s.getRoute)
	mux.HandleFunc("GET /api/w/{ws}/http_triggers/exists/{path...}", s.routeExists)
	mux.HandleFunc("GET /api/w/{ws}/http_triggers/list", s.listRoutes)
	mux.HandleFunc("DELETE /api/w/{ws}/http_triggers/delete/{path...}", s.deleteRoute)
}

func (s *Server) saveRoute(create bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.checkWorkspace(w, r) || !requireFull(w, r, s.Log, "http_triggers:write") {
			return
		}
		var t triggers.Trigger
		if err := s.decodeBody(r, &t); err != nil {
			s.fail(w, err)
			return
		}
		if !create {
			old := r.PathValue("path")
			if _, ok := s.Triggers.Get(s.Workspace, old); !ok {
				s.fail(w, apierr.NotFound("route %s", old))
				return
			}
			if !s.keepPath(w, "route", old, &t.Path) {
				return
			}
		}
		t.WorkspaceID = s.Workspace
		t.EditedAt = time.Now().UTC()
		if id := auth.FromContext(r.Context()); id != nil {
			t.EditedBy = id.Label
		}
		if err := s.Triggers.Save(r.Context(), &t, create); err != nil {
			if err == store.ErrDuplicate {
				err = apierr.Conflict("a route already exists at %s", t.Path)
			}
			s.fail(w, err)
			return
		}
		s.changed(r, "route.save", t.Path, t.HTTPMethod+" /api/r/"+t.RoutePath, nil)
		writeText(w, http.StatusCreated, t.Path)
	}
}

func (s *Server) getRoute(w http.ResponseWriter, r *http.Request) {
	if !s.checkWorkspace(w, r) || !requireFull(w, r, s.Log, "http_triggers:read") {
		return
	}
	t, ok := s.Triggers.Get(s.Workspace, r.PathValue("path"))
	if !ok {
		s.fail(w, apierr.NotFound("route %s", r.PathValue("path")))
		return
	}
	httpx.JSON(w, http.StatusOK, t)
}

func (s *Server) routeExists(w http.ResponseWriter, r *http.Request) {
	if !s.checkWorkspace(w, r) || !requireFull(w, r, s.Log, "http_triggers:read") {
		return
	}
	_, ok := s.Triggers.Get(s.Workspace, r.PathValue("path"))
	httpx.JSON(w, http.StatusOK, ok)
}

func (s *Server) listRoutes(w http.ResponseWriter, r *http.Request) {
	if !s.checkWorkspace(w, r) || !requireFull(w, r, s.Log, "http_triggers:read") {
		return
	}
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
}

func (s *Server) deleteRoute(w http.ResponseWriter, r *http.Request) {
	if !s.checkWorkspace(w, r) || !requireFull(w, r, s.Log, "http_triggers:write") {
		return
	}
	if err := s.Triggers.Delete(r.Context(), s.Workspace, r.PathValue("path")); err != nil {
		if err == store.ErrNotFound {
			err = apierr.NotFound("route %s", r.PathValue("path"))
		}
		s.fail(w, err)
		return
	}
	s.changed(r, "route.delete", r.PathValue("path"), "", nil)
	writeText(w, http.StatusOK, "route "+r.PathValue("path")+" deleted")
}
