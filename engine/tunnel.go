package engine

import (
	"net"
	"net/http"
	"strings"

	"github.com/millrun/millrun/engine/tunnel"
	"github.com/millrun/millrun/engine/webhook"
)

// SetNgrokAuthtoken stores the authtoken (empty removes it).
func (e *Engine) SetNgrokAuthtoken(token string) error { return e.authtoken.Set(token) }

// StartTunnel publishes the webhook routes with the saved configuration.
func (e *Engine) StartTunnel() error {
	token, _ := e.authtoken.Get()
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
