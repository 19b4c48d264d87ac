package api

import (
	"encoding/json"
	"net/http"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/store"
)

// Windmill's resource routes. Values come back masked; only
// get_value_interpolated returns a value whole, to full-access tokens
// (the ones scripts are given to call getResource). A value is any JSON:
// wmill's set_state stores a script's state as a resource of type
// "state", and set_resource writes one with update_value.
func (s *Server) registerResources(mux routes) {
	mux.full("POST /api/w/{ws}/resources/create", "resources:write", s.putResource(true))
	mux.full("POST /api/w/{ws}/resources/update/{path...}", "resources:write", s.putResource(false))
	mux.full("POST /api/w/{ws}/resources/update_value/{path...}", "resources:write", s.updateResourceValue)
	mux.full("GET /api/w/{ws}/resources/get/{path...}", "resources:read", s.getResource)
	mux.full("GET /api/w/{ws}/resources/get_value_interpolated/{path...}", "resources:read", s.getResourceValue(true))
	mux.full("GET /api/w/{ws}/resources/get_value/{path...}", "resources:read", s.getResourceValue(false))
	mux.full("GET /api/w/{ws}/resources/exists/{path...}", "resources:read", s.resourceExists)
	mux.full("GET /api/w/{ws}/resources/list", "resources:read", s.listResources)
	mux.full("DELETE /api/w/{ws}/resources/delete/{path...}", "resources:write", s.deleteResource)
}

type resourceBody struct {
	Path         string          `json:"path"`
	ResourceType string          `json:"resource_type"`
	Value        json.RawMessage `json:"value"` // nil: left out; "null": null
	Description  string          `json:"description"`
}

// decodeValue reads a body's value: nil when the body has none.
func decodeValue(raw json.RawMessage) (value any, given bool, err error) {
	if raw == nil {
		return nil, false, nil
	}
	if err := json.Unmarshal(raw, &value); err != nil {
		return nil, false, apierr.BadRequest("value is not valid JSON: %s", err)
	}
	return value, true, nil
}

func (s *Server) putResource(create bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var b resourceBody
		if err := s.decodeBody(r, &b); err != nil {
			return err
		}
		value, given, err := decodeValue(b.Value)
		if err != nil {
			return err
		}
		if create && !given {
			value = map[string]any{}
		}
		path := b.Path
		if !create {
			path = r.PathValue("path")
			cur, err := s.Resources.Full(r.Context(), s.Workspace, path)
			if err != nil {
				return resourceErr(err, path)
			}
			// An update may leave out what it does not change.
			if !given {
				value = cur.Value
			}
			if b.ResourceType == "" {
				b.ResourceType = cur.ResourceType
			}
			if b.Description == "" {
				b.Description = cur.Description
			}
		}
		if b.ResourceType == "" {
			return apierr.BadRequest("resource_type is required, e.g. signature_auth")
		}
		if err := s.Resources.Put(r.Context(), s.Workspace, path, b.ResourceType, b.Description, value, create); err != nil {
			return resourceErr(err, path)
		}
		action := "resource.create"
		if !create {
			action = "resource.update"
		}
		s.changed(r, action, path, b.ResourceType, nil)
		writeText(w, http.StatusCreated, path)
		return nil
	}
}

// updateResourceValue is Windmill's update_value: {"value": ...} replaces
// the value and keeps the type and description (wmill's set_resource and
// set_state when the resource exists).
func (s *Server) updateResourceValue(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Value json.RawMessage `json:"value"`
	}
	if err := s.decodeBody(r, &b); err != nil {
		return err
	}
	value, _, err := decodeValue(b.Value)
	if err != nil {
		return err
	}
	path := r.PathValue("path")
	cur, err := s.Resources.Get(r.Context(), s.Workspace, path)
	if err != nil {
		return resourceErr(err, path)
	}
	if err := s.Resources.Put(r.Context(), s.Workspace, path, cur.ResourceType, cur.Description, value, false); err != nil {
		return resourceErr(err, path)
	}
	s.changed(r, "resource.update", path, cur.ResourceType, nil)
	writeText(w, http.StatusOK, "value of resource "+path+" updated")
	return nil
}

func resourceErr(err error, path string) error {
	switch err {
	case store.ErrNotFound:
		return apierr.NotFound("resource %s", path)
	case store.ErrDuplicate:
		return apierr.Conflict("a resource already exists at %s", path)
	}
	return err
}

func (s *Server) getResource(w http.ResponseWriter, r *http.Request) error {
	res, err := s.Resources.Get(r.Context(), s.Workspace, r.PathValue("path"))
	if err != nil {
		return resourceErr(err, r.PathValue("path"))
	}
	httpx.JSON(w, http.StatusOK, res)
	return nil
}

// getResourceValue returns a value whole; interpolated, "$var:<path>"
// strings in it become those variables' values.
func (s *Server) getResourceValue(interpolated bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		v, _, err := s.Resources.Value(r.Context(), s.Workspace, r.PathValue("path"))
		if err != nil {
			return resourceErr(err, r.PathValue("path"))
		}
		if interpolated {
			if v, err = s.Resources.Interpolate(r.Context(), s.Workspace, v); err != nil {
				return apierr.BadRequest("resource %s: %s", r.PathValue("path"), err)
			}
		}
		s.changed(r, "resource.read", r.PathValue("path"), "", nil)
		httpx.JSON(w, http.StatusOK, v)
		return nil
	}
}

func (s *Server) resourceExists(w http.ResponseWriter, r *http.Request) error {
	_, err := s.Resources.Get(r.Context(), s.Workspace, r.PathValue("path"))
	httpx.JSON(w, http.StatusOK, err == nil)
	return nil
}

func (s *Server) listResources(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Resources.List(r.Context(), s.Workspace)
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) deleteResource(w http.ResponseWriter, r *http.Request) error {
	if err := s.Resources.Delete(r.Context(), s.Workspace, r.PathValue("path")); err != nil {
		return resourceErr(err, r.PathValue("path"))
	}
	s.changed(r, "resource.delete", r.PathValue("path"), "", nil)
	writeText(w, http.StatusOK, "resource "+r.PathValue("path")+" deleted")
	return nil
}
