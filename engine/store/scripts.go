package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ScriptVersion is one immutable version of a script.
type ScriptVersion struct {
	Hash             string
	Workspace        string
	Path             string
	Language         string
	Content          string
	Summary          string
	Description      string
	Schema           string // JSON Schema text
	TimeoutS         int
	ConcurrencyLimit int
	DedicatedWorker  bool
	CreatedAt        time.Time
}

// ScriptSummary is a script path with its latest version and run counters.
type ScriptSummary struct {
	Latest     ScriptVersion
	CreatedAt  time.Time
	RunCount   int64
	LastStatus string
}

// SaveScriptVersion stores v and makes it the path's latest version. When a
// version with the same hash exists it is not duplicated; it only becomes
// the latest again. created reports whether a new version row was written.
func (db *DB) SaveScriptVersion(ctx context.Context, v ScriptVersion) (created bool, err error) {
	err = db.Write(ctx, func(tx *sql.Tx) error {
		now := time.Now().UnixMicro()
		res, err := tx.ExecContext(ctx, `INSERT INTO script_versions
			(hash, workspace, path, language, content, summary, description, schema, timeout_s, concurrency_limit, dedicated_worker, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
			v.Hash, v.Workspace, v.Path, v.Language, v.Content, v.Summary, v.Description, v.Schema, v.TimeoutS, v.ConcurrencyLimit, v.DedicatedWorker, now)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		created = n == 1
		if !created {
			// Same content: summary and limits are metadata, not content, so
			// they are updated in place rather than forking a version.
			if _, err := tx.ExecContext(ctx, `UPDATE script_versions SET summary = ?, description = ?, timeout_s = ?, concurrency_limit = ?, dedicated_worker = ? WHERE hash = ?`,
				v.Summary, v.Description, v.TimeoutS, v.ConcurrencyLimit, v.DedicatedWorker, v.Hash); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO scripts (workspace, path, latest_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (workspace, path) DO UPDATE SET latest_hash = excluded.latest_hash, updated_at = excluded.updated_at`,
			v.Workspace, v.Path, v.Hash, now, now)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("save script %s: %w", v.Path, err)
	}
	return created, nil
}

const versionColumns = `v.hash, v.workspace, v.path, v.language, v.content, v.summary, v.description, v.schema, v.timeout_s, v.concurrency_limit, v.dedicated_worker, v.created_at`

func scanVersion(row interface{ Scan(...any) error }, extra ...any) (ScriptVersion, error) {
	var v ScriptVersion
	var created int64
	dest := append([]any{&v.Hash, &v.Workspace, &v.Path, &v.Language, &v.Content, &v.Summary, &v.Description, &v.Schema, &v.TimeoutS, &v.ConcurrencyLimit, &v.DedicatedWorker, &created}, extra...)
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return v, ErrNotFound
		}
		return v, err
	}
	v.CreatedAt = time.UnixMicro(created).UTC()
	return v, nil
}

// LatestScript returns the latest version at path.
func (db *DB) LatestScript(ctx context.Context, workspace, path string) (ScriptVersion, error) {
	return scanVersion(db.latestScript.QueryRowContext(quick(ctx), workspace, path))
}

const latestScriptSQL = `SELECT ` + versionColumns + ` FROM scripts s JOIN script_versions v ON v.hash = s.latest_hash
	WHERE s.workspace = ? AND s.path = ?`

// ScriptByHash returns one exact version.
func (db *DB) ScriptByHash(ctx context.Context, workspace, hash string) (ScriptVersion, error) {
	row := db.read.QueryRowContext(ctx, `SELECT `+versionColumns+` FROM script_versions v WHERE v.workspace = ? AND v.hash = ?`, workspace, hash)
	return scanVersion(row)
}

// ScriptVersions lists every version at path, newest first.
func (db *DB) ScriptVersions(ctx context.Context, workspace, path string) ([]ScriptVersion, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+versionColumns+` FROM script_versions v WHERE v.workspace = ? AND v.path = ? ORDER BY v.created_at DESC`, workspace, path)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ScriptVersion
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ListScripts returns the latest version of every script, ordered by path.
func (db *DB) ListScripts(ctx context.Context, workspace string) ([]ScriptSummary, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+versionColumns+`, s.created_at,
			(SELECT COUNT(*) FROM jobs j WHERE j.workspace = s.workspace AND j.script_path = s.path),
			COALESCE((SELECT j.status FROM jobs j WHERE j.workspace = s.workspace AND j.script_path = s.path ORDER BY j.created_at DESC LIMIT 1), '')
		FROM scripts s JOIN script_versions v ON v.hash = s.latest_hash WHERE s.workspace = ? ORDER BY s.path`, workspace)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ScriptSummary
	for rows.Next() {
		var s ScriptSummary
		var created int64
		v, err := scanVersion(rows, &created, &s.RunCount, &s.LastStatus)
		if err != nil {
			return nil, err
		}
		s.Latest = v
		s.CreatedAt = time.UnixMicro(created).UTC()
		out = append(out, s)
	}
	return out, rows.Err()
}

// DeleteScript removes a script and every version of it. Its past jobs
// stay in the history; queued ones fail when they find no version.
func (db *DB) DeleteScript(ctx context.Context, workspace, path string) error {
	return db.deleteVersioned(ctx, "scripts", "script_versions", workspace, path)
}

// DeleteFlow removes a flow and every version of it.
func (db *DB) DeleteFlow(ctx context.Context, workspace, path string) error {
	return db.deleteVersioned(ctx, "flows", "flow_versions", workspace, path)
}

// deleteVersioned deletes a path from a table of paths and its table of
// versions; the table names are the callers' constants, never input.
func (db *DB) deleteVersioned(ctx context.Context, table, versions, workspace, path string) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE workspace = ? AND path = ?`, workspace, path)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM `+versions+` WHERE workspace = ? AND path = ?`, workspace, path)
		return err
	})
}
