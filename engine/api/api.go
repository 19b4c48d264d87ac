// Package api serves the management routes the UI, the CLI and Windmill's
// client use: Windmill's own routes where Windmill has one, millrun's
// under /api/millrun/ for the rest.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/audit"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/flows"
	"github.com/millrun/millrun/engine/folders"
	"github.com/millrun/millrun/engine/jobs"
	"github.com/millrun/millrun/engine/kept"
	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/resources"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/schedules"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/triggers"
	"github.com/millrun/millrun/engine/tunnel"
)

// Version is reported by GET /api/version.
var Version = "v0.1.0-dev"

// Server holds what the management routes need.
type Server struct {
	Workspace string
	Catalog   *scripts.Catalog
	Flows     *flows.Catalog
	Queue     *jobs.Queue
	Tokens    *auth.Tokens
	Log       *slog.Logger
	MaxBody   func() int64
	// Changed records a management action in the audit log and, with an
	// event, tells the workspace webhook.
	Changed   func(ctx context.Context, actor, action, target, detail string, event map[string]any)
	Triggers  *triggers.Service
	Schedules *schedules.Service
	Folders   *folders.Service
	Kept      *kept.Items
	Audit     *audit.Log
	Resources *resources.Store
	// User is the person running millrun (the u/<user>/ in paths).
	User string
	// Control applies settings to the running engine and starts the tunnel.
	Control Control
	Runner  *runtime.Runner
	// Saved is told of every new script version (its dependency job
	// starts there); nil tells no one.
	Saved     func(ctx context.Context, hash string)
	Tunnel    *tunnel.Manager
	Authtoken *tunnel.Authtoken
	// StartCommand is what start at login runs; nil: not available.
	StartCommand []string
	// Notice is shown atop the UI (how this millrun was started).
	Notice string
	// RootURL is where this millrun answers (its address, without /api).
	RootURL string
	// DataDir is this millrun's data folder, named in the command that
	// makes a token for it.
	DataDir string
	// TokenElsewhere names the other data folder a token that is not
	// this millrun's belongs to, or ""; nil looks nowhere.
	TokenElsewhere func(ctx context.Context, secret string) string
	// Presence is told what each UI window shows and whether it has focus
	// (notifications are for when the user is not looking); nil: no one.
	Presence func(client, path string, focused bool)
	// CheckSyntax finds a script's first syntax error; nil when it parses.
	CheckSyntax func(ctx context.Context, language, content string) (*scripts.SyntaxError, error)
	// ApprovalKey signs approval links (a secret of this installation).
	ApprovalKey []byte
	// Limiter rate-limits approval links as webhooks are; nil for none.
	Limiter *auth.RateLimiter
}

func (s *Server) changed(r *http.Request, action, target, detail string, event map[string]any) {
	if s.Changed == nil {
		return
	}
	s.Changed(r.Context(), actorOf(r), action, target, detail, event)
}

// actorOf names who made a request, as the audit log shows them.
func actorOf(r *http.Request) string {
	if id := reqctx.Identity(r.Context()); id != nil {
		return id.Label
	}
	return "unknown"
}

// Mux is one group of the engine's route table: the group a route is
// mounted in decides who may call it (its token, its Host, its workspace),
// so no handler here checks access.
type Mux interface {
	Handle(pattern string, h http.Handler)
	HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request))
}

// Management is the group of routes only a full-access caller may call.
// Each route names the scope a refused token is told it lacks, in
// Windmill's words ("Required scope: scripts:read").
type Management interface {
	Scope(scope string) Mux
}

// handlerFunc is the shape of every handler here: it answers, or returns
// the error to answer with, which serve writes.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// serve is the one adapter from a handlerFunc to net/http: a returned
// error becomes apierr's answer.
func serve(log *slog.Logger, h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			apierr.Write(w, log, err)
		}
	}
}

// group mounts this package's handlers into one group through serve.
type group struct {
	mux Mux
	log *slog.Logger
}

func (s *Server) group(mux Mux) group { return group{mux: mux, log: s.Log} }

// HandleFunc mounts h at pattern.
func (g group) HandleFunc(pattern string, h handlerFunc) {
	g.mux.HandleFunc(pattern, serve(g.log, h))
}

// routes mounts the routes a token is needed for: most for full-access
// callers only, a few for any valid token.
type routes struct {
	management Management
	scoped     group
}

// full mounts h for full-access callers; scope is what a refused token
// is told it lacks.
func (rt routes) full(pattern, scope string, h handlerFunc) {
	group{mux: rt.management.Scope(scope), log: rt.scoped.log}.HandleFunc(pattern, h)
}

// anyToken mounts h for every valid token, webhook-scoped ones included:
// h shows a scoped caller only what is its own (its jobs, its identity).
func (rt routes) anyToken(pattern string, h handlerFunc) {
	rt.scoped.HandleFunc(pattern, h)
}

// RegisterPublic mounts what answers without a token: the version.
func (s *Server) RegisterPublic(m Mux) {
	mux := s.group(m)
	mux.HandleFunc("GET /api/version", s.version)
}

// Register mounts the routes a token is needed for: management's for
// full-access callers, scoped's for any valid token.
func (s *Server) Register(management Management, scoped Mux) {
	mux := routes{management: management, scoped: s.group(scoped)}
	s.registerScripts(mux)
	s.registerFlows(mux)
	s.registerJobs(mux)
	s.registerTokens(mux)
	s.registerResources(mux)
	s.registerVariables(mux)
	s.registerUsers(mux)
	s.registerTriggers(mux)
	s.registerWorkspace(mux)
	s.registerFolders(mux)
	s.registerSchedules(mux)
	s.registerSession(mux)
	s.registerLive(mux)
	s.registerSettings(mux)
	s.registerTunnel(mux)
	s.registerKept(mux)
	s.registerCodeJobs(mux)
	s.registerApprovals(mux)
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "millrun "+Version)
	return nil
}

func writeText(w http.ResponseWriter, status int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, s)
}

// decodeBody reads a JSON body into v with the size limit applied and an
// error message that names the problem.
func (s *Server) decodeBody(r *http.Request, v any) error {
	return decodeJSON(r, v, bodyRules{limit: s.maxBody()})
}

// decodeOptionalBody is decodeBody for routes whose body may be left out:
// none leaves v as it is.
func (s *Server) decodeOptionalBody(r *http.Request, v any) error {
	return decodeJSON(r, v, bodyRules{limit: s.maxBody(), optional: true})
}

func (s *Server) maxBody() int64 {
	if s.MaxBody != nil {
		return s.MaxBody()
	}
	return 10 << 20
}

// bodyRules say how a route reads its JSON body.
type bodyRules struct {
	limit    int64
	optional bool // an empty body leaves the value as it is
	strict   bool // an unknown field is refused (a misspelt setting)
}

// decodeJSON is the one way handlers read a JSON body.
func decodeJSON(r *http.Request, v any, rules bodyRules) error {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, rules.limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apierr.TooLarge("the request body is larger than the limit of %d bytes", rules.limit)
		}
		return apierr.BadRequest("reading the request body: %s", err)
	}
	if len(b) == 0 {
		if rules.optional {
			return nil
		}
		return apierr.BadRequest("the request body is empty: send a JSON object")
	}
	return decodeBytes(b, v, rules)
}

// decodeBytes is decodeJSON for a body already read (a route that reads
// it two ways).
func decodeBytes(b []byte, v any, rules bodyRules) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if rules.strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return apierr.BadRequest("the body is not valid JSON: %s (at byte %d)", se.Error(), se.Offset)
		case errors.As(err, &te):
			return apierr.BadRequest("field %q should be %s, not %s", te.Field, te.Type.String(), te.Value)
		}
		// encoding/json has no error type for this one, only its words.
		if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return apierr.BadRequest("unknown field %s (a misspelt name?)", field)
		}
		return apierr.BadRequest("the body is not valid JSON: %s", err)
	}
	return nil
}

// keepPath fills in an update's path from its URL when the body names
// none, and refuses a body that names another (a rename).
func keepPath(kind, old string, path *string) error {
	if *path == "" {
		*path = old
	}
	if *path != old {
		return apierr.BadRequest("renaming a %s is not supported: delete %s and create %s", kind, old, *path)
	}
	return nil
}
