package engine

import (
	"context"

	"github.com/millrun/millrun/engine/store"
)

// recordChange writes the audit log and tells the workspace webhook.
func (e *Engine) recordChange(ctx context.Context, actor, action, target, detail string, event map[string]any) {
	if err := e.db.AddAudit(ctx, store.AuditEntry{Actor: actor, Action: action, Target: target, Detail: detail}); err != nil {
		e.log.Error("audit", "action", action, "err", err)
	}
	if event != nil {
		e.wshook.Send(event)
	}
}
