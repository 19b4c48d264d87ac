package kept

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

// Doc is a kept item's JSON object, its fields as they were sent.
type Doc = map[string]json.RawMessage

// KeptApp is one of Windmill's low-code apps, kept and given back; millrun
// shows and runs none of them.
type KeptApp struct {
	Path      string
	UpdatedAt time.Time
	Doc       Doc
}

// notAppField are the fields of an app request that say how to save it,
// and the server's own a client may post back: not kept.
var notAppField = map[string]bool{
	"path": true, "deployment_message": true, "skip_draft_deletion": true, "preserve_on_behalf_of": true,
	"workspace_id": true, "id": true, "versions": true, "created_at": true, "created_by": true, "edited_at": true,
	"extra_perms": true, "starred": true, "draft_only": true, "raw_app": true, "execution_mode": true,
}

func appNotFound(err error, path string) error {
	return &errs.NotFound{Msg: "App not found at path " + path, Err: err}
}

// App returns the app at path; an *errs.NotFound when there is none.
func (k *Items) App(ctx context.Context, ws, path string) (KeptApp, error) {
	it, err := k.Get(ctx, ws, App, path)
	if errors.Is(err, store.ErrNotFound) {
		return KeptApp{Path: path}, appNotFound(err, path)
	}
	a := KeptApp{Path: path, UpdatedAt: it.UpdatedAt}
	if err != nil {
		return a, err
	}
	a.Doc = Doc{}
	err = json.Unmarshal([]byte(it.Value), &a.Doc)
	return a, err
}

// AppExists reports whether an app is kept at path.
func (k *Items) AppExists(ctx context.Context, ws, path string) (bool, error) {
	_, err := k.App(ctx, ws, path)
	var missing *errs.NotFound
	if err != nil && !errors.As(err, &missing) {
		return false, err
	}
	return err == nil, nil
}

// Apps returns the kept apps, by path.
func (k *Items) Apps(ctx context.Context, ws string) ([]KeptApp, error) {
	items, err := k.List(ctx, ws, App)
	if err != nil {
		return nil, err
	}
	out := make([]KeptApp, len(items))
	for i, it := range items {
		out[i] = KeptApp{Path: it.Name, UpdatedAt: it.UpdatedAt, Doc: Doc{}}
		_ = json.Unmarshal([]byte(it.Value), &out[i].Doc)
	}
	return out, nil
}

// CreateApp keeps a new app at the path body names and returns the path;
// the path must be free.
func (k *Items) CreateApp(ctx context.Context, ws string, body Doc) (string, error) {
	var path string
	_ = json.Unmarshal(body["path"], &path)
	if err := scripts.ValidatePath(path); err != nil {
		return path, errs.Invalidf("%s", err)
	}
	if _, err := k.App(ctx, ws, path); err == nil {
		return path, errs.Invalidf("app %s already exists", path)
	}
	return path, k.putApp(ctx, ws, path, Doc{}, body)
}

// UpdateApp changes the fields body sends of the app at path; the others
// stay as they were.
func (k *Items) UpdateApp(ctx context.Context, ws, path string, body Doc) error {
	if err := scripts.ValidatePath(path); err != nil {
		return errs.Invalidf("%s", err)
	}
	old, err := k.App(ctx, ws, path)
	if err != nil {
		return err
	}
	return k.putApp(ctx, ws, path, old.Doc, body)
}

func (k *Items) putApp(ctx context.Context, ws, path string, d, body Doc) error {
	for f, v := range body {
		if !notAppField[f] {
			d[f] = v
		}
	}
	return k.Put(ctx, ws, App, path, d)
}

// DeleteApp forgets the app at path and the permissions granted on it.
func (k *Items) DeleteApp(ctx context.Context, ws, path string) error {
	if err := k.Delete(ctx, ws, App, path); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = appNotFound(err, path)
		}
		return err
	}
	k.dropACL(ctx, ws, "app", path)
	return nil
}

// AppFile is an app's <path>.app.json in a workspace export: what was
// pushed, without the policy's on_behalf_of (Windmill's export drops it),
// and the granted extra_perms when there are any. Its fields come in
// Windmill's order: summary, value, policy, custom_path, the rest by name,
// extra_perms.
type AppFile struct {
	Doc   Doc
	Perms map[string]bool
}

// AppFile returns what an export writes for app.
func (k *Items) AppFile(ctx context.Context, ws string, app KeptApp) AppFile {
	return AppFile{Doc: app.Doc, Perms: k.ACL(ctx, ws, "app", app.Path)}
}

var appFileFirst = []string{"summary", "value", "policy", "custom_path"}

func (f AppFile) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	field := func(key string, value any) error {
		if buf.Len() > 0 {
			buf.WriteByte(',')
		} else {
			buf.WriteByte('{')
		}
		k, _ := json.Marshal(key)
		v, err := json.Marshal(value)
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
		return err
	}
	for _, key := range appFileFirst {
		v, ok := f.Doc[key]
		if !ok {
			continue
		}
		if key == "policy" {
			p := map[string]json.RawMessage{}
			if json.Unmarshal(v, &p) == nil {
				delete(p, "on_behalf_of")
				delete(p, "on_behalf_of_email")
				v, _ = json.Marshal(p)
			}
		}
		if err := field(key, v); err != nil {
			return nil, err
		}
	}
	for _, key := range slices.Sorted(maps.Keys(f.Doc)) {
		if !slices.Contains(appFileFirst, key) {
			if err := field(key, f.Doc[key]); err != nil {
				return nil, err
			}
		}
	}
	if len(f.Perms) > 0 {
		if err := field("extra_perms", f.Perms); err != nil {
			return nil, err
		}
	}
	if buf.Len() == 0 {
		buf.WriteByte('{')
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
