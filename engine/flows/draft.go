package flows

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/millrun/millrun/engine/store"
)

// KindPreview is the job kind of an unsaved flow run (Windmill's
// flowpreview): its definition travels with the job, as a script
// preview's code does, instead of naming a saved version.
const KindPreview = "flowpreview"

// Draft checks an unsaved flow as Save would and gives it the schema a
// save without one would infer, so a draft tested in the editor fills in
// the same defaults as the flow once saved. path is where the draft will
// be saved ("" when unknown): a flow step may not run it.
func (c *Catalog) Draft(ctx context.Context, workspace, path string, value json.RawMessage) (*Flow, error) {
	if len(value) == 0 || string(value) == "null" {
		return nil, invalid(`value is missing: send {"value": {"modules": [...]}, "args": {...}}`)
	}
	var def Value
	if err := json.Unmarshal(value, &def); err != nil {
		return nil, invalid("value is not a flow definition: %s", err)
	}
	if err := c.validate(ctx, workspace, path, &def); err != nil {
		return nil, err
	}
	compact, _ := json.Marshal(value)
	return &Flow{FlowVersion: store.FlowVersion{Workspace: workspace, Path: path, Value: string(compact),
		Schema: string(c.inferSchema(ctx, workspace, &def))}, Def: def}, nil
}

// load is the flow a flow job runs: the saved version it names, or the
// draft it was queued with.
func (x *Executor) load(ctx context.Context, job *store.Job) (*Flow, error) {
	return x.Flows.ofJob(ctx, job)
}

func (c *Catalog) ofJob(ctx context.Context, job *store.Job) (*Flow, error) {
	if job.Kind != KindPreview {
		f, err := c.ByHash(ctx, job.Workspace, job.ScriptHash)
		if err != nil {
			return nil, fmt.Errorf("flow version %s cannot be loaded: %w", job.ScriptHash, err)
		}
		return f, nil
	}
	code, err := c.db.GetJobCode(ctx, job.ID)
	if err != nil {
		return nil, fmt.Errorf("the definition of flow preview %s is gone: %w", job.ID, err)
	}
	return c.Draft(ctx, job.Workspace, job.ScriptPath, json.RawMessage(code.Content))
}
