package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/millrun/millrun/engine/api/answers"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/kept"
)

// Kinds of items kept without being run whose rules are still here (the
// others are package kept's): what a Windmill workspace holds that a
// single-user laptop has no use for, kept so that `wmill sync push` takes
// a whole workspace and `wmill sync pull` gives it back.
const (
	keptSettings = "settings"
	keptKey      = "encryption_key"
)

// doc is a kept item's JSON object.
type doc = kept.Doc

func (s *Server) getDoc(r *http.Request, kind, name string) (doc, error) {
	it, err := s.Kept.Get(r.Context(), s.Workspace, kind, name)
	if err != nil {
		return nil, err
	}
	d := doc{}
	if err := json.Unmarshal([]byte(it.Value), &d); err != nil {
		return nil, err
	}
	return d, nil
}

func (s *Server) putDoc(r *http.Request, kind, name string, d any) error {
	return s.Kept.Put(r.Context(), s.Workspace, kind, name, d)
}

func raw(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// isNull is true for a field that is absent or null.
func isNull(v json.RawMessage) bool { return len(v) == 0 || string(v) == "null" }

func (s *Server) registerKept(mux routes) {
	s.registerResourceTypes(mux)
	s.registerWorkspaceUsers(mux)
	s.registerGroups(mux)
	s.registerACLs(mux)
	s.registerWorkspaceSettings(mux)
	s.registerWorkspaceDependencies(mux)
	s.registerApps(mux)
	s.registerKeptTriggers(mux)
}

// Resource types: Windmill's routes over kept documents (kept.Items holds
// their rules).
func (s *Server) registerResourceTypes(mux routes) {
	view := func(t kept.Document) (map[string]json.RawMessage, error) {
		return over(answers.ResourceType{WorkspaceID: s.Workspace, Name: t.Name, CreatedBy: s.User, EditedAt: t.UpdatedAt.Format(time.RFC3339Nano)}, t.Doc)
	}
	mux.full("POST /api/w/{ws}/resources/type/create", "resources:write", func(w http.ResponseWriter, r *http.Request) error {
		var body kept.Doc
		if err := s.decodeBody(r, &body); err != nil {
			return err
		}
		name, err := s.Kept.CreateResourceType(r.Context(), s.Workspace, body)
		if err != nil {
			return err
		}
		s.changed(r, "resource_type.create", name, "", nil)
		writeText(w, http.StatusCreated, name)
		return nil
	})
	mux.full("POST /api/w/{ws}/resources/type/update/{name}", "resources:write", func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		// A missing type is refused before its body is read.
		if _, err := s.Kept.ResourceTypeNamed(r.Context(), s.Workspace, name); err != nil {
			return err
		}
		var body kept.Doc
		if err := s.decodeBody(r, &body); err != nil {
			return err
		}
		if err := s.Kept.UpdateResourceType(r.Context(), s.Workspace, name, body); err != nil {
			return err
		}
		s.changed(r, "resource_type.update", name, "", nil)
		writeText(w, http.StatusOK, name)
		return nil
	})
	mux.full("GET /api/w/{ws}/resources/type/get/{name}", "resources:read", func(w http.ResponseWriter, r *http.Request) error {
		t, err := s.Kept.ResourceTypeNamed(r.Context(), s.Workspace, r.PathValue("name"))
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
	mux.full("GET /api/w/{ws}/resources/type/exists/{name}", "resources:read", s.existsOrFail(func(r *http.Request) (bool, error) {
		return s.Kept.ResourceTypeExists(r.Context(), s.Workspace, r.PathValue("name"))
	}))
	mux.full("GET /api/w/{ws}/resources/type/list", "resources:read", func(w http.ResponseWriter, r *http.Request) error {
		types, err := s.Kept.ResourceTypes(r.Context(), s.Workspace)
		if err != nil {
			return err
		}
		out := make([]map[string]json.RawMessage, len(types))
		for i, t := range types {
			if out[i], err = view(t); err != nil {
				return err
			}
		}
		httpx.JSON(w, http.StatusOK, out)
		return nil
	})
	mux.full("GET /api/w/{ws}/resources/type/listnames", "resources:read", func(w http.ResponseWriter, r *http.Request) error {
		types, err := s.Kept.ResourceTypes(r.Context(), s.Workspace)
		if err != nil {
			return err
		}
		names := make([]string, len(types))
		for i, t := range types {
			names[i] = t.Name
		}
		httpx.JSON(w, http.StatusOK, names)
		return nil
	})
	mux.full("DELETE /api/w/{ws}/resources/type/delete/{name}", "resources:write", func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		if err := s.Kept.DeleteResourceType(r.Context(), s.Workspace, name); err != nil {
			return err
		}
		s.changed(r, "resource_type.delete", name, "", nil)
		writeText(w, http.StatusOK, name)
		return nil
	})
}

// fileResourceTypes is Windmill's map of the resource types whose
// resources a pull writes as files of their own.
func (s *Server) fileResourceTypes(r *http.Request) (map[string]answers.FileResourceType, error) {
	formats, err := s.Kept.FileResourceTypes(r.Context(), s.Workspace)
	if err != nil {
		return nil, err
	}
	out := map[string]answers.FileResourceType{}
	for name, f := range formats {
		out[name] = answers.FileResourceType{FormatExtension: stringOrNull(f.Extension), IsFileset: f.Fileset}
	}
	return out, nil
}

// Workspace users: millrun has one person, who runs it; the users of a
// Windmill workspace are kept (kept.Items holds their rules) so a pull
// gives them back.
func (s *Server) registerWorkspaceUsers(mux routes) {
	view := func(u kept.WorkspaceUser) answers.WorkspaceUser {
		return answers.WorkspaceUser{WorkspaceID: s.Workspace, Email: u.Email, Username: u.Username, IsAdmin: u.IsAdmin(),
			Operator: u.IsOperator(), Disabled: u.Disabled, Role: u.Role, CreatedAt: time.Unix(0, 0).UTC().Format(time.RFC3339),
			Groups: []string{}, Folders: []string{}, FoldersOwners: []string{}}
	}
	mux.full("GET /api/w/{ws}/users/list", "users:read", func(w http.ResponseWriter, r *http.Request) error {
		users, err := s.Kept.Users(r.Context(), s.Workspace)
		if err != nil {
			return err
		}
		out := []answers.WorkspaceUser{}
		for _, u := range users {
			out = append(out, view(u))
		}
		httpx.JSON(w, http.StatusOK, out)
		return nil
	})
	mux.full("GET /api/w/{ws}/users/get/{username}", "users:read", func(w http.ResponseWriter, r *http.Request) error {
		u, err := s.Kept.UserNamed(r.Context(), s.Workspace, r.PathValue("username"))
		if err != nil {
			return err
		}
		httpx.JSON(w, http.StatusOK, view(u))
		return nil
	})
	mux.full("POST /api/w/{ws}/workspaces/add_user", "users:write", func(w http.ResponseWriter, r *http.Request) error {
		var body kept.NewUser
		if err := s.decodeBody(r, &body); err != nil {
			return err
		}
		u, err := s.Kept.AddUser(r.Context(), s.Workspace, body)
		if err != nil {
			return err
		}
		s.changed(r, "user.add", u.Email, "", nil)
		writeText(w, http.StatusCreated, "user "+u.Email+" added")
		return nil
	})
	mux.full("POST /api/w/{ws}/users/update/{username}", "users:write", func(w http.ResponseWriter, r *http.Request) error {
		username := r.PathValue("username")
		if _, err := s.Kept.UserNamed(r.Context(), s.Workspace, username); err != nil {
			return err
		}
		var body kept.UserChange
		if err := s.decodeBody(r, &body); err != nil {
			return err
		}
		u, err := s.Kept.UpdateUser(r.Context(), s.Workspace, username, body)
		if err != nil {
			return err
		}
		s.changed(r, "user.update", u.Email, "", nil)
		writeText(w, http.StatusOK, "user "+u.Username+" updated")
		return nil
	})
	mux.full("DELETE /api/w/{ws}/users/delete/{username}", "users:write", func(w http.ResponseWriter, r *http.Request) error {
		u, err := s.Kept.DeleteUser(r.Context(), s.Workspace, r.PathValue("username"))
		if err != nil {
			return err
		}
		s.changed(r, "user.delete", u.Email, "", nil)
		writeText(w, http.StatusOK, "username "+u.Username+" deleted")
		return nil
	})
	// wmill asks before adding a user whether usernames are made from
	// emails; here the username a file names is kept as it is.
	mux.full("GET /api/settings/global/{key}", "settings:read", func(w http.ResponseWriter, r *http.Request) error {
		httpx.JSON(w, http.StatusOK, nil)
		return nil
	})
}

// Groups are kept with their members (kept.Items holds their rules); a
// member's admin role is an extra_perms entry granted through
// acls/add/group_ (Windmill's way).
func (s *Server) registerGroups(mux routes) {
	view := func(r *http.Request, g kept.WorkspaceGroup) answers.Group {
		members := g.Members
		if members == nil {
			members = []string{}
		}
		return answers.Group{WorkspaceID: s.Workspace, Name: g.Name, Summary: g.Summary, Members: members,
			ExtraPerms: s.acl(r, "group_", g.Name)}
	}
	mux.full("GET /api/w/{ws}/groups/list", "groups:read", func(w http.ResponseWriter, r *http.Request) error {
		groups, err := s.Kept.Groups(r.Context(), s.Workspace, s.User)
		if err != nil {
			return err
		}
		out := []answers.Group{}
		for _, g := range groups {
			out = append(out, view(r, g))
		}
		httpx.JSON(w, http.StatusOK, out)
		return nil
	})
	mux.full("GET /api/w/{ws}/groups/get/{name}", "groups:read", func(w http.ResponseWriter, r *http.Request) error {
		g, err := s.Kept.GroupNamed(r.Context(), s.Workspace, s.User, r.PathValue("name"))
		if err != nil {
			return err
		}
		httpx.JSON(w, http.StatusOK, view(r, g))
		return nil
	})
	mux.full("POST /api/w/{ws}/groups/create", "groups:write", func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Name    string  `json:"name"`
			Summary *string `json:"summary"`
		}
		if err := s.decodeBody(r, &body); err != nil {
			return err
		}
		if err := s.Kept.CreateGroup(r.Context(), s.Workspace, s.User, body.Name, body.Summary); err != nil {
			return err
		}
		s.changed(r, "group.create", body.Name, "", nil)
		writeText(w, http.StatusCreated, "Created group "+body.Name)
		return nil
	})
	// A missing or fixed group is refused before its body is read.
	edit := func(action string, apply func(r *http.Request, name string, body map[string]json.RawMessage) error) handlerFunc {
		return func(w http.ResponseWriter, r *http.Request) error {
			name := r.PathValue("name")
			if _, err := s.Kept.EditableGroup(r.Context(), s.Workspace, name); err != nil {
				return err
			}
			body := map[string]json.RawMessage{}
			if err := s.decodeOptionalBody(r, &body); err != nil {
				return err
			}
			if err := apply(r, name, body); err != nil {
				return err
			}
			s.changed(r, "group."+action, name, "", nil)
			writeText(w, http.StatusOK, "group "+name+" updated")
			return nil
		}
	}
	username := func(body map[string]json.RawMessage) string {
		var u string
		_ = json.Unmarshal(body["username"], &u)
		return u
	}
	mux.full("POST /api/w/{ws}/groups/update/{name}", "groups:write", edit("update", func(r *http.Request, name string, body map[string]json.RawMessage) error {
		var summary *string
		_ = json.Unmarshal(body["summary"], &summary)
		return s.Kept.SetGroupSummary(r.Context(), s.Workspace, name, summary)
	}))
	mux.full("POST /api/w/{ws}/groups/adduser/{name}", "groups:write", edit("adduser", func(r *http.Request, name string, body map[string]json.RawMessage) error {
		return s.Kept.AddGroupMember(r.Context(), s.Workspace, name, username(body))
	}))
	mux.full("POST /api/w/{ws}/groups/removeuser/{name}", "groups:write", edit("removeuser", func(r *http.Request, name string, body map[string]json.RawMessage) error {
		return s.Kept.RemoveGroupMember(r.Context(), s.Workspace, name, username(body))
	}))
	mux.full("DELETE /api/w/{ws}/groups/delete/{name}", "groups:write", func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		if err := s.Kept.DeleteGroup(r.Context(), s.Workspace, name); err != nil {
			return err
		}
		s.changed(r, "group.delete", name, "", nil)
		writeText(w, http.StatusOK, "group "+name+" deleted")
		return nil
	})
}

// acl is the extra_perms granted on an item through acls/add.
func (s *Server) acl(r *http.Request, kind, path string) map[string]bool {
	return s.Kept.ACL(r.Context(), s.Workspace, kind, path)
}

// Windmill's granular ACLs: kept per item and given back as its
// extra_perms (groups, scripts, flows, apps). millrun has one person, so
// they grant nothing here.
func (s *Server) registerACLs(mux routes) {
	change := func(add bool) handlerFunc {
		return func(w http.ResponseWriter, r *http.Request) error {
			var body struct {
				Owner string `json:"owner"`
				Write bool   `json:"write"`
			}
			if err := s.decodeBody(r, &body); err != nil {
				return err
			}
			kind, path := r.PathValue("kind"), r.PathValue("path")
			if err := s.Kept.Grant(r.Context(), s.Workspace, kind, path, body.Owner, body.Write, add); err != nil {
				return err
			}
			s.changed(r, "acl.update", kind+"/"+path, body.Owner, nil)
			writeText(w, http.StatusOK, "acl updated")
			return nil
		}
	}
	mux.full("POST /api/w/{ws}/acls/add/{kind}/{path...}", "acls:write", change(true))
	mux.full("POST /api/w/{ws}/acls/remove/{kind}/{path...}", "acls:write", change(false))
	mux.full("GET /api/w/{ws}/acls/get/{kind}/{path...}", "acls:read", func(w http.ResponseWriter, r *http.Request) error {
		httpx.JSON(w, http.StatusOK, s.acl(r, r.PathValue("kind"), r.PathValue("path")))
		return nil
	})
}
