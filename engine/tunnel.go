package engine

import (
	"errors"
	"fmt"
	"github.com/millrun/millrun/engine/api"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/tunnel"
	"github.com/millrun/millrun/engine/webhook"
)

// authtokenFile keeps the ngrok authtoken outside the database, which the
// settings API reads from, with owner-only permissions.
func (e *Engine) authtokenFile() string { return filepath.Join(e.cfg.DataDir, "ngrok-authtoken") }

// SetNgrokAuthtoken stores the authtoken (empty removes it).
func (e *Engine) SetNgrokAuthtoken(token string) error {
	token = strings.TrimSpace(token)
	if token == "" {
		err := os.Remove(e.authtokenFile())
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if strings.ContainsAny(token, " \t\r\n") || len(token) > 200 {
		return fmt.Errorf("that does not look like an ngrok authtoken")
	}
	return os.WriteFile(e.authtokenFile(), []byte(token), 0o600)
}

// ngrokAuthtoken is the stored authtoken, else NGROK_AUTHTOKEN.
func (e *Engine) ngrokAuthtoken() (token, source string) {
	if b, err := os.ReadFile(e.authtokenFile()); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), "saved"
	}
	if v := os.Getenv("NGROK_AUTHTOKEN"); v != "" {
		return v, "NGROK_AUTHTOKEN"
	}
	return "", ""
}

// authtokenHint shows enough of a secret to recognise it, never to use it.
func authtokenHint(t string) string {
	if len(t) < 12 {
		return strings.Repeat("•", len(t))
	}
	return t[:4] + "…" + t[len(t)-4:]
}

// StartTunnel publishes the webhook routes with the saved configuration.
func (e *Engine) StartTunnel() error {
	token, _ := e.ngrokAuthtoken()
	s := e.Settings()
	allow, _ := tunnel.NormalizeCIDRs(s.TunnelAllowCIDRs) // checked when saved
	return e.tunnel.Start(tunnel.Config{Authtoken: token, Domain: s.TunnelDomain, AllowCIDRs: allow})
}

// StopTunnel closes the tunnel.
func (e *Engine) StopTunnel() { e.tunnel.Stop() }

// Tunnel exposes the tunnel manager (state and its changes).
func (e *Engine) Tunnel() *tunnel.Manager { return e.tunnel }

// markTunnel tags requests that came through the tunnel, with the caller's
// address from the forwarded header the provider sets. Only here is that
// header trusted: on loopback anyone could send it. The provider appends
// the address it saw to whatever the caller sent, so the last value is the
// only one the caller cannot choose.
func markTunnel(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := ""
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if parsed := net.ParseIP(strings.TrimSpace(last)); parsed != nil {
				ip = parsed.String()
			}
		}
		next.ServeHTTP(w, r.WithContext(webhook.WithTunnelCaller(r.Context(), ip)))
	})
}

type tunnelView struct {
	tunnel.Status
	AuthtokenHint   string   `json:"authtoken_hint"`
	AuthtokenSource string   `json:"authtoken_source"`
	Domain          string   `json:"domain"`
	Autostart       bool     `json:"autostart"`
	AllowCIDRs      []string `json:"allow_cidrs"`
}

func (e *Engine) tunnelView() tunnelView {
	token, source := e.ngrokAuthtoken()
	hint := ""
	if token != "" {
		hint = authtokenHint(token)
	}
	s := e.Settings()
	return tunnelView{Status: e.tunnel.Status(), AuthtokenHint: hint, AuthtokenSource: source, Domain: s.TunnelDomain, Autostart: s.TunnelAutostart,
		AllowCIDRs: append([]string{}, s.TunnelAllowCIDRs...)}
}

func (e *Engine) registerTunnel(mux *group) {
	full := func(h http.HandlerFunc) http.HandlerFunc { return api.FullAccess(e.log, "tunnel", h) }
	mux.HandleFunc("GET /api/millrun/tunnel", full(func(w http.ResponseWriter, r *http.Request) {
		httpx.JSON(w, http.StatusOK, e.tunnelView())
	}))
	mux.HandleFunc("POST /api/millrun/tunnel/config", full(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Authtoken *string   `json:"authtoken"`
			Domain    *string   `json:"domain"`
			Autostart *bool     `json:"autostart"`
			Allow     *[]string `json:"allow_cidrs"`
		}
		if err := decodeSmall(r, &body); err != nil {
			apierr.Write(w, e.log, err)
			return
		}
		if body.Authtoken != nil {
			if err := e.SetNgrokAuthtoken(*body.Authtoken); err != nil {
				apierr.Write(w, e.log, apierr.BadRequest("%s", err))
				return
			}
		}
		s := e.Settings()
		if body.Domain != nil {
			s.TunnelDomain = strings.TrimSpace(*body.Domain)
		}
		if body.Autostart != nil {
			s.TunnelAutostart = *body.Autostart
		}
		if body.Allow != nil {
			allow, err := tunnel.NormalizeCIDRs(*body.Allow)
			if err != nil {
				apierr.Write(w, e.log, apierr.BadRequest("allowed IPs: %s", err))
				return
			}
			s.TunnelAllowCIDRs = allow
		}
		if err := e.UpdateSettings(r.Context(), s); err != nil {
			apierr.Write(w, e.log, apierr.BadRequest("%s", err))
			return
		}
		e.recordChange(r.Context(), auth.FromContext(r.Context()).Label, "tunnel.config", "", "", nil)
		httpx.JSON(w, http.StatusOK, e.tunnelView())
	}))
	mux.HandleFunc("POST /api/millrun/tunnel/start", full(func(w http.ResponseWriter, r *http.Request) {
		if err := e.StartTunnel(); err != nil {
			apierr.Write(w, e.log, apierr.BadRequest("%s", err))
			return
		}
		e.recordChange(r.Context(), auth.FromContext(r.Context()).Label, "tunnel.start", "", "", nil)
		httpx.JSON(w, http.StatusOK, e.tunnelView())
	}))
	mux.HandleFunc("POST /api/millrun/tunnel/stop", full(func(w http.ResponseWriter, r *http.Request) {
		e.StopTunnel()
		e.recordChange(r.Context(), auth.FromContext(r.Context()).Label, "tunnel.stop", "", "", nil)
		httpx.JSON(w, http.StatusOK, e.tunnelView())
	}))
	// Server-sent events: one "status" event per change, so the UI shows
	// connecting → online → reconnecting as it happens, without polling.
	mux.HandleFunc("GET /api/millrun/tunnel/events", full(func(w http.ResponseWriter, r *http.Request) {
		ch, stop := e.tunnel.Subscribe()
		defer stop()
		httpx.Stream(w, r, ch, func(f http.Flusher, st tunnel.Status) {
			v := e.tunnelView()
			v.Status = st
			httpx.Event(w, f, "status", v)
		})
	}))
}
