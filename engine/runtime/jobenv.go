package runtime

import "strings"

// JobEnv is what a job is told of itself, in Windmill's WM_* variables.
type JobEnv struct {
	Workspace, JobID, Path, Hash string
	// SchedulePath is the schedule that started the run (for a flow's
	// step, the flow's schedule).
	SchedulePath string
	// FlowPath and StepID place a flow's step: its flow and its id there.
	FlowPath, StepID string
	// FlowJobID is a step's parent job (its flow, loop iteration or
	// branch) and RootFlowJobID the top-level flow job; empty for a
	// script job.
	FlowJobID, RootFlowJobID string
	// User is the person running millrun: the trigger of scheduled runs'
	// state paths.
	User string
	// BaseURL is where jobs reach millrun (with or without /api); empty
	// when unknown.
	BaseURL string
	// Token is WM_TOKEN, for calling back into millrun.
	Token string
}

// Vars are the variables, as KEY=value.
func (j JobEnv) Vars() []string {
	state := StatePath(j.User, j.Path, j.SchedulePath, j.FlowPath, j.StepID)
	env := []string{
		"WM_WORKSPACE=" + j.Workspace,
		"WM_JOB_ID=" + j.JobID,
		"WM_JOB_PATH=" + j.Path,
		"WM_SCRIPT_HASH=" + j.Hash,
		// Windmill sets these for every job, empty when they do not apply.
		"WM_SCHEDULE_PATH=" + j.SchedulePath,
		"WM_FLOW_PATH=" + j.FlowPath,
		"WM_FLOW_STEP_ID=" + j.StepID,
		// Older wmill clients read WM_STATE_PATH, newer ones
		// WM_STATE_PATH_NEW first; Windmill gives both the same value.
		"WM_STATE_PATH=" + state,
		"WM_STATE_PATH_NEW=" + state,
	}
	if j.FlowJobID != "" {
		env = append(env, "WM_FLOW_JOB_ID="+j.FlowJobID, "WM_ROOT_FLOW_JOB_ID="+j.RootFlowJobID)
	}
	if j.BaseURL != "" {
		// Windmill's clients add /api themselves (windmill-client's
		// setClient, wmill's Python client), so these name the root.
		root := strings.TrimSuffix(j.BaseURL, "/api")
		env = append(env, "WM_BASE_URL="+root, "BASE_URL="+root, "BASE_INTERNAL_URL="+root)
	}
	if j.Token != "" {
		env = append(env, "WM_TOKEN="+j.Token)
	}
	return env
}

// StatePath is the resource path where wmill's get_state/set_state keep
// a job's state, by Windmill's rule (get_reserved_variables in
// backend/windmill-common/src/variables.rs): the trigger is the user's
// name for a scheduled run and "user" for any other, so a script keeps
// one state for its manual and webhook runs and one for its scheduled
// runs; a flow step keeps "<flow path>/<step id>_<trigger>", a script
// "<script path>/<trigger>", and a job without a path
// "u/<user>/tmp_state".
func StatePath(user, scriptPath, schedulePath, flowPath, stepID string) string {
	trigger := "user"
	if schedulePath != "" {
		trigger = user
	}
	switch {
	case flowPath != "":
		id := stepID
		if id == "" {
			id = "nostep"
		}
		return flowPath + "/" + id + "_" + trigger
	case scriptPath != "":
		if strings.HasSuffix(scriptPath, "/") {
			scriptPath += "state"
		}
		return scriptPath + "/" + trigger
	}
	return "u/" + user + "/tmp_state"
}
