package engine

import (
	"context"
	"github.com/millrun/millrun/engine/api"
	"net/http"
	"net/http/httptest"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/triggers"
)

// registerRouteTest mounts "Send a signed test request": a request the
// route's provider could have sent, signed with the route's own secret,
// sent through the route like any other (its check included; recorded in
// the inspector), so a route can be tried before its URL is pasted into
// Slack or GitHub.
func (e *Engine) registerRouteTest(mux api.Mux, routeServer *triggers.Server) {
	mux.HandleFunc("POST /api/millrun/routes/test/{path...}", func(w http.ResponseWriter, r *http.Request) {
		req, err := routeServer.TestRequest(r.Context(), r.PathValue("path"))
		if err != nil {
			apierr.Write(w, e.log, apierr.BadRequest("%s", err))
			return
		}
		rec := httptest.NewRecorder()
		// A fresh context: nothing of the user's session (identity, the
		// desktop window's trust) may reach the route, which must judge
		// the request as it would a stranger's.
		e.handler.ServeHTTP(rec, req.WithContext(context.Background()))
		body := rec.Body.String()
		if len(body) > 64<<10 {
			body = body[:64<<10]
		}
		httpx.JSON(w, http.StatusOK, map[string]any{"status": rec.Code, "job_id": rec.Header().Get("X-Millrun-Job-Id"), "body": body})
	})
}
