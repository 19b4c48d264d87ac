package reqctx

import (
	"context"
	"testing"

	"github.com/millrun/millrun/engine/auth"
)

// A plain request carries no marker; each marker reads back as set, and
// Trusted sets the identity with it.
func TestMarkers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if Identity(ctx) != nil || IsTrusted(ctx) || InWindow(ctx) {
		t.Fatal("a plain context carries a marker")
	}
	if _, via := TunnelCaller(ctx); via {
		t.Fatal("a plain context came through the tunnel")
	}
	if ok, _ := IsReplay(ctx); ok {
		t.Fatal("a plain context is a replay")
	}
	me := &auth.Identity{Label: "me"}
	ctx = WithWindow(Trusted(ctx, me))
	if Identity(ctx) != me || !IsTrusted(ctx) || !InWindow(ctx) {
		t.Fatal("the desktop window's markers are lost")
	}
	if ip, via := TunnelCaller(WithTunnelCaller(ctx, "")); !via || ip != "" {
		t.Fatalf("a tunnel request whose provider named no address: %q %v", ip, via)
	}
	if ip, _ := TunnelCaller(WithTunnelCaller(ctx, "203.0.113.9")); ip != "203.0.113.9" {
		t.Fatalf("tunnel caller %q", ip)
	}
	if ok, ofRefused := IsReplay(AsReplay(ctx, true)); !ok || !ofRefused {
		t.Fatal("a replay of a refused request")
	}
}
