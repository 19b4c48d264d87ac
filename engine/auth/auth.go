// Package auth issues and checks millrun's tokens. Secrets are random
// 32-character strings; only their SHA-256 is stored.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/store"
)

const (
	alphabet     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	secretLength = 32
	// PrefixLength is how much of a secret lists show and delete uses.
	PrefixLength = 10
)

// Identity is who a request acts as.
type Identity struct {
	TokenID int64
	Label   string
	Scopes  []string // empty: full access
}

// FullAccess reports whether the identity may use every route.
func (i *Identity) FullAccess() bool { return len(i.Scopes) == 0 }

// Tokens issues and verifies tokens.
type Tokens struct {
	db *store.DB
	// Changed is told of every token Create makes, to write the audit log
	// and send the workspace webhook's event: the engine's own, or the
	// CLI's when it creates one without a running millrun. Set before use.
	Changed ChangeFunc

	mu      sync.Mutex
	touched map[int64]time.Time // last_used_at writes are throttled per token
	jobs    map[string]jobToken // by secret hash; never stored
}

// jobToken is the token a running job gets as WM_TOKEN.
type jobToken struct {
	id      *Identity
	expires time.Time
	// root is the job whose end ends the token: the job itself, or the
	// flow a step belongs to.
	root string
}

// New returns a token service over db.
func New(db *store.DB) *Tokens {
	return &Tokens{db: db, touched: map[int64]time.Time{}, jobs: map[string]jobToken{}}
}

// IssueJobToken makes the token a job calls millrun's API with (Windmill's
// WM_TOKEN: getResource, running other scripts). It lives in memory only,
// for ttl at most; revoke ends it when the job does, and RevokeJobTokens
// ends every token issued under root when root ends, so a token never
// outlives its job even where a caller forgot to revoke it. The script is
// the owner's own code on the owner's machine, so the token has full
// access.
func (t *Tokens) IssueJobToken(label, root string, ttl time.Duration) (secret string, revoke func()) {
	secret = NewSecret()
	key := string(HashSecret(secret))
	t.mu.Lock()
	now := time.Now()
	for k, j := range t.jobs { // drop expired ones as new ones come
		if now.After(j.expires) {
			delete(t.jobs, k)
		}
	}
	t.jobs[key] = jobToken{id: &Identity{Label: label}, expires: now.Add(ttl), root: root}
	t.mu.Unlock()
	return secret, func() {
		t.mu.Lock()
		delete(t.jobs, key)
		t.mu.Unlock()
	}
}

// RevokeJobTokens ends every job token issued under root.
func (t *Tokens) RevokeJobTokens(root string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, j := range t.jobs {
		if j.root == root {
			delete(t.jobs, k)
		}
	}
}

func (t *Tokens) jobIdentity(secret string) (*Identity, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	j, ok := t.jobs[string(HashSecret(secret))]
	if !ok || time.Now().After(j.expires) {
		return nil, false
	}
	return j.id, true
}

// NewSecret returns a fresh random token secret.
func NewSecret() string {
	b := make([]byte, secretLength)
	// Rejection sampling keeps every character equally likely.
	var buf [1]byte
	for i := 0; i < secretLength; {
		if _, err := rand.Read(buf[:]); err != nil {
			panic("crypto/rand failed: " + err.Error()) // the OS has no entropy: nothing safe to do
		}
		if int(buf[0]) < 256-256%len(alphabet) {
			b[i] = alphabet[int(buf[0])%len(alphabet)]
			i++
		}
	}
	return string(b)
}

// HashSecret returns what is stored for a secret.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// ChangeFunc records a change someone made: the audit log's entry, and the
// workspace webhook's event.
type ChangeFunc func(ctx context.Context, actor, action, target, detail string, event map[string]any)

// CreateOptions describe a new token.
type CreateOptions struct {
	Label     string
	Scopes    []string
	ExpiresAt time.Time
	// Actor is who asks for it, as the audit log names them: the caller's
	// token label, "cli", "millrun".
	Actor string
}

// Check refuses options Create would refuse, as an *errs.Invalid, without
// touching storage: the CLI checks its flags before it opens a data folder.
func (opt CreateOptions) Check() error {
	for _, sc := range opt.Scopes {
		if !ValidScope(sc) {
			return errs.Invalidf("unknown scope %q: use jobs:run:scripts:<path>, jobs:run:flows:<path> (a trailing * matches a prefix) or *", sc)
		}
	}
	if len(opt.Label) > 200 {
		return errs.Invalidf("the label is longer than 200 characters")
	}
	if !opt.ExpiresAt.IsZero() && opt.ExpiresAt.Before(time.Now()) {
		return errs.Invalidf("the expiration %s is in the past", opt.ExpiresAt.Format(time.RFC3339))
	}
	return nil
}

// Create issues a token a user manages (from the UI, the API, the CLI):
// its scopes checked, the change recorded and the workspace webhook told.
// It returns the secret, which is never retrievable again. Input errors
// are *errs.Invalid.
func (t *Tokens) Create(ctx context.Context, opt CreateOptions) (string, *store.Token, error) {
	if err := opt.Check(); err != nil {
		return "", nil, err
	}
	if opt.Label == "" {
		opt.Label = "token"
	}
	secret, tok, err := t.issue(ctx, opt.Label, opt.Scopes, opt.ExpiresAt, false)
	if err != nil {
		return "", nil, err
	}
	if t.Changed != nil {
		t.Changed(ctx, opt.Actor, "token.create", tok.Label, tok.Prefix,
			map[string]any{"type": "CreateToken", "label": tok.Label, "token_prefix": tok.Prefix, "scopes": scopesOf(opt.Scopes)})
	}
	return secret, tok, nil
}

func scopesOf(scopes []string) []string {
	if scopes == nil {
		return []string{}
	}
	return scopes
}

// LoginLinkLifetime is how long serve's login URL works if not used.
const LoginLinkLifetime = 7 * 24 * time.Hour

// CreateLoginLink issues the one-time token of serve's login URL. It only
// logs a browser in, once; it is not a token the user manages, so no
// change is recorded.
func (t *Tokens) CreateLoginLink(ctx context.Context) (string, error) {
	secret, _, err := t.issue(ctx, "login link", nil, time.Now().Add(LoginLinkLifetime), true)
	return secret, err
}

// issue stores a new token and returns its secret.
func (t *Tokens) issue(ctx context.Context, label string, scopes []string, expires time.Time, oneTime bool) (string, *store.Token, error) {
	scopesJSON, _ := json.Marshal(scopesOf(scopes))
	secret := NewSecret()
	tok := &store.Token{Label: label, Prefix: secret[:PrefixLength], SecretHash: HashSecret(secret), Scopes: string(scopesJSON),
		CreatedAt: time.Now().UTC(), ExpiresAt: expires, OneTime: oneTime}
	if err := t.db.InsertToken(ctx, tok); err != nil {
		return "", nil, err
	}
	return secret, tok, nil
}

// Errors from Verify.
var (
	ErrNoToken  = errors.New("Unauthorized")
	ErrBadToken = errors.New("Unauthorized")
	ErrExpired  = errors.New("token expired")
)

// RevokedError is a token that existed and was revoked.
type RevokedError struct{ At time.Time }

func (e *RevokedError) Error() string {
	return "this token was revoked on " + e.At.Local().Format("2006-01-02 15:04")
}

// Verify checks a secret against the store on every call, so a revoke or
// an expiry takes effect at once. One-time login tokens are refused here.
func (t *Tokens) Verify(ctx context.Context, secret string) (*Identity, error) {
	if id, ok := t.jobIdentity(secret); ok {
		return id, nil
	}
	id, tok, err := t.lookup(ctx, secret)
	if err != nil {
		return nil, err
	}
	if tok.OneTime {
		return nil, ErrBadToken
	}
	t.touch(tok.ID, time.Now())
	return id, nil
}

// SessionLabel is the label of tokens created by a browser login.
const SessionLabel = "browser session"

// SessionLifetime is how long a browser stays logged in.
const SessionLifetime = 30 * 24 * time.Hour

// Login exchanges a full-access or one-time token for a new browser session
// token. A one-time token is deleted by its use, so a login URL that leaks
// afterwards (history, screen share) is worthless.
func (t *Tokens) Login(ctx context.Context, secret string) (string, *Identity, error) {
	id, tok, err := t.lookup(ctx, secret)
	if err != nil {
		return "", nil, err
	}
	if !id.FullAccess() {
		return "", nil, ErrScoped
	}
	if tok.OneTime {
		deleted, err := t.db.ConsumeOneTimeToken(ctx, tok.ID, tok.SecretHash)
		if err != nil {
			return "", nil, err
		}
		if !deleted { // used by a concurrent login a moment ago
			return "", nil, ErrBadToken
		}
	}
	session, st, err := t.issue(ctx, SessionLabel, nil, time.Now().Add(SessionLifetime), false)
	if err != nil {
		return "", nil, err
	}
	return session, &Identity{TokenID: st.ID, Label: st.Label}, nil
}

// Revoke deletes the token with this id.
func (t *Tokens) Revoke(ctx context.Context, id int64) error {
	_, err := t.db.DeleteToken(ctx, id)
	return err
}

// List returns every token a user manages, never a secret.
func (t *Tokens) List(ctx context.Context) ([]*store.Token, error) { return t.db.ListTokens(ctx) }

// RevokePrefix revokes the tokens whose secret starts with prefix (the
// part lists show), at once, and records the change as Create does. None
// there is an *errs.NotFound.
func (t *Tokens) RevokePrefix(ctx context.Context, actor, prefix string) (int64, error) {
	n, err := t.db.DeleteTokensByPrefix(ctx, prefix)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, &errs.NotFound{Msg: "token with prefix " + prefix, Err: store.ErrNotFound}
	}
	if t.Changed != nil {
		t.Changed(ctx, actor, "token.revoke", prefix, "", map[string]any{"type": "DeleteToken", "token_prefix": prefix})
	}
	return n, nil
}

// ErrScoped is returned when a webhook-scoped token tries to log in.
var ErrScoped = errors.New("a webhook-scoped token cannot log in; use a full-access token")

func (t *Tokens) lookup(ctx context.Context, secret string) (*Identity, *store.Token, error) {
	if secret == "" {
		return nil, nil, ErrNoToken
	}
	if len(secret) > 256 {
		return nil, nil, ErrBadToken
	}
	h := HashSecret(secret)
	tok, err := t.db.TokenByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		// Only a refused caller pays for this second look.
		if at, err := t.db.RevokedToken(ctx, h); err == nil {
			return nil, nil, &RevokedError{At: at}
		}
		return nil, nil, ErrBadToken
	}
	if err != nil {
		return nil, nil, fmt.Errorf("look up token: %w", err)
	}
	// The lookup matched by hash already; the constant-time compare keeps
	// that true even if the query ever changes to a prefix match.
	if subtle.ConstantTimeCompare(tok.SecretHash, h) != 1 {
		return nil, nil, ErrBadToken
	}
	if !tok.ExpiresAt.IsZero() && time.Now().After(tok.ExpiresAt) {
		return nil, nil, ErrExpired
	}
	var scopes []string
	_ = json.Unmarshal([]byte(tok.Scopes), &scopes)
	return &Identity{TokenID: tok.ID, Label: tok.Label, Scopes: scopes}, tok, nil
}

func (t *Tokens) touch(id int64, now time.Time) {
	t.mu.Lock()
	last := t.touched[id]
	fresh := now.Sub(last) > time.Minute
	if fresh {
		t.touched[id] = now
	}
	t.mu.Unlock()
	if fresh {
		go func() { _ = t.db.TouchToken(context.Background(), id, now) }()
	}
}

// FromRequest extracts a token in Windmill's order: Authorization Bearer,
// then the browser session's cookie, then ?token=. The cookie counts only
// for the UI's own fetches (UIFetch): browsers attach it to requests any
// page on another localhost port makes, and to links opened from
// anywhere, so otherwise such a page or link could act as the user.
func FromRequest(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if v, ok := cutPrefixFold(h, "Bearer "); ok {
			return strings.TrimSpace(v)
		}
	}
	if c, err := r.Cookie("token"); err == nil && c.Value != "" && UIFetch(r) {
		return c.Value
	}
	return r.URL.Query().Get("token")
}

// VerifyRequest checks the token a request carries: FromRequest's, else
// a token cookie on a request no browser page sent (no Origin, no fetch
// metadata: wmill sends its token so on some calls). A browser session's
// token counts that way only from millrun's own pages: a browser attaches
// the session cookie to whatever a page sends, and only millrun sets it,
// so any other token in a cookie was put there by a client that holds it.
func (t *Tokens) VerifyRequest(ctx context.Context, r *http.Request) (*Identity, error) {
	if tok := FromRequest(r); tok != "" {
		return t.Verify(ctx, tok)
	}
	c, err := r.Cookie("token")
	if err != nil || c.Value == "" || r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") != "" || Navigation(r) {
		return t.Verify(ctx, "")
	}
	id, err := t.Verify(ctx, c.Value)
	if err == nil && id.Label == SessionLabel {
		return nil, ErrNoToken
	}
	return id, err
}

// Refusal is the answer to a request VerifyRequest refused: Windmill's
// 401 in its exact words (clients compare them), with a hint saying which
// of the caller's mistakes it is and naming nothing about tokens the
// caller does not hold. An error that is no mistake of the caller's (the
// database failed) is returned as it is.
func Refusal(err error) error {
	hint := "this token is not known to millrun (mistyped, or from another millrun)"
	var revoked *RevokedError
	switch {
	case errors.As(err, &revoked):
		hint = revoked.Error()
	case errors.Is(err, ErrExpired):
		hint = "the token has expired"
	case errors.Is(err, ErrNoToken):
		hint = "no token; send it as Authorization: Bearer <token> or ?token=<token>"
	case !errors.Is(err, ErrBadToken):
		return err
	}
	return apierr.Unauthorized(hint)
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}
