package api

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/api/answers"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/runnable"
)

// What Windmill's tools ask first (the wmill CLI before any command,
// windmill-client's helpers): who am I, which workspaces exist. millrun
// has one person and one workspace; a full-access token is its admin, a
// scoped one an operator.
func (s *Server) registerUsers(mux routes) {
	mux.anyToken("GET /api/users/whoami", s.globalWhoami)
	mux.anyToken("GET /api/w/{ws}/users/whoami", s.workspaceWhoami)
	mux.anyToken("POST /api/workspaces/exists", s.workspaceExists)
	mux.anyToken("GET /api/workspaces/list", s.listWorkspaces)
	mux.full("GET /api/w/{ws}/scripts/exists/p/{path...}", "scripts:read", s.exists(func(r *http.Request) bool {
		_, err := s.targets().Resolve(r.Context(), s.Workspace, runnable.Script, r.PathValue("path"))
		return err == nil
	}))
	mux.full("GET /api/w/{ws}/flows/exists/{path...}", "flows:read", s.exists(func(r *http.Request) bool {
		_, err := s.targets().Resolve(r.Context(), s.Workspace, runnable.Flow, r.PathValue("path"))
		return err == nil
	}))
}

// targets finds the latest script or flow at a path, as every run does.
func (s *Server) targets() runnable.Resolver {
	return runnable.Resolver{Scripts: s.Catalog, Flows: s.Flows}
}

func (s *Server) email() string { return s.User + "@millrun.local" }

func (s *Server) globalWhoami(w http.ResponseWriter, r *http.Request) error {
	id := reqctx.Identity(r.Context())
	if id == nil {
		return apierr.NotAuthorized("Unauthorized")
	}
	httpx.JSON(w, http.StatusOK, answers.GlobalWhoami{
		Email: s.email(), LoginType: "password", SuperAdmin: id.FullAccess(), Verified: true,
		Name: s.User, Username: s.User, OperatorOnly: !id.FullAccess(), RoleSource: "manual",
	})
	return nil
}

func (s *Server) workspaceWhoami(w http.ResponseWriter, r *http.Request) error {
	id := reqctx.Identity(r.Context())
	if id == nil {
		return apierr.NotAuthorized("Unauthorized")
	}
	httpx.JSON(w, http.StatusOK, answers.WorkspaceWhoami{
		Email: s.email(), Username: s.User, IsAdmin: id.FullAccess(), IsSuperAdmin: id.FullAccess(),
		CreatedAt: time.Unix(0, 0).UTC().Format(time.RFC3339), Operator: !id.FullAccess(),
		Groups: []string{}, Folders: []string{}, FoldersRead: []string{}, FoldersOwners: []string{},
	})
	return nil
}

// workspaceExists takes {"id": "..."} (or the id as a JSON string).
func (s *Server) workspaceExists(w http.ResponseWriter, r *http.Request) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err != nil {
		return apierr.BadRequest("reading the request body: %s", err)
	}
	var body struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(b, &body) != nil || body.ID == "" {
		_ = json.Unmarshal(b, &body.ID)
	}
	if body.ID == "" {
		return apierr.BadRequest(`send {"id": "<workspace>"}`)
	}
	httpx.JSON(w, http.StatusOK, strings.EqualFold(body.ID, s.Workspace))
	return nil
}

func (s *Server) listWorkspaces(w http.ResponseWriter, r *http.Request) error {
	if reqctx.Identity(r.Context()) == nil {
		return apierr.NotAuthorized("Unauthorized")
	}
	httpx.JSON(w, http.StatusOK, []answers.Workspace{{ID: s.Workspace, Name: s.Workspace, Owner: s.email()}})
	return nil
}

func (s *Server) exists(found func(*http.Request) bool) handlerFunc {
	return s.existsOrFail(func(r *http.Request) (bool, error) { return found(r), nil })
}

// existsOrFail is exists for a lookup that can fail (the store), which
// answers the failure instead of false.
func (s *Server) existsOrFail(found func(*http.Request) (bool, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ok, err := found(r)
		if err != nil {
			return err
		}
		httpx.JSON(w, http.StatusOK, ok)
		return nil
	}
}
