package api

import (
	"net/http"
	"time"

	"github.com/millrun/millrun/engine/api/answers"
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
	opt := auth.CreateOptions{Actor: actorOf(r), Label: body.Label, Scopes: body.Scopes}
	if body.Expiration != nil {
		opt.ExpiresAt = *body.Expiration
	}
	secret, _, err := s.Tokens.Create(r.Context(), opt)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeText(w, http.StatusCreated, secret)
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Tokens.List(r.Context())
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
	if _, err := s.Tokens.RevokePrefix(r.Context(), actorOf(r), prefix); err != nil {
		return err
	}
	writeText(w, http.StatusOK, "deleted token "+prefix)
	return nil
}
