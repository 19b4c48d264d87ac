package guard

import (
	"net"
	"net/http"
	"strings"
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
