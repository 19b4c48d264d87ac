package answers

import "encoding/json"

// The files of a workspace export (workspaces/tarball) that have a fixed
// shape, as Windmill's export writes them and wmill sync reads them.

// ResourceFile is a resource's .resource.json.
type ResourceFile struct {
	Description  string `json:"description"`
	ResourceType string `json:"resource_type"`
	Value        any    `json:"value"` // route credentials sealed unless plain secrets were asked for
}

// VariableFile is a variable's .variable.json.
type VariableFile struct {
	Account     any    `json:"account"`
	Description string `json:"description"`
	ExpiresAt   any    `json:"expires_at"`
	IsOauth     bool   `json:"is_oauth"`
	IsSecret    bool   `json:"is_secret"`
	Value       string `json:"value"` // a secret's sealed unless plain secrets were asked for
}

// FolderFile is a folder's folder.meta.json.
type FolderFile struct {
	DisplayName string          `json:"display_name"`
	ExtraPerms  json.RawMessage `json:"extra_perms" tstype:"ExtraPerms"`
	Owners      json.RawMessage `json:"owners" tstype:"string[]"`
	Summary     *string         `json:"summary" tstype:"string | null,required"`
}

// FileResourceType is an entry of Windmill's
// file_resource_type_to_file_ext_map: a resource type whose resources a
// pull writes as files of their own.
type FileResourceType struct {
	FormatExtension *string `json:"format_extension" tstype:"string | null,required"`
	IsFileset       bool    `json:"is_fileset"`
}
