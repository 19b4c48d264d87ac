package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrDuplicate says a row with that key exists already.
var ErrDuplicate = errors.New("already exists")

// Resource is a stored resource; Value is sealed (see engine/resources).
type Resource struct {
	Workspace    string
	Path         string
	ResourceType string
	Value        []byte
	Description  string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// PutResource creates or replaces a resource. With create set, an
// existing path is an error (ErrDuplicate).
func (db *DB) PutResource(ctx context.Context, r Resource, create bool) error {
	now := micros(time.Now())
	return db.putKeyed(ctx, "resources", r.Workspace, r.Path, create, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO resources (workspace, path, resource_type, value, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (workspace, path) DO UPDATE SET resource_type = excluded.resource_type, value = excluded.value, description = excluded.description, updated_at = excluded.updated_at`,
			r.Workspace, r.Path, r.ResourceType, r.Value, r.Description, now, now)
		return err
	})
}

// putKeyed runs upsert for the row at (workspace, path) of table, after
// checking create's rule: a new row must not exist (ErrDuplicate), an
// update needs one (ErrNotFound). table is the callers' constant.
func (db *DB) putKeyed(ctx context.Context, table, workspace, path string, create bool, upsert func(tx *sql.Tx) error) error {
	return db.group.submit(ctx, func(tx *sql.Tx) error {
		var n int
		_ = tx.QueryRow(`SELECT count(*) FROM `+table+` WHERE workspace = ? AND path = ?`, workspace, path).Scan(&n)
		if create && n > 0 {
			return ErrDuplicate
		}
		if !create && n == 0 {
			return ErrNotFound
		}
		return upsert(tx)
	})
}

// GetResource returns one resource.
func (db *DB) GetResource(ctx context.Context, workspace, path string) (*Resource, error) {
	var r Resource
	var c, u int64
	err := db.read.QueryRowContext(ctx, `SELECT workspace, path, resource_type, value, description, created_at, updated_at FROM resources WHERE workspace = ? AND path = ?`,
		workspace, path).Scan(&r.Workspace, &r.Path, &r.ResourceType, &r.Value, &r.Description, &c, &u)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get resource %s: %w", path, err)
	}
	r.CreatedAt, r.UpdatedAt = time.UnixMicro(c).UTC(), time.UnixMicro(u).UTC()
	return &r, nil
}

// ListResources returns a workspace's resources by path.
func (db *DB) ListResources(ctx context.Context, workspace string) ([]Resource, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT workspace, path, resource_type, value, description, created_at, updated_at FROM resources WHERE workspace = ? ORDER BY path`, workspace)
	if err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	return appendRows([]Resource{}, rows, func(row rowScanner) (Resource, error) {
		var r Resource
		var c, u int64
		err := row.Scan(&r.Workspace, &r.Path, &r.ResourceType, &r.Value, &r.Description, &c, &u)
		r.CreatedAt, r.UpdatedAt = time.UnixMicro(c).UTC(), time.UnixMicro(u).UTC()
		return r, err
	})
}

// DeleteResource removes a resource.
func (db *DB) DeleteResource(ctx context.Context, workspace, path string) error {
	return db.execOne(ctx, `DELETE FROM resources WHERE workspace = ? AND path = ?`, workspace, path)
}

// execOne runs a statement that must touch one row (else ErrNotFound).
func (db *DB) execOne(ctx context.Context, query string, args ...any) error {
	return db.group.submit(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(query, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}
