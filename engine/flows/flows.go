// Package flows defines millrun's flows (Windmill's OpenFlow subset: a
// sequence of inline or referenced scripts with input transforms and an
// optional early return) and runs them.
package flows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/dop251/goja"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

// Value is the flow definition (OpenFlow's "value").
type Value struct {
	Modules     []Module `json:"modules"`
	EarlyReturn string   `json:"early_return,omitempty"`
}

// Module is one step.
type Module struct {
	ID      string      `json:"id"`
	Summary string      `json:"summary,omitempty"`
	Value   ModuleValue `json:"value"`
}

// ModuleValue says what a step runs: an inline script or a saved one.
type ModuleValue struct {
	Type            string               `json:"type"` // rawscript or script
	Content         string               `json:"content,omitempty"`
	Language        string               `json:"language,omitempty"`
	Path            string               `json:"path,omitempty"`
	Hash            string               `json:"hash,omitempty"`
	InputTransforms map[string]Transform `json:"input_transforms"`
}

// Transform computes one argument of a step.
type Transform struct {
	Type  string          `json:"type"` // static or javascript
	Value json.RawMessage `json:"value,omitempty"`
	Expr  string          `json:"expr,omitempty"`
}

// CreateRequest is Windmill's flows/create body.
type CreateRequest struct {
	Path        string          `json:"path"`
	Summary     string          `json:"summary"`
	Description string          `json:"description"`
	Value       json.RawMessage `json:"value"`
	Schema      json.RawMessage `json:"schema,omitempty"`
}

// Flow is a stored version with its parsed definition.
type Flow struct {
	store.FlowVersion
	Def Value
}

// invalid is an input error (errs.Invalid: a 400 saying how to fix it).
func invalid(format string, a ...any) error { return errs.Invalidf(format, a...) }

var idRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Catalog stores and finds flow versions.
type Catalog struct {
	db      *store.DB
	scripts *scripts.Catalog
}

// NewCatalog returns a catalog over db; script steps are checked against sc.
func NewCatalog(db *store.DB, sc *scripts.Catalog) *Catalog { return &Catalog{db: db, scripts: sc} }

// Save validates req and stores it as the latest version at its path.
func (c *Catalog) Save(ctx context.Context, workspace string, req CreateRequest) (hash string, created bool, err error) {
	if err := scripts.ValidatePath(req.Path); err != nil {
		return "", false, invalid("%s", err)
	}
	if len(req.Value) == 0 || string(req.Value) == "null" {
		return "", false, invalid("value is missing: a flow needs {\"value\": {\"modules\": [...]}}")
	}
	var def Value
	if err := json.Unmarshal(req.Value, &def); err != nil {
		return "", false, invalid("value is not a flow definition: %s", err)
	}
	if err := c.validate(ctx, workspace, &def); err != nil {
		return "", false, err
	}
	schema := req.Schema
	if len(schema) == 0 || string(schema) == "null" {
		schema = json.RawMessage(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{},"required":[],"order":[]}`)
	} else if !json.Valid(schema) || schema[0] != '{' {
		return "", false, invalid("schema must be a JSON Schema object")
	}
	value, _ := json.Marshal(json.RawMessage(req.Value)) // compacted, as stored
	hash = scripts.Hash(workspace, req.Path, "flow", string(value)+"\x00"+string(schema))
	created, err = c.db.SaveFlowVersion(ctx, store.FlowVersion{Hash: hash, Workspace: workspace, Path: req.Path, Summary: req.Summary,
		Description: req.Description, Value: string(value), Schema: string(schema)})
	return hash, created, err
}

func (c *Catalog) validate(ctx context.Context, workspace string, def *Value) error {
	if len(def.Modules) == 0 {
		return invalid("the flow has no steps: value.modules is empty")
	}
	if len(def.Modules) > 100 {
		return invalid("the flow has %d steps; at most 100 are supported", len(def.Modules))
	}
	seen := map[string]bool{}
	for i, m := range def.Modules {
		if !idRE.MatchString(m.ID) {
			return invalid("step %d: id %q must be letters, digits and _ (e.g. a, b, notify)", i+1, m.ID)
		}
		if seen[m.ID] {
			return invalid("step id %q is used twice", m.ID)
		}
		seen[m.ID] = true
		switch m.Value.Type {
		case "rawscript":
			lang, err := scripts.NormalizeLanguage(m.Value.Language)
			if err != nil {
				return invalid("step %s: %s", m.ID, err)
			}
			if strings.TrimSpace(m.Value.Content) == "" {
				return invalid("step %s: the inline script is empty", m.ID)
			}
			if _, err := scripts.InferSchema(lang, m.Value.Content); err != nil {
				return invalid("step %s: %s", m.ID, err)
			}
		case "script":
			if err := scripts.ValidatePath(m.Value.Path); err != nil {
				return invalid("step %s: %s", m.ID, err)
			}
			v, err := stepScript(ctx, c.scripts, workspace, m)
			if err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return invalid("step %s: no script at %s (save it first)", m.ID, m.Value.Path)
				}
				return err
			}
			if err := v.Runnable(); err != nil {
				return err
			}
		default:
			return invalid("step %s: module type %q is not supported by millrun (use rawscript or script)", m.ID, m.Value.Type)
		}
		for name, t := range m.Value.InputTransforms {
			switch t.Type {
			case "static":
			case "javascript":
				if _, err := goja.Compile("", t.Expr, false); err != nil {
					return invalid("step %s, input %s: the expression does not parse: %s", m.ID, name, err)
				}
			default:
				return invalid("step %s, input %s: transform type %q is not supported (use static or javascript)", m.ID, name, t.Type)
			}
		}
	}
	if def.EarlyReturn != "" && !seen[def.EarlyReturn] {
		return invalid("early_return names step %q, which the flow does not have", def.EarlyReturn)
	}
	return nil
}

// stepScript is the version a script step runs: the one it pins, else
// the latest at its path.
func stepScript(ctx context.Context, sc *scripts.Catalog, workspace string, m Module) (*scripts.Version, error) {
	if m.Value.Hash != "" {
		return sc.ByHash(ctx, workspace, m.Value.Hash)
	}
	return sc.Latest(ctx, workspace, m.Value.Path)
}

// Runnable says why f cannot start: a script step whose script became a
// library after the flow was saved (or is gone, which the step reports
// when reached).
func (c *Catalog) Runnable(ctx context.Context, f *Flow) error {
	for _, m := range f.Def.Modules {
		if m.Value.Type != "script" {
			continue
		}
		v, err := stepScript(ctx, c.scripts, f.Workspace, m)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := v.Runnable(); err != nil {
			return err
		}
	}
	return nil
}

// Latest returns the latest version at path.
func (c *Catalog) Latest(ctx context.Context, workspace, path string) (*Flow, error) {
	v, err := c.db.LatestFlow(ctx, workspace, path)
	if err != nil {
		return nil, err
	}
	return parse(v)
}

// ByHash returns one exact version.
func (c *Catalog) ByHash(ctx context.Context, workspace, hash string) (*Flow, error) {
	v, err := c.db.FlowByHash(ctx, workspace, hash)
	if err != nil {
		return nil, err
	}
	return parse(v)
}

// Delete removes the flow at path with all its versions.
func (c *Catalog) Delete(ctx context.Context, workspace, path string) error {
	return c.db.DeleteFlow(ctx, workspace, path)
}

// List returns the latest version of every live flow, and of the archived
// ones too when archived is set.
func (c *Catalog) List(ctx context.Context, workspace string, archived bool) ([]store.FlowVersion, error) {
	return c.db.ListFlows(ctx, workspace, archived)
}

// Archive hides the flow at path from lists and runs by path, or brings it
// back with archived false.
func (c *Catalog) Archive(ctx context.Context, workspace, path string, archived bool) error {
	return c.db.ArchiveFlow(ctx, workspace, path, archived)
}

func parse(v store.FlowVersion) (*Flow, error) {
	f := &Flow{FlowVersion: v}
	if err := json.Unmarshal([]byte(v.Value), &f.Def); err != nil {
		return nil, fmt.Errorf("stored flow %s: %w", v.Hash, err)
	}
	return f, nil
}
