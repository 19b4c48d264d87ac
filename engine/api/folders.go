package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/millrun/millrun/engine/api/answers"
	"github.com/millrun/millrun/engine/folders"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/store"
)

// Windmill's folder routes, over the folders service.
func (s *Server) registerFolders(mux routes) {
	mux.full("POST /api/w/{ws}/folders/create", "folders:write", s.putFolder(true))
	mux.full("POST /api/w/{ws}/folders/update/{name}", "folders:write", s.putFolder(false))
	mux.full("GET /api/w/{ws}/folders/get/{name}", "folders:read", s.getFolder)
	mux.full("GET /api/w/{ws}/folders/exists/{name}", "folders:read", s.exists(func(r *http.Request) bool {
		return s.Folders.Exists(r.Context(), s.Workspace, r.PathValue("name"))
	}))
	mux.full("GET /api/w/{ws}/folders/list", "folders:read", s.listFolders)
	mux.full("DELETE /api/w/{ws}/folders/delete/{name}", "folders:write", s.deleteFolder)
}

func folderJSON(f store.Folder) answers.Folder {
	return answers.Folder{
		WorkspaceID: f.Workspace, Name: f.Name, DisplayName: f.DisplayName, Summary: f.Summary,
		Owners: json.RawMessage(f.Owners), ExtraPerms: json.RawMessage(f.ExtraPerms),
		CreatedBy: "millrun", EditedAt: f.UpdatedAt.Format(time.RFC3339Nano),
	}
}

func (s *Server) putFolder(create bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in folders.Input
		if err := s.decodeBody(r, &in); err != nil {
			return err
		}
		var f store.Folder
		var err error
		if create {
			f, err = s.Folders.Create(r.Context(), s.Workspace, in)
		} else {
			f, err = s.Folders.Update(r.Context(), s.Workspace, r.PathValue("name"), in)
		}
		if err != nil {
			return err
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

func (s *Server) getFolder(w http.ResponseWriter, r *http.Request) error {
	f, err := s.Folders.Get(r.Context(), s.Workspace, r.PathValue("name"))
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, folderJSON(f))
	return nil
}

func (s *Server) listFolders(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Folders.List(r.Context(), s.Workspace)
	if err != nil {
		return err
	}
	out := make([]answers.Folder, 0, len(list))
	for _, f := range list {
		out = append(out, folderJSON(f))
	}
	httpx.JSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) deleteFolder(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	stored, err := s.Folders.Delete(r.Context(), s.Workspace, name)
	if err != nil {
		return err
	}
	if !stored {
		writeText(w, http.StatusOK, "folder "+name+" has no settings stored: nothing to delete (its items stay)")
		return nil
	}
	s.changed(r, "folder.delete", name, "", nil)
	writeText(w, http.StatusOK, "folder "+name+" deleted")
	return nil
}
