package api

import (
	"net/http"
	"strings"

	"github.com/millrun/millrun/engine/api/answers"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/tunnel"
)

// tunnelView is the tunnel in state st, with its settings.
func (s *Server) tunnelView(st tunnel.Status) answers.Tunnel {
	token, source := s.Authtoken.Get()
	hint := ""
	if token != "" {
		hint = tunnel.Hint(token)
	}
	set := s.Control.Settings()
	return answers.Tunnel{State: string(st.State), URL: st.URL, Error: st.Error, Since: st.Since,
		AuthtokenHint: hint, AuthtokenSource: source, Domain: set.TunnelDomain, Autostart: set.TunnelAutostart,
		AllowCIDRs: append([]string{}, set.TunnelAllowCIDRs...)}
}

func (s *Server) registerTunnel(mux routes) {
	mux.full("GET /api/millrun/tunnel", "tunnel", func(w http.ResponseWriter, r *http.Request) error {
		httpx.JSON(w, http.StatusOK, s.tunnelView(s.Tunnel.Status()))
		return nil
	})
	mux.full("POST /api/millrun/tunnel/config", "tunnel", func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Authtoken *string   `json:"authtoken"`
			Domain    *string   `json:"domain"`
			Autostart *bool     `json:"autostart"`
			Allow     *[]string `json:"allow_cidrs"`
		}
		if err := s.decodeBody(r, &body); err != nil {
			return err
		}
		if body.Authtoken != nil {
			if err := s.Authtoken.Set(*body.Authtoken); err != nil {
				return apierr.BadRequest("%s", err)
			}
		}
		set := s.Control.Settings()
		if body.Domain != nil {
			set.TunnelDomain = strings.TrimSpace(*body.Domain)
		}
		if body.Autostart != nil {
			set.TunnelAutostart = *body.Autostart
		}
		if body.Allow != nil {
			allow, err := tunnel.NormalizeCIDRs(*body.Allow)
			if err != nil {
				return apierr.BadRequest("allowed IPs: %s", err)
			}
			set.TunnelAllowCIDRs = allow
		}
		if err := s.Control.UpdateSettings(r.Context(), set); err != nil {
			return apierr.BadRequest("%s", err)
		}
		s.changed(r, "tunnel.config", "", "", nil)
		httpx.JSON(w, http.StatusOK, s.tunnelView(s.Tunnel.Status()))
		return nil
	})
	mux.full("POST /api/millrun/tunnel/start", "tunnel", func(w http.ResponseWriter, r *http.Request) error {
		if err := s.Control.StartTunnel(); err != nil {
			return apierr.BadRequest("%s", err)
		}
		s.changed(r, "tunnel.start", "", "", nil)
		httpx.JSON(w, http.StatusOK, s.tunnelView(s.Tunnel.Status()))
		return nil
	})
	mux.full("POST /api/millrun/tunnel/stop", "tunnel", func(w http.ResponseWriter, r *http.Request) error {
		s.Tunnel.Disconnect()
		s.changed(r, "tunnel.stop", "", "", nil)
		httpx.JSON(w, http.StatusOK, s.tunnelView(s.Tunnel.Status()))
		return nil
	})
	// Server-sent events: one "status" event per change, so the UI shows
	// connecting → online → reconnecting as it happens, without polling.
	mux.full("GET /api/millrun/tunnel/events", "tunnel", func(w http.ResponseWriter, r *http.Request) error {
		ch, stop := s.Tunnel.Subscribe()
		defer stop()
		httpx.Stream(w, r, ch, func(f http.Flusher, st tunnel.Status) {
			httpx.Event(w, f, "status", s.tunnelView(st))
		})
		return nil
	})
}
