package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// FlowVersion is one immutable version of a flow definition.
type FlowVersion struct {
	Hash        string
	Workspace   string
	Path        string
	Summary     string
	Description string
	Value       string // OpenFlow value JSON
	Schema      string
	// Extra is the JSON object of the create request's fields the columns
	// do not hold (tag, timeout, the schema as sent, ...); "" for none.
	Extra     string
	CreatedAt time.Time
	Archived  bool // set by ListFlows
}

// SaveFlowVersion stores v (unless its hash exists) and makes it the latest.
func (db *DB) SaveFlowVersion(ctx context.Context, v FlowVersion) (created bool, err error) {
	err = db.Write(ctx, func(tx *sql.Tx) error {
		now := time.Now().UnixMicro()
		res, err := tx.ExecContext(ctx, `INSERT INTO flow_versions (hash, workspace, path, summary, description, value, schema, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`, v.Hash, v.Workspace, v.Path, v.Summary, v.Description, v.Value, v.Schema, now)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		created = n == 1
		if !created {
			// Same steps: summary and description are metadata, updated
			// in place, as for scripts.
			if _, err := tx.ExecContext(ctx, `UPDATE flow_versions SET summary = ?, description = ? WHERE hash = ?`, v.Summary, v.Description, v.Hash); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO flows (workspace, path, latest_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (workspace, path) DO UPDATE SET latest_hash = excluded.latest_hash, updated_at = excluded.updated_at, archived_at = NULL`,
			v.Workspace, v.Path, v.Hash, now, now)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("save flow %s: %w", v.Path, err)
	}
	return created, nil
}

const flowColumns = `v.hash, v.workspace, v.path, v.summary, v.description, v.value, v.schema, v.extra, v.created_at`

func scanFlow(row interface{ Scan(...any) error }, extra ...any) (FlowVersion, error) {
	var v FlowVersion
	var created int64
	if err := row.Scan(append([]any{&v.Hash, &v.Workspace, &v.Path, &v.Summary, &v.Description, &v.Value, &v.Schema, &v.Extra, &created}, extra...)...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return v, ErrNotFound
		}
		return v, err
	}
	v.CreatedAt = time.UnixMicro(created).UTC()
	return v, nil
}

// LatestFlow returns the latest version of the flow at path.
func (db *DB) LatestFlow(ctx context.Context, workspace, path string) (FlowVersion, error) {
	return scanFlow(db.read.QueryRowContext(ctx, `SELECT `+flowColumns+` FROM flows f JOIN flow_versions v ON v.hash = f.latest_hash
		WHERE f.workspace = ? AND f.path = ? AND f.archived_at IS NULL`, workspace, path))
}

// FlowByHash returns one exact flow version.
func (db *DB) FlowByHash(ctx context.Context, workspace, hash string) (FlowVersion, error) {
	return scanFlow(db.read.QueryRowContext(ctx, `SELECT `+flowColumns+` FROM flow_versions v WHERE v.workspace = ? AND v.hash = ?`, workspace, hash))
}

// ListFlows returns the latest version of every live flow (archived ones
// too with archived set), by path.
func (db *DB) ListFlows(ctx context.Context, workspace string, archived bool) ([]FlowVersion, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+flowColumns+`, f.archived_at IS NOT NULL FROM flows f JOIN flow_versions v ON v.hash = f.latest_hash
		WHERE f.workspace = ? AND (? OR f.archived_at IS NULL) ORDER BY f.path`, workspace, archived)
	if err != nil {
		return nil, fmt.Errorf("list flows: %w", err)
	}
	return appendRows(nil, rows, func(row rowScanner) (FlowVersion, error) {
		var archived bool
		v, err := scanFlow(row, &archived)
		v.Archived = archived
		return v, err
	})
}

// SetFlowExtra records the fields of a flow version's create request that
// the columns do not hold (see FlowVersion.Extra).
func (db *DB) SetFlowExtra(ctx context.Context, workspace, hash, extra string) error {
	err := db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE flow_versions SET extra = ? WHERE workspace = ? AND hash = ?`, extra, workspace, hash)
		return err
	})
	if err != nil {
		return fmt.Errorf("record the fields of flow version %s: %w", hash, err)
	}
	return nil
}

// SetFlowStatusAsync records a flow job's progress, ordered with its other writes.
func (db *DB) SetFlowStatusAsync(id, status string, done func(error)) {
	db.group.submitAsync(func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE jobs SET flow_status = ? WHERE id = ?`, status, id)
		return err
	}, done)
}
