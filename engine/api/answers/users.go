package answers

import "encoding/json"

// GlobalWhoami is Windmill's GlobalUserInfo (/api/users/whoami), which
// the wmill CLI asks before every command.
type GlobalWhoami struct {
	Disabled      bool   `json:"disabled"`
	Email         string `json:"email"`
	FirstTimeUser bool   `json:"first_time_user"`
	LoginType     string `json:"login_type"`
	Name          string `json:"name"`
	OperatorOnly  bool   `json:"operator_only"`
	RoleSource    string `json:"role_source"`
	SuperAdmin    bool   `json:"super_admin"`
	Username      string `json:"username"`
	Verified      bool   `json:"verified"`
}

// WorkspaceWhoami is Windmill's User as /api/w/{ws}/users/whoami gives it.
type WorkspaceWhoami struct {
	CreatedAt     string   `json:"created_at"`
	Disabled      bool     `json:"disabled"`
	Email         string   `json:"email"`
	Folders       []string `json:"folders"`
	FoldersOwners []string `json:"folders_owners"`
	FoldersRead   []string `json:"folders_read"`
	Groups        []string `json:"groups"`
	IsAdmin       bool     `json:"is_admin"`
	IsSuperAdmin  bool     `json:"is_super_admin"`
	Operator      bool     `json:"operator"`
	Username      string   `json:"username"`
}

// Workspace is one entry of Windmill's workspaces/list.
type Workspace struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Owner string `json:"owner"`
}

// WorkspaceUser is a kept workspace user, as Windmill's users/list and
// users/get give one.
type WorkspaceUser struct {
	AddedVia      any      `json:"added_via"`
	CreatedAt     string   `json:"created_at"`
	Disabled      bool     `json:"disabled"`
	Email         string   `json:"email"`
	Folders       []string `json:"folders"`
	FoldersOwners []string `json:"folders_owners"`
	Groups        []string `json:"groups"`
	IsAdmin       bool     `json:"is_admin"`
	Operator      bool     `json:"operator"`
	Role          string   `json:"role" tstype:"\"admin\" | \"developer\" | \"operator\""`
	Username      string   `json:"username"`
	WorkspaceID   string   `json:"workspace_id"`
}

// Group is Windmill's Group: a kept group, or "all".
type Group struct {
	ExtraPerms  ExtraPerms `json:"extra_perms"`
	Members     []string   `json:"members"` // usernames
	Name        string     `json:"name"`
	Summary     *string    `json:"summary" tstype:"string | null,required"`
	WorkspaceID string     `json:"workspace_id"`
}

// WorkspaceDependencies is a kept workspace dependencies file (Windmill's
// workspace_dependencies): the requirements of one language, named or
// the language's default (name null).
type WorkspaceDependencies struct {
	Archived    bool    `json:"archived"`
	Content     string  `json:"content"`
	CreatedAt   string  `json:"created_at"`
	Description any     `json:"description"`
	Language    string  `json:"language"`
	Name        *string `json:"name" tstype:"string | null,required"`
	WorkspaceID string  `json:"workspace_id"`
}

// Token is one entry of Windmill's tokens/list (the secret is never
// shown again), with millrun's current.
type Token struct {
	CreatedAt   json.RawMessage `json:"created_at" tstype:"string"`
	Current     bool            `json:"current"` // the token this request came with: revoking it logs this browser out
	Expiration  json.RawMessage `json:"expiration" tstype:"string | null"`
	Label       string          `json:"label"`
	LastUsedAt  json.RawMessage `json:"last_used_at" tstype:"string | null"`
	Scopes      json.RawMessage `json:"scopes" tstype:"string[] | null"`
	TokenPrefix string          `json:"token_prefix"`
}
