package answers

import "encoding/json"

// Folder is Windmill's Folder.
type Folder struct {
	CreatedBy   string          `json:"created_by"`
	DisplayName string          `json:"display_name"`
	EditedAt    string          `json:"edited_at"`
	ExtraPerms  json.RawMessage `json:"extra_perms" tstype:"ExtraPerms"`
	Name        string          `json:"name"`
	Owners      json.RawMessage `json:"owners" tstype:"string[]"`
	Summary     *string         `json:"summary" tstype:"string | null,required"`
	WorkspaceID string          `json:"workspace_id"`
}
