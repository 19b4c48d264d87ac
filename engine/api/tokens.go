package api

import (
	"net/http"
	"time"

	"github.com/millrun/millrun/engine/api/answers"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/reqctx"
)

func (s *Server) registerTokens(mux routes) {
	mux.full("POST /api/users/tokens/create", "tokens:write", s.createToken)
	mux.full("GET /api/users/tokens/list", "tokens:read", s.listTokens)
	mux.full("DELETE /api/users/tokens/delete/{prefix}", "tokens:write", s.deleteToken)
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Label      string     `json:"label"`
		Expiration *time.Time `json:"expiration"`
		Scopes     []string   `json:"scopes"`
	}
	if err := s.decodeBody(r, &body); err != nil {
		return err
	}
	for _, sc := range body.Scopes {
		if !auth.ValidScope(sc) {
			return apierr.BadRequest("unknown scope %q: use jobs:run:scripts:<path>, jobs:run:flows:<path> (a trailing * matches a prefix) or *", sc)
		}
	}
	opt := auth.CreateOptions{Label: body.Label, Scopes: body.Scopes}
	if body.Expiration != nil {
		opt.ExpiresAt = *body.Expiration
	}
	secret, tok, err := s.Tokens.Create(r.Context(), opt)
	if err != nil {
		return apierr.BadRequest("%s", err)
	}
	s.changed(r, "token.create", tok.Label, tok.Prefix, map[string]any{"type": "CreateToken", "label": tok.Label, "token_prefix": tok.Prefix, "scopes": opt.Scopes})
	w.Header().Set("Cache-Control", "no-store")
	writeText(w, http.StatusCreated, secret)
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	list, err := s.DB.ListTokens(r.Context())
	if err != nil {
		return err
	}
	out := make([]answers.Token, 0, len(list))
	me := reqctx.Identity(r.Context())
	for _, t := range list {
		out = append(out, answers.Token{
			Label:       t.Label,
			TokenPrefix: t.Prefix,
			Expiration:  formatTime(t.ExpiresAt),
			CreatedAt:   formatTime(t.CreatedAt),
			LastUsedAt:  formatTime(t.LastUsedAt),
			Scopes:      rawOrNull(t.Scopes),
			Current:     me != nil && me.TokenID == t.ID,
		})
	}
	httpx.JSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) error {
	prefix := r.PathValue("prefix")
	n, err := s.DB.DeleteTokensByPrefix(r.Context(), prefix)
	if err != nil {
		return err
	}
	if n == 0 {
		return apierr.NotFound("token with prefix %s", prefix)
	}
	s.changed(r, "token.revoke", prefix, "", map[string]any{"type": "DeleteToken", "token_prefix": prefix})
	writeText(w, http.StatusOK, "deleted token "+prefix)
	return nil
}
