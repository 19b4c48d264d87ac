package scripts

import (
	"encoding/json"
	"strings"

	"github.com/millrun/millrun/engine/runtime"
)

// KeptLanguageExt is the export file extension of a Windmill language
// millrun keeps but cannot run; "" when lang is not one.
func KeptLanguageExt(lang string) string { return runtime.KeptLanguageExt(lang) }

// CannotRun is the error for running a script in a language millrun keeps
// but cannot run (a 400 on the run routes).
func CannotRun(lang string) error { return runtime.CannotRun(lang) }

// notExtra are the create request's fields that are columns of a version
// or say how to save it, not what it is.
var notExtra = map[string]bool{
	"path": true, "content": true, "language": true, "summary": true, "description": true, "lock": true,
	"parent_hash": true,
	// How a save is made, never given back (Windmill's export has none).
	"deployment_message": true, "auto_parent": true, "preserve_on_behalf_of": true, "on_behalf_of": true,
	"draft_only": true, "skip_draft_deletion": true,
	// The server's own, which a client posting a script it read sends back
	// (wmill's set-permissioned-as posts the whole Script).
	"workspace_id": true, "hash": true, "created_by": true, "created_at": true, "archived": true, "deleted": true,
	"extra_perms": true, "starred": true, "has_draft": true, "lock_error_logs": true, "parent_hashes": true,
	"run_count": true, "last_status": true, "permissioned_as": true,
}

// UnmarshalJSON reads Windmill's NewScript: the fields millrun models, and
// every other one into Extra as sent (a null is the same as absent).
func (r *CreateRequest) UnmarshalJSON(b []byte) error {
	type plain CreateRequest
	if err := json.Unmarshal(b, (*plain)(r)); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	r.Extra = nil
	for k, v := range all {
		if notExtra[k] || string(v) == "null" {
			continue
		}
		if r.Extra == nil {
			r.Extra = map[string]json.RawMessage{}
		}
		r.Extra[k] = v
	}
	return nil
}

// Options are what a version's extra fields change in how its jobs run.
type Options struct {
	Envs           []string // KEY=value, set in the job's environment
	Priority       int      // higher runs first among due jobs
	DeleteAfterUse bool     // the job's arguments, result and logs are emptied once it ends
}

// ParseOptions reads Options from a version's extra fields; fields of the
// wrong type are ignored (they are kept and given back all the same).
func ParseOptions(extra string) Options {
	var o Options
	if extra == "" {
		return o
	}
	var f struct {
		Envs           []string `json:"envs"`
		Priority       *int     `json:"priority"`
		DeleteAfterUse bool     `json:"delete_after_use"`
	}
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(extra), &m) != nil {
		return o
	}
	_ = json.Unmarshal(m["envs"], &f.Envs)
	_ = json.Unmarshal(m["priority"], &f.Priority)
	_ = json.Unmarshal(m["delete_after_use"], &f.DeleteAfterUse)
	for _, e := range f.Envs {
		// Windmill's envs are KEY=value lines; anything else sets nothing.
		if k, _, ok := strings.Cut(e, "="); ok && k != "" {
			o.Envs = append(o.Envs, e)
		}
	}
	if f.Priority != nil {
		o.Priority = *f.Priority
	}
	o.DeleteAfterUse = f.DeleteAfterUse
	return o
}
