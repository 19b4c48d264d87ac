package engine

import (
	"net"
	"net/http"

	"github.com/millrun/millrun/engine/guard"
	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/tunnel"
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
// header trusted: on loopback anyone could send it.
func markTunnel(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(reqctx.WithTunnelCaller(r.Context(), guard.ForwardedFor(r))))
	})
}

// bodyCaller names the caller whose share of the body budget a request's
// body counts against: its address as the request inspector records it
// (for a tunnel request, the one the provider reports), an IPv6 address
// by its /64, which one host is usually given whole and picks addresses
// from at will. This machine's own callers (the UI, local scripts, curl,
// a replay) count against no share, as in connlimit: all of them are
// loopback, so one share would be a smaller budget for all of them
// rather than a cap on any one. A tunnel request is never one of them,
// whatever address it reports.
func bodyCaller(r *http.Request) string {
	ip, tunnelled := reqctx.TunnelCaller(r.Context())
	if ip == "" {
		ip = r.RemoteAddr
		if host, _, err := net.SplitHostPort(ip); err == nil {
			ip = host
		}
	}
	parsed := net.ParseIP(ip)
	switch {
	case parsed == nil && tunnelled:
		return "tunnel " + ip
	case parsed == nil, parsed.IsLoopback() && !tunnelled:
		return ""
	case parsed.To4() == nil:
		return parsed.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return parsed.String()
}
