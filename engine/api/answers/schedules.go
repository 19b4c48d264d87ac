package answers

import "encoding/json"

// Schedule is Windmill's Schedule, with millrun's next_run, missed and
// the plain-words reading of the cron (description_words).
type Schedule struct {
	Args                json.RawMessage `json:"args" tstype:"{ [key: string]: unknown }"`
	CronVersion         string          `json:"cron_version"`
	Description         string          `json:"description"`
	DescriptionWords    string          `json:"description_words,omitempty"` // absent when the cron does not parse
	EditedAt            string          `json:"edited_at"`
	EditedBy            string          `json:"edited_by"`
	Email               string          `json:"email"`
	Enabled             bool            `json:"enabled"`
	Error               *string         `json:"error" tstype:"string | null,required"` // why the last run could not start
	ExtraPerms          ExtraPerms      `json:"extra_perms"`
	IsFlow              bool            `json:"is_flow"`
	Missed              string          `json:"missed" tstype:"\"skip\" | \"run_once\""`
	NextRun             *string         `json:"next_run" tstype:"string | null,required"`
	NoFlowOverlap       bool            `json:"no_flow_overlap"`
	OnFailure           *string         `json:"on_failure" tstype:"string | null,required"`
	OnFailureExact      bool            `json:"on_failure_exact"`
	OnFailureExtraArgs  any             `json:"on_failure_extra_args"`
	OnFailureTimes      int             `json:"on_failure_times"`
	OnRecovery          any             `json:"on_recovery"`
	OnSuccess           any             `json:"on_success"`
	Path                string          `json:"path"`
	PausedUntil         any             `json:"paused_until"`
	Retry               any             `json:"retry"`
	Schedule            string          `json:"schedule"`
	ScriptPath          string          `json:"script_path"`
	Summary             *string         `json:"summary" tstype:"string | null,required"`
	Tag                 any             `json:"tag"`
	Timezone            string          `json:"timezone"`
	WorkspaceID         string          `json:"workspace_id"`
	WsErrorHandlerMuted bool            `json:"ws_error_handler_muted"`
}

// ScheduleFile is a schedule's .schedule.json in a workspace export: the
// Schedule without what Windmill's export leaves out and what millrun
// computes (the next run, the words).
type ScheduleFile struct {
	Args                json.RawMessage `json:"args" tstype:"{ [key: string]: unknown }"`
	CronVersion         string          `json:"cron_version"`
	Description         string          `json:"description"`
	Enabled             bool            `json:"enabled"`
	IsFlow              bool            `json:"is_flow"`
	Missed              string          `json:"missed" tstype:"\"skip\" | \"run_once\""`
	NoFlowOverlap       bool            `json:"no_flow_overlap"`
	OnFailure           *string         `json:"on_failure" tstype:"string | null,required"`
	OnFailureExact      bool            `json:"on_failure_exact"`
	OnFailureExtraArgs  any             `json:"on_failure_extra_args"`
	OnFailureTimes      int             `json:"on_failure_times"`
	OnRecovery          any             `json:"on_recovery"`
	OnSuccess           any             `json:"on_success"`
	PausedUntil         any             `json:"paused_until"`
	Retry               any             `json:"retry"`
	Schedule            string          `json:"schedule"`
	ScriptPath          string          `json:"script_path"`
	Summary             *string         `json:"summary" tstype:"string | null,required"`
	Tag                 any             `json:"tag"`
	Timezone            string          `json:"timezone"`
	WsErrorHandlerMuted bool            `json:"ws_error_handler_muted"`
}

// File is the schedule as a workspace export writes it.
func (s Schedule) File() ScheduleFile {
	return ScheduleFile{
		Args: s.Args, CronVersion: s.CronVersion, Description: s.Description, Enabled: s.Enabled, IsFlow: s.IsFlow,
		Missed: s.Missed, NoFlowOverlap: s.NoFlowOverlap, OnFailure: s.OnFailure, OnFailureExact: s.OnFailureExact,
		OnFailureExtraArgs: s.OnFailureExtraArgs, OnFailureTimes: s.OnFailureTimes, OnRecovery: s.OnRecovery,
		OnSuccess: s.OnSuccess, PausedUntil: s.PausedUntil, Retry: s.Retry, Schedule: s.Schedule,
		ScriptPath: s.ScriptPath, Summary: s.Summary, Tag: s.Tag, Timezone: s.Timezone,
		WsErrorHandlerMuted: s.WsErrorHandlerMuted,
	}
}

// CronExplained is what the UI shows under the cron field as it is typed.
type CronExplained struct {
	Description string   `json:"description"` // the cron in words
	Next        []string `json:"next"`        // the next due times, RFC 3339
	Schedule    string   `json:"schedule"`
	Timezone    string   `json:"timezone"`
}
