package answers

import "encoding/json"

// Windmill's items millrun keeps as documents without running them:
// each answer is the server's fields below with the document as pushed
// put over them.

// ResourceType is Windmill's ResourceType.
type ResourceType struct {
	CreatedBy       string          `json:"created_by"`
	Description     json.RawMessage `json:"description" tstype:"string | null"`
	EditedAt        string          `json:"edited_at"`
	FormatExtension json.RawMessage `json:"format_extension" tstype:"string | null"`
	IsFileset       bool            `json:"is_fileset"`
	Name            string          `json:"name"`
	Schema          json.RawMessage `json:"schema"`
	WorkspaceID     string          `json:"workspace_id"`
}

// App is Windmill's App (one version: millrun keeps the latest).
type App struct {
	CreatedAt   string     `json:"created_at"`
	CreatedBy   string     `json:"created_by"`
	EditedAt    string     `json:"edited_at"`
	ExtraPerms  ExtraPerms `json:"extra_perms"`
	ID          int        `json:"id"`
	Path        string     `json:"path"`
	RawApp      bool       `json:"raw_app"`
	Summary     string     `json:"summary"`
	Versions    []int      `json:"versions"`
	WorkspaceID string     `json:"workspace_id"`
}

// KeptTrigger is one of Windmill's triggers millrun has no listener for
// (websocket, kafka, postgres, ...).
type KeptTrigger struct {
	EditedAt    string     `json:"edited_at"`
	EditedBy    string     `json:"edited_by"`
	Email       string     `json:"email"`
	ExtraPerms  ExtraPerms `json:"extra_perms"`
	Path        string     `json:"path"`
	WorkspaceID string     `json:"workspace_id"`
}
