package engine

import (
	"context"
	"net/http"
	"strings"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/store"
)

// isWebhookPath reports whether path belongs to the webhook subset (run
// routes, job reads, custom routes): the routes callers from anywhere use,
// which the tunnel may carry. Everything else is management.
func isWebhookPath(path string) bool {
	return isRecorded(path) || strings.HasPrefix(workspaceRest(path), "jobs_u/")
}

// guard protects the management routes and the UI: a Host header that is
// not this machine is refused (DNS rebinding), and so is a state-changing
// request a browser sent from another site (CSRF).
func (e *Engine) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isWebhookPath(r.URL.Path) {
			if !auth.LocalHost(r.Host, e.cfg.AllowedHosts) {
				apierr.Write(w, e.log, apierr.Forbidden("host %q is not allowed: open millrun at http://127.0.0.1 or http://localhost", r.Host))
				return
			}
			switch r.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
			default:
				if auth.CrossSite(r) {
					apierr.Write(w, e.log, apierr.Forbidden("cross-site request refused"))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// recordChange writes the audit log and tells the workspace webhook.
func (e *Engine) recordChange(ctx context.Context, actor, action, target, detail string, event map[string]any) {
	if err := e.db.AddAudit(ctx, store.AuditEntry{Actor: actor, Action: action, Target: target, Detail: detail}); err != nil {
		e.log.Error("audit", "action", action, "err", err)
	}
	if event != nil {
		e.notifier.send(event)
	}
}
