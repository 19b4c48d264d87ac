package kept

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

// TriggerKinds are Windmill's triggers millrun has no listener for (it
// serves HTTP routes only): kept and given back, never started.
var TriggerKinds = []string{"websocket", "kafka", "nats", "postgres", "mqtt", "amqp", "sqs", "gcp", "azure", "email"}

// triggerKind is the kind a trigger of one of TriggerKinds is kept as.
func triggerKind(kind string) string { return "trigger:" + kind }

// notTriggerField are a trigger request's fields the server owns or that
// say how to save it: not kept.
var notTriggerField = map[string]bool{
	"path": true, "workspace_id": true, "edited_by": true, "edited_at": true, "error": true, "last_server_ping": true,
	"server_id": true, "extra_perms": true, "email": true, "permissioned_as": true, "preserve_permissioned_as": true,
}

func triggerNotFound(err error, kind, path string) error {
	if errors.Is(err, store.ErrNotFound) {
		return &errs.NotFound{Msg: kind + " trigger not found at path " + path, Err: err}
	}
	return err
}

// Trigger returns the kind's trigger at path; an *errs.NotFound when there
// is none.
func (k *Items) Trigger(ctx context.Context, ws, kind, path string) (Document, error) {
	it, err := k.Get(ctx, ws, triggerKind(kind), path)
	d := Document{Name: path, UpdatedAt: it.UpdatedAt}
	if err != nil {
		return d, triggerNotFound(err, kind, path)
	}
	d.Doc = Doc{}
	err = json.Unmarshal([]byte(it.Value), &d.Doc)
	return d, err
}

// TriggerExists reports whether the kind keeps a trigger at path.
func (k *Items) TriggerExists(ctx context.Context, ws, kind, path string) (bool, error) {
	_, err := k.Get(ctx, ws, triggerKind(kind), path)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	return err == nil, nil
}

// Triggers returns the kind's kept triggers, by path.
func (k *Items) Triggers(ctx context.Context, ws, kind string) ([]Document, error) {
	return k.documents(ctx, ws, triggerKind(kind))
}

// CreateTrigger keeps a new trigger at the path body names, which must be
// free, and returns the path.
func (k *Items) CreateTrigger(ctx context.Context, ws, kind string, body Doc) (string, error) {
	var path string
	_ = json.Unmarshal(body["path"], &path)
	if err := scripts.ValidatePath(path); err != nil {
		return path, errs.Invalidf("%s", err)
	}
	if _, err := k.Trigger(ctx, ws, kind, path); err == nil {
		return path, errs.Invalidf("%s trigger %s already exists", kind, path)
	}
	return path, k.putTrigger(ctx, ws, kind, path, body)
}

// UpdateTrigger replaces the trigger at path with what body sends: a
// trigger is saved whole, as Windmill does.
func (k *Items) UpdateTrigger(ctx context.Context, ws, kind, path string, body Doc) error {
	if err := scripts.ValidatePath(path); err != nil {
		return errs.Invalidf("%s", err)
	}
	if _, err := k.Trigger(ctx, ws, kind, path); err != nil {
		return err
	}
	return k.putTrigger(ctx, ws, kind, path, body)
}

func (k *Items) putTrigger(ctx context.Context, ws, kind, path string, body Doc) error {
	d := Doc{}
	for f, v := range body {
		if !notTriggerField[f] {
			d[f] = v
		}
	}
	return k.Put(ctx, ws, triggerKind(kind), path, d)
}

// DeleteTrigger forgets the kind's trigger at path.
func (k *Items) DeleteTrigger(ctx context.Context, ws, kind, path string) error {
	return triggerNotFound(k.Delete(ctx, ws, triggerKind(kind), path), kind, path)
}
