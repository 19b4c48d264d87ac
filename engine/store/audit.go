package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// AuditEntry is one recorded management action.
type AuditEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Detail string    `json:"detail"`
}

// AddAudit records a management action.
func (db *DB) AddAudit(ctx context.Context, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	return db.group.submit(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)`, micros(e.At), e.Actor, e.Action, e.Target, e.Detail)
		return err
	})
}

// ListAudit returns the newest entries first, older than before (zero: newest).
func (db *DB) ListAudit(ctx context.Context, before int64, limit int) ([]AuditEntry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.read.QueryContext(ctx, `SELECT id, at, actor, action, target, detail FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return appendRows([]AuditEntry{}, rows, func(row rowScanner) (AuditEntry, error) {
		var e AuditEntry
		var at int64
		err := row.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.Detail)
		e.At = time.UnixMicro(at).UTC()
		return e, err
	})
}
