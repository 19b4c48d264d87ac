package api

import (
	"encoding/json"
	"net/http"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/store"
)

// Windmill's variable routes. A secret's value is given only by
// get_value, to full-access tokens (those scripts get for getVariable);
// get and list never carry it.
func (s *Server) registerVariables(mux routes) {
	mux.full("POST /api/w/{ws}/variables/create", "variables:write", s.putVariable(true))
	mux.full("POST /api/w/{ws}/variables/update/{path...}", "variables:write", s.putVariable(false))
	mux.full("GET /api/w/{ws}/variables/get/{path...}", "variables:read", s.getVariable)
	mux.full("GET /api/w/{ws}/variables/get_value/{path...}", "variables:read", s.getVariableValue)
	mux.full("GET /api/w/{ws}/variables/exists/{path...}", "variables:read", s.variableExists)
	mux.full("GET /api/w/{ws}/variables/list", "variables:read", s.listVariables)
	mux.full("DELETE /api/w/{ws}/variables/delete/{path...}", "variables:write", s.deleteVariable)
}

func variableErr(err error, path string) error {
	switch err {
	case store.ErrNotFound:
		return apierr.NotFound("variable %s", path)
	case store.ErrDuplicate:
		return apierr.Conflict("a variable already exists at %s", path)
	}
	return err
}

func (s *Server) putVariable(create bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var b struct {
			Path        string  `json:"path"`
			Value       *string `json:"value"`
			IsSecret    *bool   `json:"is_secret"`
			Description *string `json:"description"`
		}
		if err := s.decodeBody(r, &b); err != nil {
			return err
		}
		path, value, secret, description := b.Path, "", false, ""
		if !create {
			// An update may leave out what it does not change.
			path = r.PathValue("path")
			cur, err := s.Resources.GetVariable(r.Context(), s.Workspace, path)
			if err != nil {
				return variableErr(err, path)
			}
			secret, description = cur.IsSecret, cur.Description
			if b.Value == nil {
				if value, err = s.Resources.VariableValue(r.Context(), s.Workspace, path); err != nil {
					return err
				}
			}
		} else if b.Value == nil {
			return apierr.BadRequest("value is required (a string)")
		}
		if b.IsSecret != nil {
			secret = *b.IsSecret
		}
		if b.Value != nil {
			value = *b.Value
			// wmill sync push sends back the sealed text its pull got.
			if secret && r.URL.Query().Get("already_encrypted") == "true" {
				var err error
				if value, err = s.Resources.ImportSecret(s.Workspace, value); err != nil {
					return err
				}
			}
		}
		if b.Description != nil {
			description = *b.Description
		}
		if err := s.Resources.PutVariable(r.Context(), s.Workspace, path, value, secret, description, create); err != nil {
			return variableErr(err, path)
		}
		action := "variable.create"
		if !create {
			action = "variable.update"
		}
		s.changed(r, action, path, "", nil) // never the value
		if create {
			writeText(w, http.StatusCreated, path)
			return nil
		}
		writeText(w, http.StatusOK, path)
		return nil
	}
}

func (s *Server) getVariable(w http.ResponseWriter, r *http.Request) error {
	v, err := s.Resources.GetVariable(r.Context(), s.Workspace, r.PathValue("path"))
	if err != nil {
		return variableErr(err, r.PathValue("path"))
	}
	if v.IsSecret && r.URL.Query().Get("include_encrypted") == "true" {
		// The sealed text, as wmill sync pull wrote it, so push can tell
		// an unchanged secret; never the value itself.
		value, err := s.Resources.VariableValue(r.Context(), s.Workspace, v.Path)
		if err != nil {
			return err
		}
		sealed := s.Resources.ExportSecret(s.Workspace, value)
		v.Value = &sealed
	}
	httpx.JSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) getVariableValue(w http.ResponseWriter, r *http.Request) error {
	value, err := s.Resources.VariableValue(r.Context(), s.Workspace, r.PathValue("path"))
	if err != nil {
		return variableErr(err, r.PathValue("path"))
	}
	s.changed(r, "variable.read", r.PathValue("path"), "", nil)
	// Windmill answers the value as a JSON string.
	b, _ := json.Marshal(value)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

func (s *Server) variableExists(w http.ResponseWriter, r *http.Request) error {
	_, err := s.Resources.GetVariable(r.Context(), s.Workspace, r.PathValue("path"))
	httpx.JSON(w, http.StatusOK, err == nil)
	return nil
}

func (s *Server) listVariables(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Resources.ListVariables(r.Context(), s.Workspace)
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) deleteVariable(w http.ResponseWriter, r *http.Request) error {
	if err := s.Resources.DeleteVariable(r.Context(), s.Workspace, r.PathValue("path")); err != nil {
		return variableErr(err, r.PathValue("path"))
	}
	s.changed(r, "variable.delete", r.PathValue("path"), "", nil)
	writeText(w, http.StatusOK, "variable "+r.PathValue("path")+" deleted")
	return nil
}
