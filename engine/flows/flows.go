// Package flows defines millrun's flows (Windmill's OpenFlow, as its
// flow editor and `wmill sync` write them) and runs them. The spec is
// Windmill's openflow.openapi.yaml; where it leaves a behaviour open, the
// executor does what Windmill's worker does.
package flows

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/dop251/goja"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

// Value is the flow definition (OpenFlow's FlowValue). Fields millrun does
// not act on (notes, priority, flow_env...) stay in the stored JSON.
type Value struct {
	Modules            []Module `json:"modules"`
	FailureModule      *Module  `json:"failure_module,omitempty"`
	PreprocessorModule *Module  `json:"preprocessor_module,omitempty"`
	// SameWorker asks for every step on one worker; a millrun is one.
	SameWorker      bool     `json:"same_worker,omitempty"`
	ConcurrentLimit *float64 `json:"concurrent_limit,omitempty"`
	SkipExpr        string   `json:"skip_expr,omitempty"`
	CacheTTL        *float64 `json:"cache_ttl,omitempty"`
	EarlyReturn     string   `json:"early_return,omitempty"`
}

// Module is one step, with the options any step may carry.
type Module struct {
	ID                  string       `json:"id"`
	Summary             string       `json:"summary,omitempty"`
	Value               ModuleValue  `json:"value"`
	StopAfterIf         *StopAfterIf `json:"stop_after_if,omitempty"`
	StopAfterAllItersIf *StopAfterIf `json:"stop_after_all_iters_if,omitempty"`
	SkipIf              *struct {
		Expr string `json:"expr"`
	} `json:"skip_if,omitempty"`
	// Sleep is how long the flow waits after this step (seconds).
	Sleep           *Transform `json:"sleep,omitempty"`
	CacheTTL        *float64   `json:"cache_ttl,omitempty"`
	Timeout         *Transform `json:"timeout,omitempty"`
	Suspend         *Suspend   `json:"suspend,omitempty"`
	Mock            *Mock      `json:"mock,omitempty"`
	ContinueOnError bool       `json:"continue_on_error,omitempty"`
	Retry           *Retry     `json:"retry,omitempty"`
}

// ModuleValue is what a step is. Which fields apply depends on Type.
type ModuleValue struct {
	Type string `json:"type"`
	// rawscript, script and flow
	Content         string               `json:"content,omitempty"`
	Language        string               `json:"language,omitempty"`
	Path            string               `json:"path,omitempty"`
	Hash            string               `json:"hash,omitempty"`
	InputTransforms map[string]Transform `json:"input_transforms,omitempty"`
	// forloopflow and whileloopflow
	Iterator     *Transform `json:"iterator,omitempty"`
	Modules      []Module   `json:"modules,omitempty"`
	SkipFailures *bool      `json:"skip_failures,omitempty"`
	Parallel     *bool      `json:"parallel,omitempty"`
	Parallelism  *Transform `json:"parallelism,omitempty"`
	// branchone and branchall
	Branches []Branch `json:"branches,omitempty"`
	Default  []Module `json:"default,omitempty"`
}

// Branch is one branch of a branchone (chosen by Expr) or a branchall.
type Branch struct {
	Summary     string   `json:"summary,omitempty"`
	Expr        string   `json:"expr,omitempty"`
	Modules     []Module `json:"modules"`
	SkipFailure *bool    `json:"skip_failure,omitempty"`
}

// Transform computes a value: a static one or a JavaScript expression.
// Windmill also accepts a bare value where it expects a number (a step's
// timeout, a loop's parallelism); it reads as a static transform.
type Transform struct {
	Type  string          `json:"type"` // static or javascript
	Value json.RawMessage `json:"value,omitempty"`
	Expr  string          `json:"expr,omitempty"`
}

// UnmarshalJSON reads a transform, or a bare value as a static one.
func (t *Transform) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '{' {
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(b, &probe); err != nil {
			return err
		}
		if _, ok := probe["type"]; ok {
			type plain Transform
			return json.Unmarshal(b, (*plain)(t))
		}
	}
	*t = Transform{Type: "static", Value: append(json.RawMessage(nil), b...)}
	return nil
}

// StopAfterIf ends the flow (or breaks a loop) when Expr is true of a
// step's result.
type StopAfterIf struct {
	Expr          string  `json:"expr"`
	SkipIfStopped bool    `json:"skip_if_stopped,omitempty"`
	ErrorMessage  *string `json:"error_message,omitempty"`
}

// Retry says how often and how long apart a failed step runs again.
type Retry struct {
	Constant struct {
		Attempts int `json:"attempts"`
		Seconds  int `json:"seconds"`
	} `json:"constant"`
	Exponential struct {
		Attempts     int  `json:"attempts"`
		Multiplier   *int `json:"multiplier"`
		Seconds      int  `json:"seconds"`
		RandomFactor int  `json:"random_factor"`
	} `json:"exponential"`
}

// Suspend makes the flow wait after a step for approvals.
type Suspend struct {
	RequiredEvents              int  `json:"required_events,omitempty"`
	Timeout                     int  `json:"timeout,omitempty"`
	ContinueOnDisapproveTimeout bool `json:"continue_on_disapprove_timeout,omitempty"`
	ResumeForm                  any  `json:"resume_form,omitempty"`
	UserAuthRequired            bool `json:"user_auth_required,omitempty"`
	SelfApprovalDisabled        bool `json:"self_approval_disabled,omitempty"`
	HideCancel                  bool `json:"hide_cancel,omitempty"`
	UserGroupsRequired          *any `json:"user_groups_required,omitempty"`
}

// Mock makes a step return a fixed value instead of running.
type Mock struct {
	Enabled     bool            `json:"enabled"`
	ReturnValue json.RawMessage `json:"return_value,omitempty"`
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

// ConcurrencyLimit is how many runs of the flow may run at once (0: any).
func (f *Flow) ConcurrencyLimit() int {
	if f.Def.ConcurrentLimit == nil || *f.Def.ConcurrentLimit < 1 {
		return 0
	}
	return int(*f.Def.ConcurrentLimit)
}

// invalid is an input error (errs.Invalid: a 400 saying how to fix it).
func invalid(format string, a ...any) error { return errs.Invalidf(format, a...) }

var idRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// MaxSteps bounds the steps of one flow, nested ones included.
const MaxSteps = 1000

// Catalog stores and finds flow versions.
type Catalog struct {
	db      *store.DB
	scripts *scripts.Catalog
}

// NewCatalog returns a catalog over db; script steps are checked against sc.
func NewCatalog(db *store.DB, sc *scripts.Catalog) *Catalog { return &Catalog{db: db, scripts: sc} }

// Save validates req and stores it as the latest version at its path.
// A flow saved without a schema gets one from its steps (see inferSchema).
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
	if err := c.validate(ctx, workspace, req.Path, &def); err != nil {
		return "", false, err
	}
	schema := req.Schema
	if len(schema) == 0 || string(schema) == "null" {
		schema = c.inferSchema(ctx, workspace, &def)
	} else if !json.Valid(schema) || schema[0] != '{' {
		return "", false, invalid("schema must be a JSON Schema object")
	}
	value, _ := json.Marshal(json.RawMessage(req.Value)) // compacted, as stored
	hash = scripts.Hash(workspace, req.Path, "flow", string(value)+"\x00"+string(schema))
	created, err = c.db.SaveFlowVersion(ctx, store.FlowVersion{Hash: hash, Workspace: workspace, Path: req.Path, Summary: req.Summary,
		Description: req.Description, Value: string(value), Schema: string(schema)})
	return hash, created, err
}

// walk calls fn on every module of def, nested ones, the failure and the
// preprocessor module included, outermost first.
func walk(def *Value, fn func(m *Module) error) error {
	var one func(m *Module) error
	one = func(m *Module) error {
		if err := fn(m); err != nil {
			return err
		}
		v := &m.Value
		lists := [][]Module{v.Modules, v.Default}
		for b := range v.Branches {
			lists = append(lists, v.Branches[b].Modules)
		}
		for _, list := range lists {
			for i := range list {
				if err := one(&list[i]); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for i := range def.Modules {
		if err := one(&def.Modules[i]); err != nil {
			return err
		}
	}
	for _, m := range []*Module{def.FailureModule, def.PreprocessorModule} {
		if m != nil {
			if err := one(m); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Catalog) validate(ctx context.Context, workspace, path string, def *Value) error {
	if len(def.Modules) == 0 {
		return invalid("the flow has no steps: value.modules is empty")
	}
	seen := map[string]bool{}
	count := 0
	err := walk(def, func(m *Module) error {
		if count++; count > MaxSteps {
			return invalid("the flow has more than %d steps, nested ones included", MaxSteps)
		}
		if !idRE.MatchString(m.ID) {
			return invalid("step id %q must be letters, digits and _ (e.g. a, b, notify)", m.ID)
		}
		if seen[m.ID] {
			return invalid("step id %q is used twice (ids are unique across the flow, nested steps included: results.<id> names one step)", m.ID)
		}
		seen[m.ID] = true
		return c.validateModule(ctx, workspace, path, def, m)
	})
	if err != nil {
		return err
	}
	if def.EarlyReturn != "" {
		top := false
		for _, m := range def.Modules {
			top = top || m.ID == def.EarlyReturn
		}
		if !top {
			return invalid("early_return names step %q, which the flow does not have at its top level", def.EarlyReturn)
		}
	}
	if def.SkipExpr != "" {
		if err := compileExpr(def.SkipExpr); err != nil {
			return invalid("skip_expr does not parse: %s", err)
		}
	}
	return nil
}

func (c *Catalog) validateModule(ctx context.Context, workspace, flowPath string, def *Value, m *Module) error {
	v := &m.Value
	preprocessor := def.PreprocessorModule != nil && m == def.PreprocessorModule
	switch v.Type {
	case "rawscript":
		lang, err := scripts.NormalizeLanguage(v.Language)
		if err != nil {
			return invalid("step %s: %s", m.ID, err)
		}
		if strings.TrimSpace(v.Content) == "" {
			return invalid("step %s: the inline script is empty", m.ID)
		}
		content := v.Content
		if preprocessor {
			content = runtime.PreprocessorAsMain(lang, content)
		}
		if _, err := scripts.InferSchema(lang, content); err != nil {
			return invalid("step %s: %s", m.ID, err)
		}
	case "script":
		if err := scripts.ValidatePath(v.Path); err != nil {
			return invalid("step %s: %s", m.ID, err)
		}
		sv, err := stepScript(ctx, c.scripts, workspace, m)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return invalid("step %s: no script at %s (save it first)", m.ID, v.Path)
			}
			return err
		}
		if err := sv.Runnable(); err != nil {
			return err
		}
	case "flow":
		if err := scripts.ValidatePath(v.Path); err != nil {
			return invalid("step %s: %s", m.ID, err)
		}
		if v.Path == flowPath {
			return invalid("step %s runs the flow %s itself: a flow cannot be a step of itself", m.ID, v.Path)
		}
		if _, err := c.db.LatestFlow(ctx, workspace, v.Path); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return invalid("step %s: no flow at %s (save it first)", m.ID, v.Path)
			}
			return err
		}
	case "forloopflow":
		if v.Iterator == nil {
			return invalid("step %s: a for loop needs an iterator (value.iterator)", m.ID)
		}
		if err := checkTransform(m.ID, "iterator", *v.Iterator); err != nil {
			return err
		}
		if v.Parallelism != nil {
			if err := checkTransform(m.ID, "parallelism", *v.Parallelism); err != nil {
				return err
			}
		}
	case "whileloopflow":
	case "branchone":
		for i, b := range v.Branches {
			if strings.TrimSpace(b.Expr) == "" {
				return invalid("step %s: branch %d has no expression (value.branches[%d].expr)", m.ID, i, i)
			}
			if err := compileExpr(b.Expr); err != nil {
				return invalid("step %s: the expression of branch %d does not parse: %s", m.ID, i, err)
			}
		}
	case "branchall":
	case "identity":
	case "aiagent", "flowscript":
		return invalid("step %s: module type %q is not supported by millrun yet", m.ID, v.Type)
	default:
		return invalid("step %s: module type %q is not an OpenFlow module type (rawscript, script, flow, forloopflow, whileloopflow, branchone, branchall, identity)", m.ID, v.Type)
	}
	for name, t := range v.InputTransforms {
		if err := checkTransform(m.ID, "input "+name, t); err != nil {
			return err
		}
	}
	for what, e := range map[string]*StopAfterIf{"stop_after_if": m.StopAfterIf, "stop_after_all_iters_if": m.StopAfterAllItersIf} {
		if e != nil {
			if err := compileExpr(e.Expr); err != nil {
				return invalid("step %s: %s does not parse: %s", m.ID, what, err)
			}
		}
	}
	if m.SkipIf != nil {
		if err := compileExpr(m.SkipIf.Expr); err != nil {
			return invalid("step %s: skip_if does not parse: %s", m.ID, err)
		}
	}
	for what, t := range map[string]*Transform{"sleep": m.Sleep, "timeout": m.Timeout} {
		if t != nil {
			if err := checkTransform(m.ID, what, *t); err != nil {
				return err
			}
		}
	}
	if r := m.Retry; r != nil {
		if r.Exponential.Attempts > 0 && r.Exponential.Seconds <= 0 {
			return invalid("step %s: exponential retry needs seconds (its base) above 0; 0 would retry at once", m.ID)
		}
		if r.Constant.Attempts < 0 || r.Exponential.Attempts < 0 || r.Constant.Seconds < 0 {
			return invalid("step %s: retry attempts and seconds cannot be negative", m.ID)
		}
	}
	return nil
}

func checkTransform(step, what string, t Transform) error {
	switch t.Type {
	case "static":
	case "javascript":
		if err := compileExpr(t.Expr); err != nil {
			return invalid("step %s, %s: the expression does not parse: %s", step, what, err)
		}
	default:
		return invalid("step %s, %s: transform type %q is not supported (use static or javascript)", step, what, t.Type)
	}
	return nil
}

func compileExpr(expr string) error {
	_, err := goja.Compile("", wrapExpr(expr), false)
	return err
}

// stepScript is the version a script step runs: the one it pins, else
// the latest at its path.
func stepScript(ctx context.Context, sc *scripts.Catalog, workspace string, m *Module) (*scripts.Version, error) {
	if m.Value.Hash != "" {
		return sc.ByHash(ctx, workspace, m.Value.Hash)
	}
	return sc.Latest(ctx, workspace, m.Value.Path)
}

// Runnable says why f cannot start: a script step whose script became a
// library after the flow was saved (or is gone, which the step reports
// when reached).
func (c *Catalog) Runnable(ctx context.Context, f *Flow) error {
	return walk(&f.Def, func(m *Module) error {
		if m.Value.Type != "script" {
			return nil
		}
		v, err := stepScript(ctx, c.scripts, f.Workspace, m)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return v.Runnable()
	})
}

// flowInputRE finds the flow input a transform takes whole:
// flow_input.name or flow_input["name"].
var flowInputRE = regexp.MustCompile(`^\s*flow_input(?:\.([A-Za-z_$][A-Za-z0-9_$]*)|\[\s*["']([^"']+)["']\s*\])\s*$`)

// inferSchema builds the schema of a flow saved without one, as Windmill's
// editor does when a step's input is plugged into the flow's input: each
// input a step takes whole (flow_input.x) gets the step's argument
// schema, default included, so callers may leave it out.
func (c *Catalog) inferSchema(ctx context.Context, workspace string, def *Value) json.RawMessage {
	s := scripts.EmptySchema()
	_ = walk(def, func(m *Module) error {
		if len(m.Value.InputTransforms) == 0 {
			return nil
		}
		var args *scripts.Schema
		switch m.Value.Type {
		case "rawscript":
			if lang, err := scripts.NormalizeLanguage(m.Value.Language); err == nil {
				args, _ = scripts.InferSchema(lang, m.Value.Content)
			}
		case "script":
			if v, err := stepScript(ctx, c.scripts, workspace, m); err == nil {
				args = v.Parsed
			}
		}
		for _, name := range sortedKeys(m.Value.InputTransforms) {
			t := m.Value.InputTransforms[name]
			if t.Type != "javascript" {
				continue
			}
			sub := flowInputRE.FindStringSubmatch(t.Expr)
			if sub == nil {
				continue
			}
			input := sub[1] + sub[2]
			if _, ok := s.Properties[input]; ok {
				continue
			}
			prop := &scripts.Property{}
			if args != nil && args.Properties[name] != nil {
				p := *args.Properties[name]
				prop = &p
			}
			s.Properties[input] = prop
			s.Order = append(s.Order, input)
		}
		return nil
	})
	b, _ := json.Marshal(s)
	return b
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

// Exists reports whether a flow is at path, archived or not.
func (c *Catalog) Exists(ctx context.Context, workspace, path string) (bool, error) {
	_, err := c.db.FlowHead(ctx, workspace, path)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// SetExtra keeps the fields of a version's create request that the flow
// definition does not hold (see store.FlowVersion.Extra).
func (c *Catalog) SetExtra(ctx context.Context, workspace, hash, extra string) error {
	return c.db.SetFlowExtra(ctx, workspace, hash, extra)
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
