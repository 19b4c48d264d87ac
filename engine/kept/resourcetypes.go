package kept

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/store"
)

// ResourceType is the kind of Windmill's resource types. millrun checks
// no resource against its type; the types travel with the workspace.
const ResourceType = "resource_type"

// Document is a kept item read as its JSON object.
type Document struct {
	Name      string
	UpdatedAt time.Time
	Doc       Doc
}

// notResourceTypeField are the server's own fields of a resource type: a
// client may post them back, they are not kept.
var notResourceTypeField = map[string]bool{"name": true, "workspace_id": true, "created_by": true, "edited_at": true}

func resourceTypeNotFound(err error, name string) error {
	if errors.Is(err, store.ErrNotFound) {
		return &errs.NotFound{Msg: "resource type " + name + " not found", Err: err}
	}
	return err
}

// ResourceTypeNamed returns a resource type; an *errs.NotFound when there
// is none.
func (k *Items) ResourceTypeNamed(ctx context.Context, ws, name string) (Document, error) {
	it, err := k.Get(ctx, ws, ResourceType, name)
	if err != nil {
		return Document{Name: name}, resourceTypeNotFound(err, name)
	}
	d := Document{Name: name, UpdatedAt: it.UpdatedAt, Doc: Doc{}}
	_ = json.Unmarshal([]byte(it.Value), &d.Doc)
	return d, nil
}

// ResourceTypeExists reports whether a resource type is kept.
func (k *Items) ResourceTypeExists(ctx context.Context, ws, name string) (bool, error) {
	_, err := k.Get(ctx, ws, ResourceType, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	return err == nil, nil
}

// ResourceTypes returns the kept resource types, by name.
func (k *Items) ResourceTypes(ctx context.Context, ws string) ([]Document, error) {
	return k.documents(ctx, ws, ResourceType)
}

// documents reads the kind's kept items as documents, by name.
func (k *Items) documents(ctx context.Context, ws, kind string) ([]Document, error) {
	items, err := k.List(ctx, ws, kind)
	if err != nil {
		return nil, err
	}
	out := make([]Document, len(items))
	for i, it := range items {
		out[i] = Document{Name: it.Name, UpdatedAt: it.UpdatedAt, Doc: Doc{}}
		_ = json.Unmarshal([]byte(it.Value), &out[i].Doc)
	}
	return out, nil
}

// CreateResourceType keeps a new resource type named by body's name, an
// identifier that must be free, and returns the name.
func (k *Items) CreateResourceType(ctx context.Context, ws string, body Doc) (string, error) {
	var name string
	_ = json.Unmarshal(body["name"], &name)
	if !Identifier.MatchString(name) {
		return name, errs.Invalidf("resource type name %q: use letters, digits and _", name)
	}
	if _, err := k.Get(ctx, ws, ResourceType, name); err == nil {
		return name, errs.Invalidf("resource type %s already exists", name)
	}
	for f := range notResourceTypeField {
		delete(body, f)
	}
	return name, k.Put(ctx, ws, ResourceType, name, body)
}

// UpdateResourceType changes the fields body sends of a resource type;
// the others stay as they were.
func (k *Items) UpdateResourceType(ctx context.Context, ws, name string, body Doc) error {
	it, err := k.Get(ctx, ws, ResourceType, name)
	if err != nil {
		return resourceTypeNotFound(err, name)
	}
	d := Doc{}
	if err := json.Unmarshal([]byte(it.Value), &d); err != nil {
		return err
	}
	for f, v := range body {
		if !notResourceTypeField[f] {
			d[f] = v
		}
	}
	return k.Put(ctx, ws, ResourceType, name, d)
}

// DeleteResourceType forgets a resource type.
func (k *Items) DeleteResourceType(ctx context.Context, ws, name string) error {
	return resourceTypeNotFound(k.Delete(ctx, ws, ResourceType, name), name)
}

// FileFormat says how a pull writes the resources of a type as files of
// their own: with an extension, or as a fileset folder.
type FileFormat struct {
	Extension string
	Fileset   bool
}

// FileResourceTypes returns the resource types whose resources a pull
// writes as files of their own, by name.
func (k *Items) FileResourceTypes(ctx context.Context, ws string) (map[string]FileFormat, error) {
	types, err := k.ResourceTypes(ctx, ws)
	if err != nil {
		return nil, err
	}
	out := map[string]FileFormat{}
	for _, t := range types {
		var f FileFormat
		_ = json.Unmarshal(t.Doc["format_extension"], &f.Extension)
		_ = json.Unmarshal(t.Doc["is_fileset"], &f.Fileset)
		if f.Extension != "" || f.Fileset {
			out[t.Name] = f
		}
	}
	return out, nil
}
