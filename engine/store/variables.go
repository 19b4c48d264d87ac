package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Variable is a stored variable; Value is sealed (see engine/resources).
type Variable struct {
	Workspace   string
	Path        string
	Value       []byte
	IsSecret    bool
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// PutVariable creates or replaces a variable. With create set, an existing
// path is ErrDuplicate; without, a missing one is ErrNotFound.
func (db *DB) PutVariable(ctx context.Context, v Variable, create bool) error {
	now := micros(time.Now())
	return db.putKeyed(ctx, "variables", v.Workspace, v.Path, create, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO variables (workspace, path, value, is_secret, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (workspace, path) DO UPDATE SET value = excluded.value, is_secret = excluded.is_secret, description = excluded.description, updated_at = excluded.updated_at`,
			v.Workspace, v.Path, v.Value, v.IsSecret, v.Description, now, now)
		return err
	})
}

const variableColumns = `workspace, path, value, is_secret, description, created_at, updated_at`

func scanVariable(row interface{ Scan(...any) error }) (*Variable, error) {
	var v Variable
	var c, u int64
	if err := row.Scan(&v.Workspace, &v.Path, &v.Value, &v.IsSecret, &v.Description, &c, &u); err != nil {
		return nil, err
	}
	v.CreatedAt, v.UpdatedAt = time.UnixMicro(c).UTC(), time.UnixMicro(u).UTC()
	return &v, nil
}

// GetVariable returns one variable.
func (db *DB) GetVariable(ctx context.Context, workspace, path string) (*Variable, error) {
	v, err := scanVariable(db.read.QueryRowContext(ctx, `SELECT `+variableColumns+` FROM variables WHERE workspace = ? AND path = ?`, workspace, path))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get variable %s: %w", path, err)
	}
	return v, nil
}

// ListVariables returns a workspace's variables by path.
func (db *DB) ListVariables(ctx context.Context, workspace string) ([]*Variable, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+variableColumns+` FROM variables WHERE workspace = ? ORDER BY path`, workspace)
	if err != nil {
		return nil, fmt.Errorf("list variables: %w", err)
	}
	return appendRows([]*Variable{}, rows, scanVariable)
}

// DeleteVariable removes a variable.
func (db *DB) DeleteVariable(ctx context.Context, workspace, path string) error {
	return db.execOne(ctx, `DELETE FROM variables WHERE workspace = ? AND path = ?`, workspace, path)
}
