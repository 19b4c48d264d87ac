package answers

import "encoding/json"

// ScriptVersion is one entry of a script's history, newest first.
type ScriptVersion struct {
	CreatedAt  string `json:"created_at"`
	ScriptHash string `json:"script_hash"`
	Summary    string `json:"summary"`
}

// ScriptCheck says where a script stops parsing (line and message), or
// that it parses.
type ScriptCheck struct {
	Line    *int    `json:"line,omitempty"`
	Message *string `json:"message,omitempty"`
	OK      bool    `json:"ok"`
}

// DeploymentStatus is a version's lock as its dependency job left it
// (Windmill's deployment status): the lock, or why resolving it failed.
type DeploymentStatus struct {
	JobID         any     `json:"job_id"`
	Lock          *string `json:"lock" tstype:"string | null,required"`
	LockErrorLogs *string `json:"lock_error_logs" tstype:"string | null,required"`
}

// Script is Windmill's Script (the fields millrun has). The fields a
// client pushed that millrun keeps without a column for them (tag, envs,
// priority, a newer Windmill's) are given back among these, as pushed:
// the answer is this struct with them put over it.
type Script struct {
	Archived               bool            `json:"archived"`
	CacheTTL               any             `json:"cache_ttl" tstype:"number | null"`
	ConcurrentLimit        *int            `json:"concurrent_limit" tstype:"number | null,required"`
	Content                *string         `json:"content,omitempty"` // not in lists
	CreatedAt              string          `json:"created_at"`
	CreatedBy              string          `json:"created_by"`
	DedicatedWorker        *bool           `json:"dedicated_worker" tstype:"boolean | null,required"` // null when off, as Windmill answers
	DeleteAfterUse         bool            `json:"delete_after_use"`
	Deleted                bool            `json:"deleted"`
	Description            string          `json:"description"`
	DraftOnly              bool            `json:"draft_only"`
	ExtraPerms             ExtraPerms      `json:"extra_perms"`
	HasDraft               bool            `json:"has_draft"`
	HasPreprocessor        bool            `json:"has_preprocessor"`
	Hash                   string          `json:"hash"`
	IsTemplate             bool            `json:"is_template"`
	Kind                   string          `json:"kind"`
	Language               string          `json:"language"`
	LastStatus             *string         `json:"last_status,omitempty"`                           // lists: the last run's status, "" before any
	Lock                   *string         `json:"lock" tstype:"string | null,required"`            // the dependency lock; null until resolved
	LockErrorLogs          *string         `json:"lock_error_logs" tstype:"string | null,required"` // why resolving the packages last failed
	NoMainFunc             bool            `json:"no_main_func"`                                    // a library: no main, imported by other scripts, never run
	ParentHashes           []string        `json:"parent_hashes"`
	Path                   string          `json:"path"`
	Priority               any             `json:"priority" tstype:"number | null"`
	RestartUnlessCancelled bool            `json:"restart_unless_cancelled"`
	RunCount               *int64          `json:"run_count,omitempty"` // lists
	Schema                 json.RawMessage `json:"schema" tstype:"Schema"`
	Starred                bool            `json:"starred"`
	Summary                string          `json:"summary"`
	Tag                    any             `json:"tag" tstype:"string | null"`
	Timeout                *int            `json:"timeout" tstype:"number | null,required"` // seconds; null: the default
	VisibleToRunnerOnly    bool            `json:"visible_to_runner_only"`
	WorkspaceID            string          `json:"workspace_id"`
	WsErrorHandlerMuted    bool            `json:"ws_error_handler_muted"`
}

// Flow is Windmill's Flow (the fields millrun has), with the fields a
// client pushed that millrun keeps put over it, as Script's are.
type Flow struct {
	Archived    bool            `json:"archived"`
	Description string          `json:"description"`
	EditedAt    string          `json:"edited_at"`
	EditedBy    string          `json:"edited_by"`
	ExtraPerms  ExtraPerms      `json:"extra_perms"`
	Hash        string          `json:"hash"`
	Path        string          `json:"path"`
	Schema      json.RawMessage `json:"schema" tstype:"Schema"`
	Summary     string          `json:"summary"`
	Value       json.RawMessage `json:"value,omitempty"` // the definition; not in lists
	WorkspaceID string          `json:"workspace_id"`
}
