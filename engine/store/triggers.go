package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// StoredTrigger is an HTTP route's definition as JSON.
type StoredTrigger struct {
	Workspace  string
	Path       string
	Definition string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// PutTrigger stores a route, checking inside the write that no other route
// holds its key: check(existing) returns an error for a conflict.
func (db *DB) PutTrigger(ctx context.Context, t StoredTrigger, create bool, check func(existing []StoredTrigger) error) error {
	now := micros(time.Now())
	return db.group.submit(ctx, func(tx *sql.Tx) error {
		rows, err := tx.Query(`SELECT workspace, path, definition, created_at, updated_at FROM http_triggers WHERE NOT (workspace = ? AND path = ?)`, t.Workspace, t.Path)
		if err != nil {
			return err
		}
		others, err := appendRows([]StoredTrigger{}, rows, scanTrigger)
		if err != nil {
			return err
		}
		if err := check(others); err != nil {
			return err
		}
		var n int
		_ = tx.QueryRow(`SELECT count(*) FROM http_triggers WHERE workspace = ? AND path = ?`, t.Workspace, t.Path).Scan(&n)
		if create && n > 0 {
			return ErrDuplicate
		}
		if !create && n == 0 {
			return ErrNotFound
		}
		_, err = tx.Exec(`INSERT INTO http_triggers (workspace, path, definition, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (workspace, path) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`,
			t.Workspace, t.Path, t.Definition, now, now)
		return err
	})
}

// ListTriggers returns every route.
func (db *DB) ListTriggers(ctx context.Context) ([]StoredTrigger, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT workspace, path, definition, created_at, updated_at FROM http_triggers ORDER BY path`)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	return appendRows([]StoredTrigger{}, rows, scanTrigger)
}

func scanTrigger(row rowScanner) (StoredTrigger, error) {
	var t StoredTrigger
	var c, u int64
	err := row.Scan(&t.Workspace, &t.Path, &t.Definition, &c, &u)
	t.CreatedAt, t.UpdatedAt = time.UnixMicro(c).UTC(), time.UnixMicro(u).UTC()
	return t, err
}

// DeleteTrigger removes a route.
func (db *DB) DeleteTrigger(ctx context.Context, workspace, path string) error {
	return db.execOne(ctx, `DELETE FROM http_triggers WHERE workspace = ? AND path = ?`, workspace, path)
}
