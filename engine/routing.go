package engine

import (
	"net/http"
	"strings"

	"github.com/millrun/millrun/engine/api"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/guard"
	"github.com/millrun/millrun/engine/inspector"
	"github.com/millrun/millrun/engine/reqctx"
)

// A group is one kind of protection. Every route is mounted into exactly
// one group, and the group wraps it in its middleware in a fixed order, so
// a route's protection is decided where it is mounted and nowhere else
// (no path-string tests, no checks in handlers). Groups that the tunnel
// serves also mount their routes on the tunnel's mux; the others do not
// exist there.
type group struct {
	name  string
	muxes []*http.ServeMux
	chain []func(http.Handler) http.Handler // outermost first
	// inWorkspace, when set, wraps the routes under /api/w/{ws}/ (after
	// the chain): the workspace they name must be this one.
	inWorkspace func(http.Handler) http.Handler
	// fullAccess, when set, makes the group's routes full-access only;
	// each route then names its scope (Scope), told to a refused token.
	fullAccess func(scope string) func(http.Handler) http.Handler
	mounted    *[]mountedRoute
}

// mountedRoute is one route of the table, as it was mounted: what the
// route test walks, so a route is tested wherever it is mounted.
type mountedRoute struct {
	group, pattern, scope string
	tunnel                bool // served by the tunnel too
}

// Handle mounts h at pattern (net/http's pattern syntax) with the group's
// protection.
func (g *group) Handle(pattern string, h http.Handler) { g.mount(pattern, "", h) }

// HandleFunc mounts a handler function at pattern.
func (g *group) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	g.Handle(pattern, http.HandlerFunc(h))
}

// Scope is where a full-access group's routes are mounted: scope is what
// a refused (webhook-scoped) token is told it lacks.
func (g *group) Scope(scope string) api.Mux { return scoped{g, scope} }

type scoped struct {
	g     *group
	scope string
}

func (s scoped) Handle(pattern string, h http.Handler) { s.g.mount(pattern, s.scope, h) }

func (s scoped) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	s.Handle(pattern, http.HandlerFunc(h))
}

func (g *group) mount(pattern, scope string, h http.Handler) {
	if g.fullAccess != nil {
		if scope == "" {
			panic("route " + pattern + " is mounted in " + g.name + " without a scope: use Scope")
		}
		h = g.fullAccess(scope)(h)
	}
	if g.inWorkspace != nil && strings.Contains(pattern, "/api/w/{ws}/") {
		h = g.inWorkspace(h)
	}
	for i := len(g.chain) - 1; i >= 0; i-- {
		h = g.chain[i](h)
	}
	for _, m := range g.muxes {
		m.Handle(pattern, h)
	}
	*g.mounted = append(*g.mounted, mountedRoute{group: g.name, pattern: pattern, scope: scope, tunnel: len(g.muxes) > 1})
}

// routeTable holds the groups. public: the version, the login exchange,
// the UI's files. webhooks: run routes and custom routes, recorded by the
// inspector and served by the tunnel. approvalLinks: a flow's resume and
// cancel links, like webhooks but signed instead of tokened. jobReads:
// reading a job's result, served by the tunnel, not recorded.
// management: what only a full-access caller may call, which is nearly
// everything else. scoped: what any valid token may call, a
// webhook-scoped one included (who it is, the jobs it started).
type routeTable struct {
	public, webhooks, customRoutes, approvalLinks, jobReads, management, scoped *group
	mounted                                                                     []mountedRoute
}

func (e *Engine) newRouteTable(full, tunnel *http.ServeMux) *routeTable {
	both := []*http.ServeMux{full, tunnel}
	local := guard.Local(e.log, e.cfg.AllowedHosts, reqctx.IsTrusted)
	query := guard.Query(e.log)
	limitBody := e.bodies.Limit
	inWorkspace := guard.Workspace(e.log, e.cfg.Workspace)
	t := &routeTable{
		public: &group{muxes: []*http.ServeMux{full}, chain: []func(http.Handler) http.Handler{local}},
		// The body limits come first: they read nothing, and the body a
		// handler read stays counted until the recorder has copied what
		// it keeps of it.
		webhooks: &group{muxes: both, chain: []func(http.Handler) http.Handler{
			guard.Sandbox, limitBody, e.requests.Record, query, e.authenticate}},
		// Custom routes authenticate their callers themselves (signatures,
		// API keys, basic auth, tokens), before they read the body.
		customRoutes: &group{muxes: both, chain: []func(http.Handler) http.Handler{
			guard.Sandbox, limitBody, e.requests.Record, query}},
		// Approval links carry their signature in the path: they check it
		// before they read a body, as custom routes do.
		approvalLinks: &group{muxes: both, chain: []func(http.Handler) http.Handler{
			guard.Sandbox, limitBody, e.requests.Record, query}},
		jobReads: &group{muxes: both, chain: []func(http.Handler) http.Handler{guard.Sandbox, query, e.authenticate}},
		management: &group{muxes: []*http.ServeMux{full}, chain: []func(http.Handler) http.Handler{guard.Sandbox, e.authenticate, local},
			inWorkspace: inWorkspace, fullAccess: func(scope string) func(http.Handler) http.Handler { return guard.FullAccess(e.log, scope) }},
		scoped: &group{muxes: []*http.ServeMux{full}, chain: []func(http.Handler) http.Handler{guard.Sandbox, e.authenticate, local},
			inWorkspace: inWorkspace},
	}
	for name, g := range map[string]*group{"public": t.public, "webhooks": t.webhooks, "customRoutes": t.customRoutes,
		"approvalLinks": t.approvalLinks, "jobReads": t.jobReads, "management": t.management, "scoped": t.scoped} {
		g.name, g.mounted = name, &t.mounted
	}
	return t
}

// authenticate resolves the caller's token before anything reads the body;
// a request without a valid one is answered at once.
func (e *Engine) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reqctx.IsTrusted(r.Context()) {
			guard.Authenticated(r.Context())
			next.ServeHTTP(w, r)
			return
		}
		id, err := e.tokens.VerifyRequest(r.Context(), r)
		if err != nil {
			apierr.Write(w, e.log, auth.Refusal(err))
			return
		}
		inspector.ReportAuth(r.Context(), "token "+id.Label)
		guard.Authenticated(r.Context())
		next.ServeHTTP(w, r.WithContext(reqctx.WithIdentity(r.Context(), id)))
	})
}
