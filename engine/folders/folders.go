// Package folders keeps Windmill's folders. millrun keeps only a folder's
// metadata (its items carry f/<name>/ in their paths); permissions are not
// enforced, as millrun has one person, but owners and extra_perms are kept
// so a folder pulled from a Windmill workspace pushes back unchanged.
package folders

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/flows"
	"github.com/millrun/millrun/engine/kept"
	"github.com/millrun/millrun/engine/resources"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

// Service owns the folders' rules and their store calls.
type Service struct {
	DB *store.DB
	// ItemPaths lists the paths of every item of a workspace that may
	// live in a folder (scripts, flows, resources, variables, apps); a
	// folder with items is in use even with no metadata stored.
	ItemPaths func(ctx context.Context, ws string) []string
}

// Input is what a caller sets on a folder, in Windmill's field names; nil
// fields are left as they are by an update.
type Input struct {
	Name        string          `json:"name"`
	DisplayName *string         `json:"display_name"`
	Summary     *string         `json:"summary"`
	Owners      json.RawMessage `json:"owners"`
	ExtraPerms  json.RawMessage `json:"extra_perms"`
}

// New returns the folders service of a millrun whose items are in these
// stores.
func New(db *store.DB, sc *scripts.Catalog, fl *flows.Catalog, res *resources.Store, kp *kept.Items) *Service {
	return &Service{DB: db, ItemPaths: func(ctx context.Context, ws string) []string {
		var paths []string
		if list, err := sc.List(ctx, ws, true); err == nil {
			for _, sum := range list {
				paths = append(paths, sum.Latest.Path)
			}
		}
		if list, err := fl.List(ctx, ws, true); err == nil {
			for _, f := range list {
				paths = append(paths, f.Path)
			}
		}
		if list, err := res.List(ctx, ws); err == nil {
			for _, r := range list {
				paths = append(paths, r.Path)
			}
		}
		if list, err := res.ListVariables(ctx, ws); err == nil {
			for _, v := range list {
				paths = append(paths, v.Path)
			}
		}
		if list, err := kp.List(ctx, ws, kept.App); err == nil {
			for _, a := range list {
				paths = append(paths, a.Name)
			}
		}
		return paths
	}}
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

func storeErr(err error, name string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &errs.NotFound{Msg: "folder " + name, Err: err}
	case errors.Is(err, store.ErrDuplicate):
		return errs.Invalidf("Folder %s already exists", name)
	}
	return err
}

// Get returns the folder called name.
func (s *Service) Get(ctx context.Context, ws, name string) (store.Folder, error) {
	f, err := s.DB.GetFolder(ctx, ws, name)
	if err != nil {
		return f, storeErr(err, name)
	}
	return f, nil
}

// Exists reports whether a folder called name is stored.
func (s *Service) Exists(ctx context.Context, ws, name string) bool {
	_, err := s.DB.GetFolder(ctx, ws, name)
	return err == nil
}

// List returns the stored folders of ws.
func (s *Service) List(ctx context.Context, ws string) ([]store.Folder, error) {
	return s.DB.ListFolders(ctx, ws)
}

// Create stores a new folder.
func (s *Service) Create(ctx context.Context, ws string, in Input) (store.Folder, error) {
	return s.save(ctx, store.Folder{Workspace: ws, Name: in.Name, Owners: "[]", ExtraPerms: "{}"}, in, true)
}

// Update changes the folder called name; its name stays.
func (s *Service) Update(ctx context.Context, ws, name string, in Input) (store.Folder, error) {
	cur, err := s.Get(ctx, ws, name)
	if err != nil {
		return cur, err
	}
	return s.save(ctx, cur, in, false)
}

func (s *Service) save(ctx context.Context, f store.Folder, in Input, create bool) (store.Folder, error) {
	if !nameRE.MatchString(f.Name) {
		return f, errs.Invalidf("folder name %q: use letters, digits, _ and - (it is the <name> in f/<name>/...)", f.Name)
	}
	if in.DisplayName != nil {
		f.DisplayName = *in.DisplayName
	}
	if f.DisplayName == "" {
		f.DisplayName = f.Name
	}
	if in.Summary != nil {
		f.Summary = in.Summary
	}
	if given(in.Owners) {
		var owners []string
		if json.Unmarshal(in.Owners, &owners) != nil {
			return f, errs.Invalidf("owners should be a list of names")
		}
		f.Owners = string(in.Owners)
	}
	if given(in.ExtraPerms) {
		var perms map[string]bool
		if json.Unmarshal(in.ExtraPerms, &perms) != nil {
			return f, errs.Invalidf("extra_perms should be an object of names to true (write) or false (read)")
		}
		f.ExtraPerms = string(in.ExtraPerms)
	}
	if err := s.DB.PutFolder(ctx, f, create); err != nil {
		return f, storeErr(err, f.Name)
	}
	return f, nil
}

func given(v json.RawMessage) bool { return len(v) > 0 && string(v) != "null" }

// Delete removes the folder's metadata; its items stay. It reports
// whether any was stored: deleting a folder that has items but no
// metadata is not an error, since an export writes a folder.meta for
// every folder its items are in, stored or not (Windmill needs them), and
// wmill deleting one that was never stored must not stop its push.
func (s *Service) Delete(ctx context.Context, ws, name string) (stored bool, err error) {
	err = s.DB.DeleteFolder(ctx, ws, name)
	if errors.Is(err, store.ErrNotFound) && s.inUse(ctx, ws, name) {
		return false, nil
	}
	if err != nil {
		return false, storeErr(err, name)
	}
	return true, nil
}

// inUse reports whether an item lives in folder f/<name>/.
func (s *Service) inUse(ctx context.Context, ws, name string) bool {
	if s.ItemPaths == nil {
		return false
	}
	prefix := "f/" + name + "/"
	for _, p := range s.ItemPaths(ctx, ws) {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}
