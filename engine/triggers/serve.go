package triggers

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/guard"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/inspector"
	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/webhook"
)

// Server answers /api/r/... with the routes of a Service.
type Server struct {
	*Service
	Workspace string
	Tokens    *auth.Tokens
	Limiter   *auth.RateLimiter
	Hooks     *webhook.Service
	Settings  func() webhook.Settings
	Log       *slog.Logger
	Now       func() time.Time // for signature timestamps; nil: time.Now
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/api/r/")
	t, params := s.Match(r.Method, rest)
	if t == nil {
		if s.Anywhere(rest) {
			apierr.Write(w, s.Log, &apierr.Error{Status: http.StatusMethodNotAllowed, Kind: "Method not allowed",
				Msg: "route /api/r/" + rest + " does not answer " + r.Method})
			return
		}
		apierr.Write(w, s.Log, apierr.NotFound("no route at /api/r/%s", rest))
		return
	}
	// Only a signature needs the body to decide, and only once its headers
	// are well formed; every other method decides on headers alone, so a
	// refused caller's body is never read.
	v := s.authenticate(r, t)
	if v.readErr != nil {
		apierr.Write(w, s.Log, v.readErr)
		return
	}
	if v.id == nil {
		inspector.ReportRoute(r.Context(), t.Path, false, v.reason)
		switch {
		case v.status == http.StatusUnauthorized && v.badToken:
			apierr.Write(w, s.Log, apierr.Unauthorized(v.reason)) // Windmill's exact words
		case v.status == http.StatusUnauthorized:
			apierr.Write(w, s.Log, apierr.NotAuthorized("%s", v.reason))
		default:
			// The reason names the route's resource and variables: the
			// owner reads it in the request inspector, the caller (anyone,
			// through the tunnel) learns nothing of the workspace.
			apierr.Write(w, s.Log, apierr.Internal("this route cannot check its callers: its owner can see why in millrun's Requests page"))
		}
		return
	}
	id := v.id
	inspector.ReportRoute(r.Context(), t.Path, true, v.reason)
	body := v.body
	if body == nil {
		var err error
		if body, err = s.readBody(r); err != nil {
			apierr.Write(w, s.Log, err)
			return
		}
	}
	if s.Limiter != nil {
		if ok, wait := s.Limiter.Allow(id.TokenID); !ok {
			apierr.Write(w, s.Log, apierr.TooManyRequests(wait, "too many requests for this route; retry in %d s", wait))
			return
		}
	}
	if answered := handshake(w, v.provider, body); answered {
		if o := inspector.OutcomeOf(r.Context()); o != nil {
			o.Note = v.provider + " handshake: answered by millrun, no run"
		}
		return
	}
	q := r.URL.Query()
	if t.RawString {
		q.Set("raw", "true")
	}
	if t.WrapBody {
		q.Set("wrap_body", "true")
	}
	include := s.Settings().IncludeHeaders
	if v.provider == ProviderGitHub {
		// What happened is in this header, not in the body: main gets it
		// as x_github_event without a query in the URL pasted into GitHub.
		include = append(slices.Clip(include), "X-GitHub-Event")
	}
	args, err := webhook.BuildArgs(webhook.ArgsInput{Method: r.Method, ContentType: r.Header.Get("Content-Type"), Body: body,
		Header: r.Header, Query: q, IncludeHeaders: include, SecretHeaders: v.secretHeaders})
	if err != nil {
		apierr.Write(w, s.Log, err)
		return
	}
	for k, v := range params {
		b, _ := json.Marshal(v)
		args[k] = b
	}
	hdrs := webhook.RecordedHeaders(r.Header, nil)
	for _, h := range v.secretHeaders {
		delete(hdrs, strings.ToLower(h))
	}
	hdrs["route"] = t.Path
	s.Hooks.Run(w, r, webhook.RunRequest{Flow: t.IsFlow, Path: t.ScriptPath, Args: args, Sync: !t.IsAsync,
		Identity: id, Trigger: "route", Headers: hdrs})
}

func (s *Server) readBody(r *http.Request) ([]byte, error) {
	return webhook.ReadBody(r, s.Settings().MaxBody)
}

// verdict is what a route's check decided: who the job runs as, or the
// status and reason of the refusal (words without secrets); provider names
// a verified signer, body is what a signature check read, readErr why it
// could not be read.
type verdict struct {
	id       *auth.Identity
	provider string
	status   int
	reason   string
	badToken bool // no valid millrun token: answered as Windmill's 401
	body     []byte
	readErr  error
	// secretHeaders hold the route's own credential beyond the headers
	// redacted everywhere (its API-key header): a job's arguments and
	// headers, and the request inspector, keep them "[redacted]".
	// Signature headers are not among them: a signature vouches for one
	// body at one time and signs nothing else, and scripts that check
	// signatures themselves need it.
	secretHeaders []string
}

// authenticate applies the route's method. A caller known before the
// body is read (a token, an API key, basic auth, a replay) has its body
// counted against the budget kept from anonymous callers.
func (s *Server) authenticate(r *http.Request, t *Trigger) verdict {
	routeID := &auth.Identity{Label: "route " + t.Path, TokenID: routeKey(t.Path), Scopes: []string{auth.RunScope(kindOf(t), t.ScriptPath)}}
	if replayed, ofRefused := reqctx.IsReplay(r.Context()); replayed {
		guard.Authenticated(r.Context())
		v := verdict{id: routeID, reason: "replay from the UI: the route's authentication was skipped"}
		if ofRefused {
			routeID.Label += " (replay of a refused request)"
		}
		// A replayed handshake (Discord's PING) is answered as the first
		// one was, not run as a job.
		if t.AuthenticationMethod == AuthSignature || t.AuthenticationMethod == AuthAPIKey {
			if cred, err := s.credentials(r.Context(), t); err == nil {
				if t.AuthenticationMethod == AuthSignature {
					v.provider = str(cred, "provider")
				} else {
					v.secretHeaders = markSecret(r, apiKeyHeader(cred))
				}
			}
		}
		return v
	}
	switch t.AuthenticationMethod {
	case AuthNone:
		return verdict{id: routeID, reason: "open route: no authentication"}
	case AuthWindmill:
		id, err := s.Tokens.Verify(r.Context(), auth.FromRequest(r))
		if err != nil {
			return verdict{status: http.StatusUnauthorized, badToken: true, reason: "a valid millrun token is required (Authorization: Bearer <token>)"}
		}
		if !id.CanRun(kindOf(t), t.ScriptPath) {
			return verdict{status: http.StatusUnauthorized, reason: "the token may not run " + t.ScriptPath}
		}
		guard.Authenticated(r.Context())
		return verdict{id: id, reason: "token " + id.Label}
	}
	cred, err := s.credentials(r.Context(), t)
	if err != nil {
		s.Log.Error("route credentials", "route", t.Path, "err", err)
		return verdict{status: http.StatusInternalServerError, reason: err.Error()}
	}
	switch t.AuthenticationMethod {
	case AuthAPIKey:
		header := apiKeyHeader(cred)
		secret := markSecret(r, header)
		key := str(cred, "key")
		got := r.Header.Get(header)
		if key == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(key)) != 1 {
			return verdict{status: http.StatusUnauthorized, reason: "missing or wrong API key in " + header}
		}
		guard.Authenticated(r.Context())
		return verdict{id: routeID, reason: "API key in " + header, secretHeaders: secret}
	case AuthBasic:
		user, pass, ok := r.BasicAuth()
		wantUser, wantPass := str(cred, "username"), str(cred, "password")
		userOK := subtle.ConstantTimeCompare([]byte(user), []byte(wantUser)) == 1
		passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(wantPass)) == 1
		if !ok || wantUser == "" || !userOK || !passOK {
			return verdict{status: http.StatusUnauthorized, reason: "missing or wrong user name or password (HTTP basic auth)"}
		}
		guard.Authenticated(r.Context())
		return verdict{id: routeID, reason: "basic auth as " + user}
	case AuthSignature:
		provider := str(cred, "provider")
		now := s.now()
		refused := func(err error) verdict {
			var ref refusal
			if errors.As(err, &ref) {
				return verdict{status: http.StatusUnauthorized, reason: err.Error()}
			}
			return verdict{status: http.StatusInternalServerError, reason: err.Error()}
		}
		if err := CheckSignatureHeaders(provider, cred, r.Header, now); err != nil {
			return refused(err)
		}
		// The HMACs go through the body's parts: a forged body is refused
		// without the copy that joining them costs.
		parts, err := webhook.ReadParts(r, s.Settings().MaxBody)
		if err != nil {
			return verdict{readErr: err}
		}
		if provider == ProviderDiscord {
			// Ed25519 signs timestamp and body as one message, which the
			// check copies: that copy counts against the body budget
			// too, and the parts are joined first so as not to count
			// three bodies.
			body, err := guard.Join(r, parts)
			if err != nil {
				return verdict{readErr: err}
			}
			if err := guard.Reserve(r.Context(), int64(len(r.Header.Get("X-Signature-Timestamp"))+len(body))); err != nil {
				return verdict{readErr: err}
			}
			parts = [][]byte{body}
		}
		if err := VerifySignatureParts(provider, cred, r.Header, parts, now); err != nil {
			return refused(err)
		}
		body, err := guard.Join(r, parts)
		if err != nil {
			return verdict{readErr: err}
		}
		return verdict{id: routeID, provider: provider, reason: provider + " signature verified", body: body}
	}
	return verdict{status: http.StatusInternalServerError, reason: "unknown authentication method " + t.AuthenticationMethod}
}

func apiKeyHeader(cred map[string]any) string {
	if h := str(cred, "header"); h != "" {
		return h
	}
	return "X-API-Key"
}

// markSecret marks header as a credential of this request, for the
// inspector's record now and for the job's arguments later.
func markSecret(r *http.Request, header string) []string {
	if o := inspector.OutcomeOf(r.Context()); o != nil {
		o.SecretHeaders = append(o.SecretHeaders, header)
	}
	return []string{header}
}

func (s *Service) credentials(ctx context.Context, t *Trigger) (map[string]any, error) {
	v, _, err := s.Resources.Value(ctx, t.WorkspaceID, t.AuthenticationResourcePath)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errors.New("the route's resource " + t.AuthenticationResourcePath + " does not exist: create it, or edit the route")
	}
	if err != nil {
		return nil, err
	}
	// Read as Windmill reads a route's resource, interpolated: its secrets
	// may be "$var:" references to secret variables, and a caller must
	// match the variable's value, never the reference's text.
	v, err = s.Resources.Interpolate(ctx, t.WorkspaceID, v)
	if err != nil {
		return nil, fmt.Errorf("the route's resource %s: %w", t.AuthenticationResourcePath, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("the route's resource " + t.AuthenticationResourcePath + " is not an object of credentials: edit it, or the route")
	}
	return m, nil
}

// RedactOldKeys redacts each api_key route's key from the args of jobs an
// older millrun stored, where include_header (or the include_headers
// setting) had put it in clear. Only the key as it is now is found: one
// changed since then is no longer a credential.
func (s *Service) RedactOldKeys(ctx context.Context) (int64, error) {
	var total int64
	for _, t := range *s.table.Load() {
		if t.AuthenticationMethod != AuthAPIKey {
			continue
		}
		cred, err := s.credentials(ctx, t)
		if err != nil {
			continue // a route that cannot check callers let none in
		}
		key := str(cred, "key")
		if key == "" {
			continue
		}
		n, err := s.DB.RedactJobArg(ctx, webhook.HeaderArgName(apiKeyHeader(cred)), key)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// handshake answers the providers' endpoint checks itself, after the
// signature was verified: Slack's url_verification and Discord's PING.
func handshake(w http.ResponseWriter, provider string, body []byte) bool {
	if provider != ProviderSlack && provider != ProviderDiscord {
		return false
	}
	var probe struct {
		Type      any    `json:"type"`
		Challenge string `json:"challenge"`
	}
	if json.Unmarshal(body, &probe) != nil {
		return false
	}
	switch {
	case provider == ProviderSlack && probe.Type == "url_verification" && probe.Challenge != "":
		httpx.JSON(w, http.StatusOK, map[string]string{"challenge": probe.Challenge})
		return true
	case provider == ProviderDiscord && probe.Type == float64(1):
		httpx.JSON(w, http.StatusOK, map[string]int{"type": 1})
		return true
	}
	return false
}

func kindOf(t *Trigger) string {
	if t.IsFlow {
		return auth.KindFlow
	}
	return auth.KindScript
}

// routeKey gives each route its own rate-limit bucket, apart from tokens'
// (which are positive ids).
func routeKey(path string) int64 {
	h := fnv.New64a()
	h.Write([]byte(path))
	return -int64(h.Sum64() >> 1)
}
