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
	// NoMainFunc marks a library: a script without main, which other
	// scripts import and nothing runs.
	NoMainFunc bool
	// Lock is the dependency lock (Windmill's .script.lock text); ""
	// until resolved or pushed. LockError says why the last resolution
	// failed, until one succeeds.
	Lock      string
	LockError string
	// Extra is the JSON object of the create request's fields the columns
	// do not hold (tag, envs, priority, the schema as sent, ...), kept to
	// be given back; "" when there were none.
	Extra     string
	CreatedAt time.Time
}

// ScriptSummary is a script path with its latest version and run counters.
type ScriptSummary struct {
	Latest     ScriptVersion
	CreatedAt  time.Time
	RunCount   int64
	LastStatus string
	Archived   bool
}

// SaveScriptVersion stores v and makes it the path's latest version. When a
// version with the same hash exists it is not duplicated; it only becomes
// the latest again. created reports whether a new version row was written.
func (db *DB) SaveScriptVersion(ctx context.Context, v ScriptVersion) (created bool, err error) {
	err = db.Write(ctx, func(tx *sql.Tx) error {
		now := time.Now().UnixMicro()
		res, err := tx.ExecContext(ctx, `INSERT INTO script_versions
			(hash, workspace, path, language, content, summary, description, schema, timeout_s, concurrency_limit, dedicated_worker, no_main_func, lock, extra, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
			v.Hash, v.Workspace, v.Path, v.Language, v.Content, v.Summary, v.Description, v.Schema, v.TimeoutS, v.ConcurrencyLimit, v.DedicatedWorker, v.NoMainFunc, v.Lock, v.Extra, now)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		created = n == 1
		if !created {
			// Same content: summary and limits are metadata, not content, so
			// they are updated in place rather than forking a version.
			// A lock pushed with it replaces the stored one; none keeps it.
			if _, err := tx.ExecContext(ctx, `UPDATE script_versions SET summary = ?, description = ?, timeout_s = ?, concurrency_limit = ?, dedicated_worker = ?, no_main_func = ?,
				schema = ?, extra = ?,
				lock = CASE WHEN ? = '' THEN lock ELSE ? END, lock_error = CASE WHEN ? = '' THEN lock_error ELSE '' END WHERE hash = ?`,
				v.Summary, v.Description, v.TimeoutS, v.ConcurrencyLimit, v.DedicatedWorker, v.NoMainFunc, v.Schema, v.Extra, v.Lock, v.Lock, v.Lock, v.Hash); err != nil {
				return err
			}
		}
		// Saving at an archived path brings it back, as in Windmill.
		_, err = tx.ExecContext(ctx, `INSERT INTO scripts (workspace, path, latest_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (workspace, path) DO UPDATE SET latest_hash = excluded.latest_hash, updated_at = excluded.updated_at, archived_at = NULL`,
			v.Workspace, v.Path, v.Hash, now, now)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("save script %s: %w", v.Path, err)
	}
	return created, nil
}

const versionColumns = `v.hash, v.workspace, v.path, v.language, v.content, v.summary, v.description, v.schema, v.timeout_s, v.concurrency_limit, v.dedicated_worker, v.no_main_func, v.lock, v.lock_error, v.extra, v.created_at`

func scanVersion(row interface{ Scan(...any) error }, extra ...any) (ScriptVersion, error) {
	var v ScriptVersion
	var created int64
	dest := append([]any{&v.Hash, &v.Workspace, &v.Path, &v.Language, &v.Content, &v.Summary, &v.Description, &v.Schema, &v.TimeoutS, &v.ConcurrencyLimit, &v.DedicatedWorker, &v.NoMainFunc, &v.Lock, &v.LockError, &v.Extra, &created}, extra...)
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
	WHERE s.workspace = ? AND s.path = ? AND s.archived_at IS NULL`

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
	return appendRows(nil, rows, func(row rowScanner) (ScriptVersion, error) { return scanVersion(row) })
}

// ListScripts returns the latest version of every live script (and of the
// archived ones too with archived set), ordered by path.
func (db *DB) ListScripts(ctx context.Context, workspace string, archived bool) ([]ScriptSummary, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+versionColumns+`, s.created_at,
			(SELECT COUNT(*) FROM jobs j WHERE j.workspace = s.workspace AND j.script_path = s.path),
			COALESCE((SELECT j.status FROM jobs j WHERE j.workspace = s.workspace AND j.script_path = s.path ORDER BY j.created_at DESC LIMIT 1), ''),
			s.archived_at IS NOT NULL
		FROM scripts s JOIN script_versions v ON v.hash = s.latest_hash WHERE s.workspace = ? AND (? OR s.archived_at IS NULL) ORDER BY s.path`, workspace, archived)
	if err != nil {
		return nil, err
	}
	return appendRows(nil, rows, func(row rowScanner) (ScriptSummary, error) {
		var s ScriptSummary
		var created int64
		v, err := scanVersion(row, &created, &s.RunCount, &s.LastStatus, &s.Archived)
		s.Latest = v
		s.CreatedAt = time.UnixMicro(created).UTC()
		return s, err
	})
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

// Head is what a path points at: its latest version and whether the path
// is archived.
type Head struct {
	LatestHash string
	Archived   bool
}

// ScriptHead returns what the script path points at, archived or not.
func (db *DB) ScriptHead(ctx context.Context, workspace, path string) (Head, error) {
	return db.head(ctx, "scripts", workspace, path)
}

// FlowHead returns what the flow path points at, archived or not.
func (db *DB) FlowHead(ctx context.Context, workspace, path string) (Head, error) {
	return db.head(ctx, "flows", workspace, path)
}

func (db *DB) head(ctx context.Context, table, workspace, path string) (Head, error) {
	var h Head
	err := db.read.QueryRowContext(ctx, `SELECT latest_hash, archived_at IS NOT NULL FROM `+table+` WHERE workspace = ? AND path = ?`, workspace, path).Scan(&h.LatestHash, &h.Archived)
	if errors.Is(err, sql.ErrNoRows) {
		return h, ErrNotFound
	}
	return h, err
}

// ArchiveScript archives (or, with archived false, restores) a script path.
func (db *DB) ArchiveScript(ctx context.Context, workspace, path string, archived bool) error {
	return db.archive(ctx, "scripts", workspace, path, archived)
}

// ArchiveFlow archives (or restores) a flow path.
func (db *DB) ArchiveFlow(ctx context.Context, workspace, path string, archived bool) error {
	return db.archive(ctx, "flows", workspace, path, archived)
}

func (db *DB) archive(ctx context.Context, table, workspace, path string, archived bool) error {
	var at any
	if archived {
		at = time.Now().UnixMicro()
	}
	return db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE `+table+` SET archived_at = ? WHERE workspace = ? AND path = ?`, at, workspace, path)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// DeleteScriptVersion removes one version. When it was the path's latest,
// the newest remaining version takes its place; when none remains, the
// path goes too. It returns the version's path.
func (db *DB) DeleteScriptVersion(ctx context.Context, workspace, hash string) (path string, err error) {
	err = db.Write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `DELETE FROM script_versions WHERE workspace = ? AND hash = ? RETURNING path`, workspace, hash).Scan(&path); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		var next string
		err := tx.QueryRowContext(ctx, `SELECT hash FROM script_versions WHERE workspace = ? AND path = ? ORDER BY created_at DESC LIMIT 1`, workspace, path).Scan(&next)
		if errors.Is(err, sql.ErrNoRows) {
			_, err = tx.ExecContext(ctx, `DELETE FROM scripts WHERE workspace = ? AND path = ?`, workspace, path)
			return err
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE scripts SET latest_hash = ? WHERE workspace = ? AND path = ? AND latest_hash = ?`, next, workspace, path, hash)
		return err
	})
	return path, err
}

// SetScriptLock records a version's resolved lock, or (lock "") why its
// resolution failed; a failure never erases a lock the version has.
func (db *DB) SetScriptLock(ctx context.Context, workspace, hash, lock, lockErr string) error {
	err := db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		if lock != "" {
			_, err = tx.ExecContext(ctx, `UPDATE script_versions SET lock = ?, lock_error = '' WHERE workspace = ? AND hash = ?`, lock, workspace, hash)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE script_versions SET lock_error = ? WHERE workspace = ? AND hash = ?`, lockErr, workspace, hash)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("record the lock of %s: %w", hash, err)
	}
	return nil
}
