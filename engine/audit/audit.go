// Package audit records who changed what: the audit log the Settings page
// shows, and the workspace webhook's event for the change.
package audit

import (
	"context"
	"log/slog"

	"github.com/millrun/millrun/engine/store"
)

// Log writes and reads the audit log.
type Log struct {
	DB *store.DB
	// Send tells the workspace webhook of an event; nil tells no one.
	Send func(event map[string]any)
	Log  *slog.Logger
}

// Record writes one change to the audit log and, with an event, tells the
// workspace webhook. A failed write is logged: the change itself was made.
func (l *Log) Record(ctx context.Context, actor, action, target, detail string, event map[string]any) {
	if err := l.DB.AddAudit(ctx, store.AuditEntry{Actor: actor, Action: action, Target: target, Detail: detail}); err != nil && l.Log != nil {
		l.Log.Error("audit", "action", action, "err", err)
	}
	if event != nil && l.Send != nil {
		l.Send(event)
	}
}

// List returns the newest entries first, older than the entry id before
// (zero: the newest), at most limit (zero: a page of 100).
func (l *Log) List(ctx context.Context, before int64, limit int) ([]store.AuditEntry, error) {
	return l.DB.ListAudit(ctx, before, limit)
}
