// Package reqctx holds what millrun marks a request's context with as it
// passes through the route table: who the caller is, whether millrun made
// the request itself (the desktop window, a replay), and whether it came
// through the tunnel. One package, so every marker and who sets it is in
// one place; the packages that read them import this one.
package reqctx

import (
	"context"

	"github.com/millrun/millrun/engine/auth"
)

type (
	identityKey struct{}
	trustedKey  struct{}
	windowKey   struct{}
	tunnelKey   struct{}
	replayKey   struct{}
)

// WithIdentity returns ctx acting as id (set by authentication).
func WithIdentity(ctx context.Context, id *auth.Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// Identity returns the identity a request acts as, or nil.
func Identity(ctx context.Context) *auth.Identity {
	id, _ := ctx.Value(identityKey{}).(*auth.Identity)
	return id
}

// Trusted marks a request made inside this process with its identity set
// already: the desktop window (Wails' in-process asset server) and replays
// the user asked for. No network request can carry it.
func Trusted(ctx context.Context, id *auth.Identity) context.Context {
	return context.WithValue(WithIdentity(ctx, id), trustedKey{}, true)
}

// IsTrusted reports whether Trusted marked the request.
func IsTrusted(ctx context.Context) bool { return ctx.Value(trustedKey{}) == true }

// WithWindow marks a request as the desktop window's, which has no
// session to log out of.
func WithWindow(ctx context.Context) context.Context {
	return context.WithValue(ctx, windowKey{}, true)
}

// InWindow reports whether a request came from the desktop window.
func InWindow(ctx context.Context) bool { return ctx.Value(windowKey{}) == true }

// WithTunnelCaller marks a request as received through the tunnel, from
// ip (the provider's forwarded address; "" when it sent none).
func WithTunnelCaller(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, tunnelKey{}, ip)
}

// TunnelCaller returns the caller's address for a request that came
// through the tunnel, and whether it did.
func TunnelCaller(ctx context.Context) (ip string, viaTunnel bool) {
	ip, viaTunnel = ctx.Value(tunnelKey{}).(string)
	return ip, viaTunnel
}

// AsReplay marks a request as a replay started from the UI by a user
// with full access; ofRefused says the original was refused.
func AsReplay(ctx context.Context, ofRefused bool) context.Context {
	return context.WithValue(ctx, replayKey{}, ofRefused)
}

// IsReplay reports whether a request is a replay, and of a refused one.
func IsReplay(ctx context.Context) (ok, ofRefused bool) {
	ofRefused, ok = ctx.Value(replayKey{}).(bool)
	return ok, ofRefused
}
