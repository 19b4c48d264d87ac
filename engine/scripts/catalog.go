package scripts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/store"
)

// Version is a stored script version with its parsed schema and the
// options its extra fields set.
type Version struct {
	store.ScriptVersion
	Parsed  *Schema
	Options Options
}

// CreateRequest is Windmill's scripts/create body (the fields millrun uses).
type CreateRequest struct {
	Path             string          `json:"path"`
	Content          string          `json:"content"`
	Language         string          `json:"language"`
	Summary          string          `json:"summary"`
	Description      string          `json:"description"`
	Schema           json.RawMessage `json:"schema,omitempty"`
	ParentHash       string          `json:"parent_hash,omitempty"`
	Timeout          int             `json:"timeout,omitempty"`
	ConcurrentLimit  int             `json:"concurrent_limit,omitempty"`
	DedicatedWorker  bool            `json:"dedicated_worker,omitempty"`
	ConcurrencyKey   string          `json:"concurrency_key,omitempty"`
	ConcurrencyTimeS int             `json:"concurrency_time_window_s,omitempty"`
	// NoMainFunc is Windmill's library flag, as the wmill CLI pushes it
	// from a script's yaml. A Python or TypeScript script without main is
	// a library whatever it says; the flag makes one of a script that has
	// no main to find (Bash) or one whose main is not meant to run.
	NoMainFunc bool `json:"no_main_func,omitempty"`
	// Lock is the dependency lock wmill sync pushes with a script (its
	// .script.lock): used as it is, never resolved again.
	Lock string `json:"lock,omitempty"`
	// Extra is every other field of the request as sent (tag, envs,
	// priority, the schema, ...): kept with the version and given back.
	Extra map[string]json.RawMessage `json:"-"`
}

// Runnable says why a version cannot run: a library has no main function,
// and millrun runs only some of Windmill's languages. Every way of
// starting a script asks it, so they all answer alike.
func (v *Version) Runnable() error {
	if KeptLanguageExt(v.Language) != "" {
		return CannotRun(v.Language)
	}
	if v.NoMainFunc {
		return NotRunnable(v.Path)
	}
	return nil
}

// NotRunnable is the error for running the library at path (a 400 on
// the run routes).
func NotRunnable(path string) error {
	return invalid("%s is a library: it has no main function", path)
}

// invalid is an input error (errs.Invalid: a 400 saying how to fix it).
func invalid(format string, a ...any) error { return errs.Invalidf(format, a...) }

// MaxContent bounds a script's source size.
const MaxContent = 1 << 20

// Catalog stores and finds script versions. Versions are immutable, so
// parsed versions are cached by hash.
type Catalog struct {
	db *store.DB

	mu    sync.Mutex
	cache map[string]*Version
}

// NewCatalog returns a catalog over db.
func NewCatalog(db *store.DB) *Catalog {
	return &Catalog{db: db, cache: map[string]*Version{}}
}

// Save validates req and stores it as the latest version at its path. It
// returns the version's hash; identical content yields the existing hash.
func (c *Catalog) Save(ctx context.Context, workspace string, req CreateRequest) (hash string, created bool, err error) {
	if err := ValidatePath(req.Path); err != nil {
		return "", false, invalid("%s", err)
	}
	lang, err := NormalizeLanguage(req.Language)
	kept := false
	if err != nil {
		if KeptLanguageExt(req.Language) == "" {
			return "", false, invalid("%s", err)
		}
		// Kept as it is: nothing here reads it, so nothing is inferred.
		lang, kept, err = req.Language, true, nil
	}
	if strings.TrimSpace(req.Content) == "" {
		return "", false, invalid("the script content is empty")
	}
	if len(req.Content) > MaxContent {
		return "", false, invalid("the script is larger than %d bytes", MaxContent)
	}
	if req.Timeout < 0 || req.ConcurrentLimit < 0 {
		return "", false, invalid("timeout and concurrent_limit must not be negative")
	}
	library := req.NoMainFunc
	inferred, err := EmptySchema(), error(nil)
	if !kept {
		inferred, err = InferSchema(lang, req.Content)
	}
	if errors.Is(err, ErrNoMain) {
		// Shared code other scripts import: saved, never run (Windmill's
		// web editor and CLI accept it the same way).
		library, inferred, err = true, EmptySchema(), nil
	}
	if err != nil && len(req.Schema) > 0 && string(req.Schema) != "null" {
		// A caller that sends its own schema (the UI's "Save anyway")
		// saves a main millrun cannot read, as Windmill, which never reads
		// main on the server, would: the given schema is all there is.
		inferred, err = EmptySchema(), nil
	}
	if err != nil {
		return "", false, invalid("%s", err)
	}
	schema, _ := json.Marshal(inferred)
	if len(req.Schema) > 0 && string(req.Schema) != "null" {
		// A caller-provided schema (Windmill's UI sends one) wins for
		// descriptions and formats, but main's signature decides the order.
		var given Schema
		if err := json.Unmarshal(req.Schema, &given); err != nil {
			return "", false, invalid("schema is not a JSON Schema object: %s", err)
		}
		if given.Properties != nil {
			// A tool that could not read main (the wmill CLI without its
			// parser sends empty properties) must not erase the arguments.
			for name, p := range inferred.Properties {
				if _, ok := given.Properties[name]; !ok {
					given.Properties[name] = p
				}
			}
			given.Order = inferred.Order
			if given.Required == nil || len(given.Properties) > 0 && len(given.Required) == 0 {
				given.Required = inferred.Required
			}
			if given.Required == nil {
				given.Required = []string{}
			}
			schema, _ = json.Marshal(given)
		}
	}
	hash = Hash(workspace, req.Path, lang, req.Content)
	if err := c.checkLineage(ctx, workspace, req, hash); err != nil {
		return "", false, err
	}
	fields := map[string]json.RawMessage{}
	for k, v := range req.Extra {
		fields[k] = v
	}
	if lineage, err := c.lineage(ctx, workspace, req.ParentHash, hash); err != nil {
		return "", false, err
	} else if len(lineage) > 0 {
		fields["parent_hashes"], _ = json.Marshal(lineage)
	}
	var extra []byte
	if len(fields) > 0 {
		if extra, err = json.Marshal(fields); err != nil {
			return "", false, invalid("the request's fields cannot be kept: %s", err)
		}
	}
	created, err = c.db.SaveScriptVersion(ctx, store.ScriptVersion{
		Hash: hash, Workspace: workspace, Path: req.Path, Language: lang, Content: req.Content,
		Summary: req.Summary, Description: req.Description, Schema: string(schema),
		TimeoutS: req.Timeout, ConcurrencyLimit: req.ConcurrentLimit, DedicatedWorker: req.DedicatedWorker,
		NoMainFunc: library, Lock: req.Lock, Extra: string(extra),
	})
	if err != nil {
		return "", false, err
	}
	c.mu.Lock()
	delete(c.cache, hash) // metadata may have changed
	c.mu.Unlock()
	return hash, created, nil
}

// checkLineage applies Windmill's rules for a new version: a path that
// has a live script takes a new version only from a caller that names the
// version it started from (parent_hash), and that must still be the latest,
// so two editors never overwrite each other unknowingly; the same version
// posted again without a parent is refused in Windmill's words. Windmill hashes
// the parent into each version, so the latest sent back unchanged becomes
// a new version there; here versions are content-addressed, so it keeps its
// hash and only its summary, description and limits are updated in place
// (wmill sync push sends such pushes when a field it compares differs).
func (c *Catalog) checkLineage(ctx context.Context, workspace string, req CreateRequest, hash string) error {
	head, err := c.db.ScriptHead(ctx, workspace, req.Path)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	live := err == nil && !head.Archived
	if req.ParentHash != "" {
		if _, err := c.db.ScriptByHash(ctx, workspace, req.ParentHash); errors.Is(err, store.ErrNotFound) {
			return invalid("The parent hash does not seem to exist")
		} else if err != nil {
			return err
		}
	}
	if live && req.ParentHash == "" && head.LatestHash == hash {
		// Windmill checks the hash first: the same version posted again
		// without a parent has the same hash there too.
		cur, err := c.db.ScriptByHash(ctx, workspace, hash)
		if err != nil {
			return err
		}
		if cur.Summary == req.Summary && cur.Description == req.Description {
			return invalid("A script with same hash (hence same path, description, summary, content) already exists!")
		}
	}
	if live && req.ParentHash != head.LatestHash {
		return invalid("Path conflict for %s with non-archived hash %s", req.Path, head.LatestHash)
	}
	return nil
}

// maxLineage bounds the parent_hashes a version keeps.
const maxLineage = 1000

// lineage is Windmill's parent_hashes of a new version: its parent, then
// the parent's own, newest first. A version saved again with the same
// content keeps the lineage it has.
func (c *Catalog) lineage(ctx context.Context, workspace, parent, hash string) ([]string, error) {
	from := parent
	var out []string
	if parent == "" || parent == hash {
		from = hash
	} else {
		out = append(out, parent)
	}
	v, err := c.db.ScriptByHash(ctx, workspace, from)
	if errors.Is(err, store.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	var prev struct {
		ParentHashes []string `json:"parent_hashes"`
	}
	if v.Extra != "" {
		_ = json.Unmarshal([]byte(v.Extra), &prev)
	}
	out = append(out, prev.ParentHashes...)
	return out[:min(len(out), maxLineage)], nil
}

// SetLock records a version's resolved lock, or (lock "") why resolving
// it failed.
func (c *Catalog) SetLock(ctx context.Context, workspace, hash, lock, lockErr string) error {
	if err := c.db.SetScriptLock(ctx, workspace, hash, lock, lockErr); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.cache, hash)
	c.mu.Unlock()
	return nil
}

// ErrNotFound is returned for unknown paths and hashes.
var ErrNotFound = store.ErrNotFound

// Latest returns the latest version at path.
func (c *Catalog) Latest(ctx context.Context, workspace, path string) (*Version, error) {
	v, err := c.db.LatestScript(ctx, workspace, path)
	if err != nil {
		return nil, err
	}
	return c.parsed(v)
}

// Delete removes the script at path with all its versions.
func (c *Catalog) Delete(ctx context.Context, workspace, path string) error {
	if err := c.db.DeleteScript(ctx, workspace, path); err != nil {
		return err
	}
	c.mu.Lock()
	for hash, v := range c.cache {
		if v.Workspace == workspace && v.Path == path {
			delete(c.cache, hash)
		}
	}
	c.mu.Unlock()
	return nil
}

// SyntaxError is the first syntax error found in a script.
type SyntaxError = runtime.SyntaxError

// ByHash returns an exact version.
func (c *Catalog) ByHash(ctx context.Context, workspace, hash string) (*Version, error) {
	c.mu.Lock()
	v, ok := c.cache[hash]
	c.mu.Unlock()
	if ok && v.Workspace == workspace {
		return v, nil
	}
	sv, err := c.db.ScriptByHash(ctx, workspace, hash)
	if err != nil {
		return nil, err
	}
	return c.parsed(sv)
}

func (c *Catalog) parsed(sv store.ScriptVersion) (*Version, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cache[sv.Hash]; ok && v.ScriptVersion == sv {
		return v, nil
	}
	var s Schema
	if err := json.Unmarshal([]byte(sv.Schema), &s); err != nil {
		return nil, fmt.Errorf("stored schema of %s: %w", sv.Hash, err)
	}
	v := &Version{ScriptVersion: sv, Parsed: &s, Options: ParseOptions(sv.Extra)}
	if len(c.cache) > 1024 {
		clear(c.cache)
	}
	c.cache[sv.Hash] = v
	return v, nil
}

// List returns every live script's latest version with run counters, and
// the archived ones too when archived is set.
func (c *Catalog) List(ctx context.Context, workspace string, archived bool) ([]store.ScriptSummary, error) {
	return c.db.ListScripts(ctx, workspace, archived)
}

// IsLatest reports whether hash is the version path points at, archived
// or not.
func (c *Catalog) IsLatest(ctx context.Context, workspace, path, hash string) bool {
	head, err := c.db.ScriptHead(ctx, workspace, path)
	return err == nil && head.LatestHash == hash
}

// Archive hides the script at path from lists and runs by path (runs by
// hash go on), or brings it back with archived false.
func (c *Catalog) Archive(ctx context.Context, workspace, path string, archived bool) error {
	return c.db.ArchiveScript(ctx, workspace, path, archived)
}

// DeleteVersion removes one version; the path then points at its newest
// remaining version, or goes when none is left. It returns the path.
func (c *Catalog) DeleteVersion(ctx context.Context, workspace, hash string) (string, error) {
	path, err := c.db.DeleteScriptVersion(ctx, workspace, hash)
	if err == nil {
		c.mu.Lock()
		delete(c.cache, hash)
		c.mu.Unlock()
	}
	return path, err
}

// Versions returns the versions at path, newest first.
func (c *Catalog) Versions(ctx context.Context, workspace, path string) ([]store.ScriptVersion, error) {
	vs, err := c.db.ScriptVersions(ctx, workspace, path)
	if err == nil && len(vs) == 0 {
		return nil, store.ErrNotFound
	}
	return vs, err
}
