package answers

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
