package guard

import (
	"net/http/httptest"
	"testing"

	"github.com/millrun/millrun/engine/reqctx"
)

// The last address a proxy appended is the caller's; what the caller put
// before it is not believed, and nothing parseable is no address.
func TestForwardedFor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		headers []string
		want    string
	}{
		{nil, ""},
		{[]string{"203.0.113.9"}, "203.0.113.9"},
		{[]string{"10.0.0.1, 203.0.113.9"}, "203.0.113.9"},
		{[]string{"10.0.0.1", " 2001:db8::1 "}, "2001:db8::1"},
		{[]string{"203.0.113.9, not-an-address"}, ""},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		for _, h := range c.headers {
			r.Header.Add("X-Forwarded-For", h)
		}
		if got := ForwardedFor(r); got != c.want {
			t.Errorf("%q: %q, want %q", c.headers, got, c.want)
		}
	}
}

// The caller whose share of the body budget a request draws on is the
// address the inspector records; an IPv6 one by its /64, which one host
// picks addresses from at will; none for this machine's own callers,
// unless the request came through the tunnel.
func TestBodyCaller(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		remote, forwarded string
		tunnel            bool
		want              string
	}{
		{"127.0.0.1:5000", "", false, ""},
		{"[::1]:5000", "", false, ""},
		{"", "", false, ""},
		{"192.168.1.20:5000", "", false, "192.168.1.20"},
		{"[2001:db8:1:2:aaaa::1]:5000", "", false, "2001:db8:1:2::/64"},
		{"127.0.0.1:5000", "203.0.113.7", true, "203.0.113.7"},
		{"127.0.0.1:5000", "2001:db8:1:2:bbbb::9", true, "2001:db8:1:2::/64"},
		{"127.0.0.1:5000", "", true, "127.0.0.1"},
		{"", "", true, "tunnel "},
	} {
		r := httptest.NewRequest("POST", "/api/r/x", nil)
		r.RemoteAddr = c.remote
		if c.tunnel {
			r = r.WithContext(reqctx.WithTunnelCaller(r.Context(), c.forwarded))
		}
		if got := BodyCaller(r); got != c.want {
			t.Errorf("from %q (tunnel %v, forwarded %q): %q, want %q", c.remote, c.tunnel, c.forwarded, got, c.want)
		}
	}
}
