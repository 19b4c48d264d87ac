package guard

import (
	"log/slog"
	"net/http"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/reqctx"
)

// FullAccess lets only full-access callers through: a webhook-scoped
// token is refused with Windmill's answer, naming scope, the scope the
// route needs. It runs after authentication, which set the identity.
func FullAccess(log *slog.Logger, scope string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id := reqctx.Identity(r.Context()); id == nil || !id.FullAccess() {
				apierr.Write(w, log, apierr.NotAuthorized("Required scope: %s", scope))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Workspace refuses a route under /api/w/{ws}/ whose {ws} is not the
// workspace this millrun serves (it has one).
func Workspace(log *slog.Logger, workspace string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := CheckWorkspace(r, workspace); err != nil {
				apierr.Write(w, log, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// CheckWorkspace is Workspace's check, for a route that must do something
// else first (an approval link redacts its signature).
func CheckWorkspace(r *http.Request, workspace string) error {
	if ws := r.PathValue("ws"); ws != workspace {
		return apierr.NotFound("workspace %s does not exist (this millrun serves workspace %s)", ws, workspace)
	}
	return nil
}
