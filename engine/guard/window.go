package guard

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/reqctx"
)

// Window serves millrun's own window in-process (Wails' asset server)
// with next, its requests acting as as. The window is never reachable
// over a network, and it is opened by the user on their own machine, so
// its requests act with full access without a token.
//
// The trust is for the UI's own pages only. The window never shows a page
// the API served (a script's HTML): once shown, everything it loaded would
// come here too and act with full access, sandbox or not (an image's
// request carries no Origin). And a request from a sandboxed page
// (Origin: null) is never the UI's.
func Window(log *slog.Logger, as *auth.Identity, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") && auth.Navigation(r) {
			apierr.Write(w, log, apierr.Forbidden("millrun's window shows only its own pages: open %s in a web browser", r.URL.Path))
			return
		}
		if r.Header.Get("Origin") == "null" {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(reqctx.WithWindow(reqctx.Trusted(r.Context(), as))))
	})
}
