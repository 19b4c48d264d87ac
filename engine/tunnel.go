package engine

import "github.com/millrun/millrun/engine/tunnel"

// SetNgrokAuthtoken stores the authtoken (empty removes it).
func (e *Engine) SetNgrokAuthtoken(token string) error { return e.authtoken.Set(token) }

// StartTunnel publishes the webhook routes with the saved configuration.
func (e *Engine) StartTunnel() error {
	token, _ := e.authtoken.Get()
	s := e.Settings()
	allow, _ := tunnel.NormalizeCIDRs(s.TunnelAllowCIDRs) // checked when saved
	return e.tunnel.Connect(tunnel.Config{Authtoken: token, Domain: s.TunnelDomain, AllowCIDRs: allow})
}

// StopTunnel closes the tunnel.
func (e *Engine) StopTunnel() { e.tunnel.Disconnect() }

// Tunnel exposes the tunnel manager (state and its changes).
func (e *Engine) Tunnel() *tunnel.Manager { return e.tunnel }
