package resources

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/store"
)

// Variable is what the API shows. A secret's value is never in it: only
// VariableValue gives it, to full-access callers (scripts through
// windmill-client's getVariable).
type Variable struct {
	WorkspaceID string    `json:"workspace_id"`
	Path        string    `json:"path"`
	Value       *string   `json:"value"`
	IsSecret    bool      `json:"is_secret"`
	Description string    `json:"description"`
	IsOAuth     bool      `json:"is_oauth"`
	IsExpired   bool      `json:"is_expired"`
	ExtraPerms  struct{}  `json:"extra_perms"`
	CreatedAt   time.Time `json:"created_at"`
	EditedAt    time.Time `json:"edited_at"`
}

func variableBinding(workspace, path string) []byte {
	return []byte("variable\x00" + workspace + "\x00" + path)
}

// PutVariable creates (create=true) or replaces a variable.
func (s *Store) PutVariable(ctx context.Context, workspace, path, value string, isSecret bool, description string, create bool) error {
	if !ValidPath(path) {
		return errs.Invalidf("invalid variable: path %q must look like u/<user>/<name> or f/<folder>/<name>", path)
	}
	sealed, err := s.sealBytes(variableBinding(workspace, path), []byte(value))
	if err != nil {
		return err
	}
	return s.db.PutVariable(ctx, store.Variable{Workspace: workspace, Path: path, Value: sealed, IsSecret: isSecret, Description: description}, create)
}

// VariableValue returns a variable's value, secret or not.
func (s *Store) VariableValue(ctx context.Context, workspace, path string) (string, error) {
	v, err := s.db.GetVariable(ctx, workspace, path)
	if err != nil {
		return "", err
	}
	plain, err := s.openBytes(variableBinding(v.Workspace, v.Path), v.Value, "variable "+v.Path)
	return string(plain), err
}

// GetVariable returns a variable as the API shows it.
func (s *Store) GetVariable(ctx context.Context, workspace, path string) (*Variable, error) {
	v, err := s.db.GetVariable(ctx, workspace, path)
	if err != nil {
		return nil, err
	}
	return s.variableView(v)
}

// ListVariables returns a workspace's variables as the API shows them.
func (s *Store) ListVariables(ctx context.Context, workspace string) ([]*Variable, error) {
	list, err := s.db.ListVariables(ctx, workspace)
	if err != nil {
		return nil, err
	}
	out := make([]*Variable, 0, len(list))
	for _, v := range list {
		view, err := s.variableView(v)
		if err != nil {
			return nil, err
		}
		out = append(out, view)
	}
	return out, nil
}

// WholeVariable is a variable with its value, secret or not.
type WholeVariable struct {
	*Variable
	Plain string
}

// ListVariablesWhole returns a workspace's variables with their values
// (the workspace export; never for the UI).
func (s *Store) ListVariablesWhole(ctx context.Context, workspace string) ([]WholeVariable, error) {
	list, err := s.db.ListVariables(ctx, workspace)
	if err != nil {
		return nil, err
	}
	out := make([]WholeVariable, 0, len(list))
	for _, v := range list {
		view, err := s.variableView(v)
		if err != nil {
			return nil, err
		}
		whole := WholeVariable{Variable: view}
		if view.Value != nil {
			whole.Plain = *view.Value
		} else if plain, err := s.openBytes(variableBinding(v.Workspace, v.Path), v.Value, "variable "+v.Path); err == nil {
			whole.Plain = string(plain)
		} else {
			return nil, err
		}
		out = append(out, whole)
	}
	return out, nil
}

// DeleteVariable removes a variable.
func (s *Store) DeleteVariable(ctx context.Context, workspace, path string) error {
	return s.db.DeleteVariable(ctx, workspace, path)
}

func (s *Store) variableView(v *store.Variable) (*Variable, error) {
	out := &Variable{WorkspaceID: v.Workspace, Path: v.Path, IsSecret: v.IsSecret, Description: v.Description, CreatedAt: v.CreatedAt, EditedAt: v.UpdatedAt}
	if !v.IsSecret {
		plain, err := s.openBytes(variableBinding(v.Workspace, v.Path), v.Value, "variable "+v.Path)
		if err != nil {
			return nil, err
		}
		value := string(plain)
		out.Value = &value
	}
	return out, nil
}

// Interpolate replaces "$var:<path>" strings in a resource's value with
// the variables' values and "$res:<path>" strings with those resources'
// values, as Windmill's get_value_interpolated does, so that a resource's
// secrets can live in secret variables. Unlike Windmill it also looks into
// lists: a route's key rotation keeps its secrets in one.
// A value is any JSON: a string at the top is replaced too.
func (s *Store) Interpolate(ctx context.Context, workspace string, v any) (any, error) {
	return s.interpolate(ctx, workspace, v, "", 0)
}

// maxResourceDepth bounds "$res:" references inside referenced resources:
// a resource that names itself would otherwise never end.
const maxResourceDepth = 8

func (s *Store) interpolate(ctx context.Context, workspace string, v any, field string, depth int) (any, error) {
	return mapStrings(v, field, func(x, field string) (any, error) {
		if path, ok := strings.CutPrefix(x, "$var:"); ok {
			value, err := s.VariableValue(ctx, workspace, path)
			if errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("%s names variable %s, which does not exist: create it, or change the field", where(field), path)
			}
			if err != nil {
				return nil, fmt.Errorf("%s names variable %s: %w", where(field), path, err)
			}
			return value, nil
		}
		if path, ok := strings.CutPrefix(x, "$res:"); ok {
			if depth >= maxResourceDepth {
				return nil, fmt.Errorf("%s: resources name each other more than %d deep (one names itself?)", where(field), maxResourceDepth)
			}
			r, err := s.Full(ctx, workspace, path)
			if errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("%s names resource %s, which does not exist: create it, or change the field", where(field), path)
			}
			if err != nil {
				return nil, fmt.Errorf("%s names resource %s: %w", where(field), path, err)
			}
			return s.interpolate(ctx, workspace, r.Value, field, depth+1)
		}
		return x, nil
	})
}

// where names a place in a value for an error: a field (a.b[2]), or the
// value itself when it is a string (a state may be one).
func where(field string) string {
	if field == "" {
		return "the value"
	}
	return "field " + field
}

// mapStrings returns v with every string in it, however deep in objects
// and lists, replaced by what leaf makes of it; field names where the
// string is (a.b[2]) for leaf's errors.
func mapStrings(v any, field string, leaf func(s, field string) (any, error)) (any, error) {
	switch x := v.(type) {
	case string:
		return leaf(x, field)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			name := k
			if field != "" {
				name = field + "." + k
			}
			inner, err := mapStrings(val, name, leaf)
			if err != nil {
				return nil, err
			}
			out[k] = inner
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			inner, err := mapStrings(val, fmt.Sprintf("%s[%d]", field, i), leaf)
			if err != nil {
				return nil, err
			}
			out[i] = inner
		}
		return out, nil
	}
	return v, nil
}

// exportPrefix marks a secret sealed for a wmill sync folder, so a value
// pushed back with already_encrypted is recognised as millrun's own.
const exportPrefix = "millrun:v1:"

func exportBinding(workspace string) []byte {
	return []byte("variable export\x00" + workspace)
}

// ExportSecret seals a secret's value for a `wmill sync pull` folder, as
// Windmill exports secrets encrypted with the workspace key. The nonce is
// derived from the value, so pulling twice gives the same file and an
// unchanged secret is not pushed again; the cost is that two equal secrets
// seal to the same text, as they do in Windmill's own export. Bound to the
// workspace, not the path, so moving the file keeps it usable.
func (s *Store) ExportSecret(workspace, value string) string {
	bound := exportBinding(workspace)
	mac := hmac.New(sha256.New, s.exportNonceKey)
	mac.Write(bound)
	mac.Write([]byte{0})
	mac.Write([]byte(value))
	nonce := mac.Sum(nil)[:s.aead.NonceSize()]
	sealed := s.aead.Seal(append([]byte(nil), nonce...), nonce, []byte(value), bound)
	return exportPrefix + base64.StdEncoding.EncodeToString(sealed)
}

// ImportSecret opens what ExportSecret sealed; anything else (a value
// encrypted by a Windmill cluster or by another millrun) is refused with
// what to do instead.
func (s *Store) ImportSecret(workspace, sealed string) (string, error) {
	const advice = "enter the secret again in millrun, or push it from a folder pulled with --plain-secrets"
	body, ok := strings.CutPrefix(sealed, exportPrefix)
	if !ok {
		return "", errs.Invalidf("the value is not a secret sealed by this millrun (a Windmill cluster's or another millrun's key cannot be read here): %s", advice)
	}
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return "", errs.Invalidf("the sealed value is damaged: %s", advice)
	}
	plain, err := s.openBytes(exportBinding(workspace), raw, "the sealed value")
	if err != nil {
		return "", errs.Invalidf("%s: %s", err, advice)
	}
	return string(plain), nil
}

// ExportValue is a resource's value as a workspace export shows it: each
// secret field (those Mask hides) sealed as ExportSecret seals a secret
// variable, so an archive of route credentials gives no secret away and
// pushes back unchanged. "$var:" and "$res:" references hold no secret
// and stay readable, as in Windmill's own export.
// A value that is not an object (a script's state) has no secret fields;
// objects in lists have theirs sealed too.
func (s *Store) ExportValue(workspace string, value any) any {
	return mapSecrets(value, "", func(v string) any { return s.exportString(workspace, v) })
}

func (s *Store) exportString(workspace, v string) string {
	if v == "" || strings.HasPrefix(v, "$var:") || strings.HasPrefix(v, "$res:") {
		return v
	}
	return s.ExportSecret(workspace, v)
}

// openExported opens every string ExportValue sealed, wherever it is in
// v: what `wmill sync push` sends back from a pulled folder.
func (s *Store) openExported(workspace string, v any, field string) (any, error) {
	return mapStrings(v, field, func(x, field string) (any, error) {
		if !strings.HasPrefix(x, exportPrefix) {
			return x, nil
		}
		plain, err := s.ImportSecret(workspace, x)
		if err != nil {
			return nil, errs.Invalidf("%s: %s", where(field), err)
		}
		return plain, nil
	})
}

func settingBinding(name string) []byte {
	return []byte("setting\x00" + name)
}

// SealSetting seals a setting that is a secret (the workspace webhook
// secret) for the settings table, bound to its name.
func (s *Store) SealSetting(name, plain string) (string, error) {
	sealed, err := s.sealBytes(settingBinding(name), []byte(plain))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sealed), nil
}

// OpenSetting opens what SealSetting sealed.
func (s *Store) OpenSetting(name, sealed string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return "", fmt.Errorf("setting %s is damaged", name)
	}
	plain, err := s.openBytes(settingBinding(name), raw, "setting "+name)
	return string(plain), err
}
