package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// KeptItem is an item of a kind millrun keeps without running it (a
// resource type, a user, a group, the workspace settings, an app, ...):
// its JSON document, given back as it was put.
type KeptItem struct {
	Kind      string
	Name      string
	Value     string // JSON
	UpdatedAt time.Time
}

// PutKept creates or replaces an item.
func (db *DB) PutKept(ctx context.Context, workspace, kind, name, value string) error {
	err := db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kept_items (workspace, kind, name, value, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (workspace, kind, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			workspace, kind, name, value, micros(time.Now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("keep %s %s: %w", kind, name, err)
	}
	return nil
}

// GetKept returns one item, or ErrNotFound.
func (db *DB) GetKept(ctx context.Context, workspace, kind, name string) (KeptItem, error) {
	it := KeptItem{Kind: kind, Name: name}
	var u int64
	err := db.read.QueryRowContext(ctx, `SELECT value, updated_at FROM kept_items WHERE workspace = ? AND kind = ? AND name = ?`,
		workspace, kind, name).Scan(&it.Value, &u)
	if errors.Is(err, sql.ErrNoRows) {
		return it, ErrNotFound
	}
	if err != nil {
		return it, fmt.Errorf("read %s %s: %w", kind, name, err)
	}
	it.UpdatedAt = time.UnixMicro(u).UTC()
	return it, nil
}

// ListKept returns the items of a kind, by name.
func (db *DB) ListKept(ctx context.Context, workspace, kind string) ([]KeptItem, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT name, value, updated_at FROM kept_items WHERE workspace = ? AND kind = ? ORDER BY name`, workspace, kind)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", kind, err)
	}
	return appendRows(nil, rows, func(row rowScanner) (KeptItem, error) {
		it := KeptItem{Kind: kind}
		var u int64
		err := row.Scan(&it.Name, &it.Value, &u)
		it.UpdatedAt = time.UnixMicro(u).UTC()
		return it, err
	})
}

// DeleteKept removes an item; ErrNotFound when there is none.
func (db *DB) DeleteKept(ctx context.Context, workspace, kind, name string) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM kept_items WHERE workspace = ? AND kind = ? AND name = ?`, workspace, kind, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// JobCode is the code a job runs when it runs no saved version: a
// preview, or a dependency job for code sent with its request.
type JobCode struct {
	Language string
	Content  string
	Lock     string
	// Modules are the code of workspace scripts it imports, by path, that
	// win over the saved ones (wmill's local versions).
	Modules map[string]string
}

// PutJobCode records a job's code; it is written before the job is
// queued and deleted with the job.
func (db *DB) PutJobCode(ctx context.Context, jobID string, c JobCode) error {
	modules := ""
	if len(c.Modules) > 0 {
		b, err := json.Marshal(c.Modules)
		if err != nil {
			return err
		}
		modules = string(b)
	}
	err := db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO job_code (job_id, language, content, lock, modules) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (job_id) DO UPDATE SET language = excluded.language, content = excluded.content, lock = excluded.lock, modules = excluded.modules`,
			jobID, c.Language, c.Content, c.Lock, modules)
		return err
	})
	if err != nil {
		return fmt.Errorf("record the code of job %s: %w", jobID, err)
	}
	return nil
}

// GetJobCode returns a job's code, or ErrNotFound.
func (db *DB) GetJobCode(ctx context.Context, jobID string) (JobCode, error) {
	var c JobCode
	var modules string
	err := db.read.QueryRowContext(ctx, `SELECT language, content, lock, modules FROM job_code WHERE job_id = ?`, jobID).Scan(&c.Language, &c.Content, &c.Lock, &modules)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	if err == nil && modules != "" {
		err = json.Unmarshal([]byte(modules), &c.Modules)
	}
	return c, err
}

// PruneKept deletes the items of a kind last put before cutoff.
func (db *DB) PruneKept(ctx context.Context, workspace, kind string, cutoff time.Time) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM kept_items WHERE workspace = ? AND kind = ? AND updated_at < ?`, workspace, kind, micros(cutoff))
		return err
	})
}

// ForgetJobData empties a finished job's arguments, result and logs
// (Windmill's delete_after_use): its state and timing stay in the history.
func (db *DB) ForgetJobData(ctx context.Context, id string) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE jobs SET args = '{}', result = 'null', logs = '' WHERE id = ? AND completed_at IS NOT NULL`, id)
		return err
	})
}
