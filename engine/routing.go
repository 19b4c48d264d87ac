package engine

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/inspector"
)

// A group is one kind of protection. Every route is mounted into exactly
// one group, and the group wraps it in its middleware in a fixed order, so
// a route's protection is decided where it is mounted and nowhere else
// (no path-string tests). Groups that the tunnel serves also mount their
// routes on the tunnel's mux; the others do not exist there.
type group struct {
	muxes []*http.ServeMux
	chain []func(http.Handler) http.Handler // outermost first
}

// Handle mounts h at pattern (net/http's pattern syntax) with the group's
// protection.
func (g *group) Handle(pattern string, h http.Handler) {
	for i := len(g.chain) - 1; i >= 0; i-- {
		h = g.chain[i](h)
	}
	for _, m := range g.muxes {
		m.Handle(pattern, h)
	}
}

// HandleFunc mounts a handler function at pattern.
func (g *group) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	g.Handle(pattern, http.HandlerFunc(h))
}

// routeTable holds the groups. public: the version, the login exchange,
// the UI's files. webhooks: run routes and custom routes, recorded by the
// inspector and served by the tunnel. jobReads: reading a job's result,
// served by the tunnel, not recorded. management: everything else.
type routeTable struct {
	public, webhooks, customRoutes, jobReads, management *group
}

func (e *Engine) newRouteTable(full, tunnel *http.ServeMux) *routeTable {
	both := []*http.ServeMux{full, tunnel}
	return &routeTable{
		public: &group{muxes: []*http.ServeMux{full}, chain: []func(http.Handler) http.Handler{e.guardLocal}},
		webhooks: &group{muxes: both, chain: []func(http.Handler) http.Handler{
			e.requests.Record, refuseBadQuery(e), e.limitBody, e.authenticate}},
		// Custom routes authenticate their callers themselves (signatures,
		// API keys, basic auth, tokens), before they read the body.
		customRoutes: &group{muxes: both, chain: []func(http.Handler) http.Handler{
			e.requests.Record, refuseBadQuery(e), e.limitBody}},
		jobReads:   &group{muxes: both, chain: []func(http.Handler) http.Handler{refuseBadQuery(e), e.authenticate}},
		management: &group{muxes: []*http.ServeMux{full}, chain: []func(http.Handler) http.Handler{e.authenticate, e.guardLocal}},
	}
}

type trustedKey struct{}

// trusted marks a request made inside this process with its identity set
// already: the desktop window (Wails' in-process asset server) and replays
// the user asked for. No network request can carry it.
func trusted(ctx context.Context, id *auth.Identity) context.Context {
	return context.WithValue(auth.WithIdentity(ctx, id), trustedKey{}, true)
}

func isTrusted(ctx context.Context) bool { return ctx.Value(trustedKey{}) == true }

// authenticate resolves the caller's token before anything reads the body;
// a request without a valid one is answered at once.
func (e *Engine) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isTrusted(r.Context()) {
			next.ServeHTTP(w, r)
			return
		}
		id, err := e.tokens.Verify(r.Context(), auth.FromRequest(r))
		if err != nil {
			// The answer says which of the caller's mistakes it is; it
			// names nothing about tokens the caller does not hold.
			msg := "Unauthorized: this token is not known to millrun (mistyped, or from another millrun)"
			var revoked *auth.RevokedError
			switch {
			case errors.As(err, &revoked):
				msg = "Unauthorized: " + revoked.Error()
			case errors.Is(err, auth.ErrExpired):
				msg = "Unauthorized: the token has expired"
			case errors.Is(err, auth.ErrNoToken):
				msg = "Unauthorized: no token; send it as Authorization: Bearer <token> or ?token=<token>"
			case !errors.Is(err, auth.ErrBadToken):
				apierr.Write(w, e.log, err)
				return
			}
			apierr.Write(w, e.log, apierr.NotAuthorized("%s", msg))
			return
		}
		inspector.ReportAuth(r.Context(), "token "+id.Label)
		next.ServeHTTP(w, r.WithContext(auth.WithIdentity(r.Context(), id)))
	})
}

// guardLocal protects the UI and the management routes: a Host header
// that is not this machine is refused (DNS rebinding), and so is a
// state-changing request a browser sent from another origin (CSRF).
func (e *Engine) guardLocal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isTrusted(r.Context()) {
			next.ServeHTTP(w, r)
			return
		}
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
		next.ServeHTTP(w, r)
	})
}

// refuseBadQuery answers 400 when the query string does not parse (a
// stray ';', a bad %-escape, too many parameters): running the script
// with the unparsed arguments silently dropped would be worse.
func refuseBadQuery(e *Engine) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
				apierr.Write(w, e.log, apierr.BadRequest("the query string does not parse: %s", err))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// bodyReadTimeout is how long a caller may take to send a request body,
// unless Config says otherwise.
const bodyReadTimeout = 60 * time.Second

// limitBody bounds how long a body may take to arrive and how much body
// memory all requests together may hold, and makes sure a body the
// handler did not read (a refused request) is not waited for afterwards.
// It reads nothing itself, so it may sit outside authenticate.
func (e *Engine) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		// A deadline left in place would also end the server's background
		// read that notices a caller hanging up, so it is cleared at EOF.
		timeout := e.cfg.BodyReadTimeout
		if timeout <= 0 {
			timeout = bodyReadTimeout
		}
		_ = rc.SetReadDeadline(time.Now().Add(timeout))
		b := &budgetedBody{ReadCloser: r.Body, budget: &e.bodyBytes, max: e.bodyBudget, rc: rc}
		r.Body = b
		defer b.release()
		next.ServeHTTP(w, r)
		if !b.eof {
			// The server drains an unread body before answering, which a
			// slow or endless refused body would stretch: a deadline in
			// the past makes that drain fail at once and the server close
			// the connection instead.
			_ = rc.SetReadDeadline(time.Now())
		}
	})
}

// errBodyBudget is what a body read returns while the bodies being read
// together exceed the budget: the caller is told to come back.
var errBodyBudget = apierr.Unavailable(5, "millrun is receiving too many large request bodies at once; retry shortly")

// budgetedBody counts the bytes a request body has delivered against a
// budget shared by all requests, and clears the read deadline at EOF.
type budgetedBody struct {
	io.ReadCloser
	budget *atomic.Int64
	max    int64
	rc     *http.ResponseController
	held   int64
	eof    bool
}

func (b *budgetedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.held += int64(n)
		if b.budget.Add(int64(n)) > b.max {
			return 0, errBodyBudget
		}
	}
	if err == io.EOF && !b.eof {
		b.eof = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// release gives the bytes back when the request is done: by then the
// handler has turned the body into a job or dropped it.
func (b *budgetedBody) release() { b.budget.Add(-b.held) }
