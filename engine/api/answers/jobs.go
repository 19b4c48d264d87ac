package answers

import "encoding/json"

// Job is Windmill's QueuedJob or CompletedJob (Type says which), plus
// millrun's status, trigger and headers. The fields only one of the two
// carries are left out of the other; those that are there but null are
// json.RawMessage("null"), so that absent and null stay apart.
type Job struct {
	Args           json.RawMessage `json:"args" tstype:"{ [key: string]: unknown } | null"` // null in lists when large
	ArgsTruncated  bool            `json:"args_truncated"`
	Canceled       bool            `json:"canceled"`
	CanceledBy     string          `json:"canceled_by,omitempty"`
	CanceledReason string          `json:"canceled_reason,omitempty"`
	// Times are RFC 3339 in UTC with microseconds, or null when unset.
	CompletedAt              json.RawMessage `json:"completed_at,omitempty" tstype:"string"` // CompletedJob
	CreatedAt                json.RawMessage `json:"created_at" tstype:"string"`
	CreatedBy                string          `json:"created_by"`
	Deleted                  *bool           `json:"deleted,omitempty"`     // CompletedJob
	DurationMs               *int64          `json:"duration_ms,omitempty"` // CompletedJob
	Email                    string          `json:"email"`
	FlowStatus               json.RawMessage `json:"flow_status,omitempty" tstype:"FlowStatus"`
	Headers                  json.RawMessage `json:"headers,omitempty" tstype:"{ [key: string]: string }"` // the webhook request's, as recorded
	ID                       string          `json:"id"`
	IsFlowStep               bool            `json:"is_flow_step"`
	IsSkipped                *bool           `json:"is_skipped,omitempty"` // CompletedJob
	JobKind                  string          `json:"job_kind"`
	Language                 string          `json:"language,omitempty"`
	Logs                     *string         `json:"logs,omitempty"` // the last 20,000 characters; not in lists
	ParentJob                string          `json:"parent_job,omitempty"`
	PermissionedAs           string          `json:"permissioned_as"`
	Result                   json.RawMessage `json:"result,omitempty"`         // CompletedJob, not in lists
	ResultColumns            json.RawMessage `json:"result_columns,omitempty"` // CompletedJob: null
	Running                  *bool           `json:"running,omitempty"`        // QueuedJob
	SameWorker               bool            `json:"same_worker"`
	SchedulePath             string          `json:"schedule_path,omitempty"`
	ScheduledFor             json.RawMessage `json:"scheduled_for,omitempty" tstype:"string"` // QueuedJob
	ScriptEntrypointOverride json.RawMessage `json:"script_entrypoint_override,omitempty"`    // QueuedJob: null
	ScriptHash               string          `json:"script_hash,omitempty"`
	ScriptPath               string          `json:"script_path,omitempty"`
	StartedAt                json.RawMessage `json:"started_at,omitempty" tstype:"string | null"` // CompletedJob; a QueuedJob once started
	Status                   string          `json:"status"`
	Success                  *bool           `json:"success,omitempty"` // CompletedJob
	Tag                      string          `json:"tag"`
	Trigger                  string          `json:"trigger"`
	Type                     string          `json:"type" tstype:"\"QueuedJob\" | \"CompletedJob\""`
	VisibleToOwner           bool            `json:"visible_to_owner"`
	WorkspaceID              string          `json:"workspace_id"`
}

// ResultMaybe is Windmill's get_result_maybe, what windmill-client's
// waitJob polls: never a 404, null where nothing is known yet.
type ResultMaybe struct {
	Completed bool            `json:"completed"`
	Result    json.RawMessage `json:"result"`
	Started   *bool           `json:"started" tstype:"boolean | null,required"`
	Success   *bool           `json:"success" tstype:"boolean | null,required"`
}

// JobUpdate is what `wmill script run` polls: the state and the logs
// written since the log_offset it sent.
type JobUpdate struct {
	Completed  bool            `json:"completed"`
	FlowStatus json.RawMessage `json:"flow_status,omitempty" tstype:"FlowStatus"`
	LogOffset  int             `json:"log_offset"` // send it back to get what comes after
	NewLogs    string          `json:"new_logs"`
	Running    bool            `json:"running"`
}

// JobCount is Windmill's count of jobs (completed/count, queue/count).
type JobCount struct {
	DatabaseLength int `json:"database_length"`
}
