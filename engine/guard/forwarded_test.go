package guard

import (
	"net/http/httptest"
	"testing"
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
