package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/store"
)

// Windmill's folder routes. millrun keeps only a folder's metadata (its
// items carry f/<name>/ in their paths); permissions are not enforced, as
// millrun has one person, but owners and extra_perms are kept so a folder
// pulled from a Windmill workspace pushes back unchanged.
func (s *Server) registerFolders(mux routes) {
	mux.HandleFunc("POST /api/w/{ws}/folders/create", s.putFolder(true))
	mux.HandleFunc("POST /api/w/{ws}/folders/update/{name}", s.putFolder(false))
	mux.HandleFunc("GET /api/w/{ws}/folders/get/{name}", s.getFolder)
	mux.HandleFunc("GET /api/w/{ws}/folders/exists/{name}", s.exists("folders:read", func(r *http.Request) bool {
		_, err := s.DB.GetFolder(r.Context(), s.Workspace, r.PathValue("name"))
		return err == nil
	}))
	mux.HandleFunc("GET /api/w/{ws}/folders/list", s.listFolders)
	mux.HandleFunc("DELETE /api/w/{ws}/folders/delete/{name}", s.deleteFolder)
}

var folderName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

func folderJSON(f store.Folder) map[string]any {
	return map[string]any{
		"workspace_id": f.Workspace, "name": f.Name, "display_name": f.DisplayName, "summary": f.Summary,
		"owners": json.RawMessage(f.Owners), "extra_perms": json.RawMessage(f.ExtraPerms),
		"created_by": "millrun", "edited_at": f.UpdatedAt.Format(time.RFC3339Nano),
	}
}

func (s *Server) putFolder(create bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.checkAccess(r, "folders:write"); err != nil {
			return err
		}
		var b struct {
			Name        string          `json:"name"`
			DisplayName *string         `json:"display_name"`
			Summary     *string         `json:"summary"`
			Owners      json.RawMessage `json:"owners"`
			ExtraPerms  json.RawMessage `json:"extra_perms"`
		}
		if err := s.decodeBody(r, &b); err != nil {
			return err
		}
		f := store.Folder{Workspace: s.Workspace, Name: b.Name, Owners: "[]", ExtraPerms: "{}"}
		if !create {
			cur, err := s.DB.GetFolder(r.Context(), s.Workspace, r.PathValue("name"))
			if err != nil {
				return folderErr(err, r.PathValue("name"))
			}
			f = cur
		}
		if !folderName.MatchString(f.Name) {
			return apierr.BadRequest("folder name %q: use letters, digits, _ and - (it is the <name> in f/<name>/...)", f.Name)
		}
		if b.DisplayName != nil {
			f.DisplayName = *b.DisplayName
		}
		if f.DisplayName == "" {
			f.DisplayName = f.Name
		}
		if b.Summary != nil {
			f.Summary = b.Summary
		}
		var owners []string
		if len(b.Owners) > 0 && string(b.Owners) != "null" {
			if json.Unmarshal(b.Owners, &owners) != nil {
				return apierr.BadRequest("owners should be a list of names")
			}
			f.Owners = string(b.Owners)
		}
		var perms map[string]bool
		if len(b.ExtraPerms) > 0 && string(b.ExtraPerms) != "null" {
			if json.Unmarshal(b.ExtraPerms, &perms) != nil {
				return apierr.BadRequest("extra_perms should be an object of names to true (write) or false (read)")
			}
			f.ExtraPerms = string(b.ExtraPerms)
		}
		if err := s.DB.PutFolder(r.Context(), f, create); err != nil {
			return folderErr(err, f.Name)
		}
		s.changed(r, "folder.save", f.Name, "", nil)
		status := http.StatusOK
		if create {
			status = http.StatusCreated
		}
		writeText(w, status, f.Name)
		return nil
	}
}

func folderErr(err error, name string) error {
	switch err {
	case store.ErrNotFound:
		return apierr.NotFound("folder %s", name)
	case store.ErrDuplicate:
		return apierr.BadRequest("Folder %s already exists", name)
	}
	return err
}

func (s *Server) getFolder(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkAccess(r, "folders:read"); err != nil {
		return err
	}
	f, err := s.DB.GetFolder(r.Context(), s.Workspace, r.PathValue("name"))
	if err != nil {
		return folderErr(err, r.PathValue("name"))
	}
	httpx.JSON(w, http.StatusOK, folderJSON(f))
	return nil
}

func (s *Server) listFolders(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkAccess(r, "folders:read"); err != nil {
		return err
	}
	list, err := s.DB.ListFolders(r.Context(), s.Workspace)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(list))
	for _, f := range list {
		out = append(out, folderJSON(f))
	}
	httpx.JSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) deleteFolder(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkAccess(r, "folders:write"); err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := s.DB.DeleteFolder(r.Context(), s.Workspace, name); err != nil {
		if errors.Is(err, store.ErrNotFound) && s.folderInUse(r, name) {
			// An export writes a folder.meta for every folder its items
			// are in, stored or not (Windmill needs them); wmill deleting
			// one that was never stored must not stop its push.
			writeText(w, http.StatusOK, "folder "+name+" has no settings stored: nothing to delete (its items stay)")
			return nil
		}
		return folderErr(err, name)
	}
	s.changed(r, "folder.delete", r.PathValue("name"), "", nil)
	writeText(w, http.StatusOK, "folder "+r.PathValue("name")+" deleted")
	return nil
}

// folderInUse reports whether an item lives in folder f/<name>/.
func (s *Server) folderInUse(r *http.Request, name string) bool {
	prefix := "f/" + name + "/"
	ctx := r.Context()
	if list, err := s.Catalog.List(ctx, s.Workspace, true); err == nil {
		for _, sum := range list {
			if strings.HasPrefix(sum.Latest.Path, prefix) {
				return true
			}
		}
	}
	if list, err := s.Flows.List(ctx, s.Workspace, true); err == nil {
		for _, f := range list {
			if strings.HasPrefix(f.Path, prefix) {
				return true
			}
		}
	}
	if list, err := s.Resources.List(ctx, s.Workspace); err == nil {
		for _, res := range list {
			if strings.HasPrefix(res.Path, prefix) {
				return true
			}
		}
	}
	if list, err := s.Resources.ListVariables(ctx, s.Workspace); err == nil {
		for _, v := range list {
			if strings.HasPrefix(v.Path, prefix) {
				return true
			}
		}
	}
	if list, err := s.DB.ListKept(ctx, s.Workspace, keptApp); err == nil {
		for _, a := range list {
			if strings.HasPrefix(a.Name, prefix) {
				return true
			}
		}
	}
	return false
}
