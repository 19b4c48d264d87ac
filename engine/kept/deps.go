package kept

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/store"
)

// Deps is the kind of Windmill's workspace dependency files
// (dependencies/requirements.in and the like), kept by "<language>/<name>".
// millrun resolves each script's packages from the script itself and its
// lock; it does not read these files.
const Deps = "workspace_dependencies"

// depsFiles are Windmill's workspace dependency files by language.
var depsFiles = runtime.WorkspaceDepsFiles()

// Dependencies is one kept workspace dependencies file; Name is empty for
// a language's default file.
type Dependencies struct {
	Language, Name, Content string
	UpdatedAt               time.Time
}

// DepsPath is where a workspace export writes a language's dependencies:
// dependencies/[<name>.]<file>.
func DepsPath(language, name string) string {
	if name == "" {
		return "dependencies/" + depsFiles[language]
	}
	return "dependencies/" + name + "." + depsFiles[language]
}

func depsKey(language, name string) string { return language + "/" + name }

func depsNotFound(err error, language, name string) error {
	if errors.Is(err, store.ErrNotFound) {
		return &errs.NotFound{Msg: "workspace dependencies " + DepsPath(language, name) + " not found", Err: err}
	}
	return err
}

// SaveDeps creates or replaces a language's dependencies file and returns
// where an export writes it. The name becomes part of one file name, so it
// holds no slashes.
func (k *Items) SaveDeps(ctx context.Context, ws, language, name, content string) (string, error) {
	if depsFiles[language] == "" {
		return "", errs.Invalidf("workspace dependencies for %q: the languages are bun, python3, php, go and powershell", language)
	}
	if strings.ContainsAny(name, "/\\") || strings.Contains(name, "..") {
		return "", errs.Invalidf("dependencies name %q: no slashes", name)
	}
	if err := k.Put(ctx, ws, Deps, depsKey(language, name), content); err != nil {
		return "", err
	}
	return DepsPath(language, name), nil
}

// GetDeps returns a language's dependencies file; an *errs.NotFound naming
// its export path when there is none.
func (k *Items) GetDeps(ctx context.Context, ws, language, name string) (Dependencies, error) {
	it, err := k.Get(ctx, ws, Deps, depsKey(language, name))
	if err != nil {
		return Dependencies{}, depsNotFound(err, language, name)
	}
	return depsOf(language, name, it), nil
}

// ListDeps returns every kept dependencies file, by language and name.
func (k *Items) ListDeps(ctx context.Context, ws string) ([]Dependencies, error) {
	items, err := k.List(ctx, ws, Deps)
	if err != nil {
		return nil, err
	}
	out := make([]Dependencies, len(items))
	for i, it := range items {
		language, name, _ := strings.Cut(it.Name, "/")
		out[i] = depsOf(language, name, it)
	}
	return out, nil
}

// DeleteDeps removes a language's dependencies file; an *errs.NotFound
// when there is none.
func (k *Items) DeleteDeps(ctx context.Context, ws, language, name string) error {
	return depsNotFound(k.Delete(ctx, ws, Deps, depsKey(language, name)), language, name)
}

func depsOf(language, name string, it store.KeptItem) Dependencies {
	var content string
	_ = json.Unmarshal([]byte(it.Value), &content)
	return Dependencies{Language: language, Name: name, Content: content, UpdatedAt: it.UpdatedAt}
}
