package api

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/api/answers"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/kept"
	"github.com/millrun/millrun/engine/reqctx"
)

func setSessionCookie(w http.ResponseWriter, secret string) {
	http.SetCookie(w, &http.Cookie{Name: "token", Value: secret, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Expires: time.Now().Add(auth.SessionLifetime)})
}

// TokenCommand is the command that makes a browser token for the
// millrun whose data folder is dataDir: without --data it would be made
// in the default folder, which another millrun may own.
func TokenCommand(dataDir string) string {
	return "millrun token create --data " + shellWord(dataDir) + " --label browser"
}

// shellWord quotes s for a POSIX shell (and PowerShell) unless it needs none.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@\\") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// loginError says why a token does not log in, and how to make one that
// does for this data folder.
func (s *Server) loginError(ctx context.Context, secret string, err error) error {
	if errors.Is(err, auth.ErrBadToken) && s.TokenElsewhere != nil {
		if dir := s.TokenElsewhere(ctx, secret); dir != "" {
			return apierr.Unauthorized(fmt.Sprintf("this token belongs to another millrun data folder (%s); this millrun's is %s. Make one here with: %s",
				dir, s.DataDir, TokenCommand(s.DataDir)))
		}
	}
	if errors.Is(err, auth.ErrNoToken) || errors.Is(err, auth.ErrBadToken) {
		return apierr.Unauthorized("unknown token (a login link works once). Make a new token for this millrun with: " + TokenCommand(s.DataDir))
	}
	return loginError(err)
}

func loginError(err error) error {
	switch {
	case errors.Is(err, auth.ErrScoped):
		return apierr.Forbidden("%s", err)
	case errors.Is(err, auth.ErrExpired):
		return apierr.Unauthorized("the token has expired")
	case errors.As(err, new(*auth.RevokedError)):
		return apierr.Unauthorized(err.Error())
	}
	return err
}

var loginFailedPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>millrun: this login link does not work</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; margin: 0; display: grid; place-items: center; min-height: 100vh; background: #f6f6f4; color: #1d2320; }
main { max-width: 34rem; padding: 24px 28px; background: #fff; border: 1px solid #dedfdc; border-radius: 8px; }
h1 { font-size: 18px; margin: 0 0 8px; } code { font-size: 13px; } a { color: #2f6f4f; }
@media (prefers-color-scheme: dark) { body { background: #161a18; color: #e4e8e5; } main { background: #1e2320; border-color: #333a36; } a { color: #4caf7d; } }
</style></head>
<body><main><h1>This login link does not work</h1><p>{{.Reason}}</p>
<p>A login link works once. Make a new token in a terminal with</p><p><code>{{.Command}}</code></p>
<p>then paste it on <a href="/">millrun's login page</a>.</p></main></body></html>`))

// RegisterLogin mounts the browser login: the one-time URL serve prints
// and a token pasted into the login page. They take a token in, so they
// need none.
func (s *Server) RegisterLogin(m Mux) {
	mux := s.group(m)
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) error {
		token := r.URL.Query().Get("token")
		secret, id, err := s.Tokens.Login(r.Context(), token)
		if err != nil {
			w.Header().Set("Referrer-Policy", "no-referrer")
			// The link opened again in a browser that logged in with it
			// (or otherwise): the app, not a dead end.
			if s.loggedIn(r) {
				http.Redirect(w, r, "/", http.StatusSeeOther)
				return nil
			}
			// A person followed this link in a browser: answer with a page.
			var ae *apierr.Error
			if errors.As(s.loginError(r.Context(), token, err), &ae) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.WriteHeader(ae.Status)
				why, _, _ := strings.Cut(ae.Hint, " Make ")
				_ = loginFailedPage.Execute(w, map[string]string{"Reason": why, "Command": TokenCommand(s.DataDir)})
				return nil
			}
			return err
		}
		if s.Changed != nil {
			s.Changed(r.Context(), id.Label, "login", "", "login link", nil)
		}
		setSessionCookie(w, secret)
		w.Header().Set("Referrer-Policy", "no-referrer")
		// Redirecting drops the token from the address bar and history.
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	})
	mux.HandleFunc("POST /api/millrun/login", func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Token string `json:"token"`
		}
		// Anyone may call this: a small limit.
		if err := decodeJSON(r, &body, bodyRules{limit: 4096}); err != nil {
			return apierr.BadRequest("send {\"token\": \"...\"}")
		}
		secret, id, err := s.Tokens.Login(r.Context(), body.Token)
		if err != nil {
			return s.loginError(r.Context(), body.Token, err)
		}
		if s.Changed != nil {
			s.Changed(r.Context(), id.Label, "login", "", "pasted token", nil)
		}
		setSessionCookie(w, secret)
		httpx.JSON(w, http.StatusOK, answers.LoggedIn{Label: id.Label})
		return nil
	})
	// The login page shows the exact command that makes a token for this
	// millrun's data folder.
	mux.HandleFunc("GET /api/millrun/login/hint", func(w http.ResponseWriter, r *http.Request) error {
		httpx.JSON(w, http.StatusOK, answers.LoginHint{Command: TokenCommand(s.DataDir)})
		return nil
	})
}

// loggedIn reports whether the request carries this browser's valid
// session cookie (sent with a top-level navigation to the login link).
func (s *Server) loggedIn(r *http.Request) bool {
	c, err := r.Cookie("token")
	if err != nil || c.Value == "" {
		return false
	}
	_, err = s.Tokens.Verify(r.Context(), c.Value)
	return err == nil
}

// registerSession mounts what a logged-in browser uses: logout, "who am
// I", the audit log.
func (s *Server) registerSession(mux routes) {
	mux.anyToken("POST /api/millrun/logout", func(w http.ResponseWriter, r *http.Request) error {
		id := reqctx.Identity(r.Context())
		if id != nil && id.Label == auth.SessionLabel {
			_ = s.Tokens.Revoke(r.Context(), id.TokenID)
		}
		http.SetCookie(w, &http.Cookie{Name: "token", Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
		httpx.JSON(w, http.StatusOK, answers.LoggedOut{LoggedOut: true})
		return nil
	})
	mux.anyToken("GET /api/millrun/whoami", func(w http.ResponseWriter, r *http.Request) error {
		id := reqctx.Identity(r.Context())
		httpx.JSON(w, http.StatusOK, answers.Me{Label: id.Label, Scopes: id.Scopes, FullAccess: id.FullAccess(), Workspace: s.Workspace,
			OSUser: s.User, Version: s.Version, Desktop: reqctx.InWindow(r.Context()), Notice: s.Notice, BaseURL: s.RootURL})
		return nil
	})
	mux.full("POST /api/millrun/presence", "presence:write", func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Client  string `json:"client"`
			Path    string `json:"path"`
			Focused bool   `json:"focused"`
		}
		if err := decodeJSON(r, &body, bodyRules{limit: 2048}); err != nil {
			return err
		}
		if body.Client == "" || len(body.Client) > 64 || len(body.Path) > 1024 {
			return apierr.BadRequest("send {\"client\": \"<id>\", \"path\": \"/runs/...\", \"focused\": true}")
		}
		if s.Presence != nil {
			s.Presence(body.Client, body.Path, body.Focused)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	mux.full("GET /api/millrun/audit", "audit:read", func(w http.ResponseWriter, r *http.Request) error {
		before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		list, err := s.Audit.List(r.Context(), before, limit)
		if err != nil {
			return err
		}
		httpx.JSON(w, http.StatusOK, list)
		return nil
	})
}

// OSUser names the person running millrun, for the u/<user>/ path prefix.
func OSUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		name := u.Username
		if i := strings.LastIndexAny(name, `\`); i >= 0 { // DOMAIN\user on Windows
			name = name[i+1:]
		}
		return kept.Username(name)
	}
	return "me"
}
