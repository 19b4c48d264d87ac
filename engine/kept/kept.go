// Package kept holds what millrun keeps for Windmill's tools without
// running it (resource types, users, groups, ACLs, apps, triggers of kinds
// it does not serve, the workspace settings, dependency files): JSON
// documents by kind and name, given back as they were put, so a workspace
// pulled from Windmill pushes back unchanged.
package kept

import (
	"context"
	"encoding/json"
	"time"

	"github.com/millrun/millrun/engine/store"
)

// App is the kind of Windmill's apps, whose names are paths (f/<folder>/...).
const App = "app"

// Items reads and writes the kept documents of every kind, and holds each
// kind's rules (one file per kind) so engine/api only translates HTTP.
type Items struct {
	DB *store.DB
}

// Get returns one item; store.ErrNotFound when there is none.
func (k *Items) Get(ctx context.Context, ws, kind, name string) (store.KeptItem, error) {
	return k.DB.GetKept(ctx, ws, kind, name)
}

// List returns the items of a kind, by name.
func (k *Items) List(ctx context.Context, ws, kind string) ([]store.KeptItem, error) {
	return k.DB.ListKept(ctx, ws, kind)
}

// Put creates or replaces an item with doc as JSON.
func (k *Items) Put(ctx context.Context, ws, kind, name string, doc any) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return k.DB.PutKept(ctx, ws, kind, name, string(b))
}

// Delete removes an item; store.ErrNotFound when there is none.
func (k *Items) Delete(ctx context.Context, ws, kind, name string) error {
	return k.DB.DeleteKept(ctx, ws, kind, name)
}

// Prune deletes the items of a kind last put longer than age ago.
func (k *Items) Prune(ctx context.Context, ws, kind string, age time.Duration) error {
	return k.DB.PruneKept(ctx, ws, kind, time.Now().Add(-age))
}
