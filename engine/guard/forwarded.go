package guard

import (
	"net"
	"net/http"
	"strings"

	"github.com/millrun/millrun/engine/reqctx"
)

// ForwardedFor is the caller's address as a proxy in front of millrun
// (the tunnel's provider) reports it in X-Forwarded-For, or "" when it
// reports none that parses. The proxy appends the address it saw to
// whatever the caller sent, so the last value is the only one the caller
// cannot choose. Trust it only from such a proxy: anyone can send it.
func ForwardedFor(r *http.Request) string {
	xff := r.Header.Values("X-Forwarded-For")
	if len(xff) == 0 {
		return ""
	}
	last := xff[len(xff)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	if ip := net.ParseIP(strings.TrimSpace(last)); ip != nil {
		return ip.String()
	}
	return ""
}

// MarkTunnel tags requests that came through the tunnel, with the
// caller's address from the forwarded header the provider sets. Only the
// tunnel's handler may use it: on loopback anyone could send the header.
func MarkTunnel(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(reqctx.WithTunnelCaller(r.Context(), ForwardedFor(r))))
	})
}

// BodyCaller names the caller whose share of the body budget a request's
// body counts against (Bodies.Caller): its address as the request
// inspector records it (for a tunnel request, the one the provider
// reports), an IPv6 address by its /64, which one host is usually given
// whole and picks addresses from at will. This machine's own callers (the
// UI, local scripts, curl, a replay) count against no share, as in
// connlimit: all of them are loopback, so one share would be a smaller
// budget for all of them rather than a cap on any one. A tunnel request
// is never one of them, whatever address it reports.
func BodyCaller(r *http.Request) string {
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
