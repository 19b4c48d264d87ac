package tunnel

import (
	"strings"
	"testing"
)

func TestNormalizeCIDRs(t *testing.T) {
	t.Parallel()
	got, err := NormalizeCIDRs([]string{" 203.0.113.7 ", "198.51.100.0/24", "", "2001:db8::1", "10.1.2.3/8"})
	if err != nil || strings.Join(got, " ") != "203.0.113.7/32 198.51.100.0/24 2001:db8::1/128 10.0.0.0/8" {
		t.Fatalf("got %v %v", got, err)
	}
	if _, err := NormalizeCIDRs([]string{"1.2.3.4", "slack.com"}); err == nil || !strings.Contains(err.Error(), `"slack.com"`) {
		t.Fatalf("a host name accepted: %v", err)
	}
}

func TestTrafficPolicy(t *testing.T) {
	t.Parallel()
	if TrafficPolicy(nil) != "" {
		t.Fatal("an empty allowlist made a policy")
	}
	want := `{"on_http_request":[{"actions":[{"type":"restrict-ips","config":{"allow":["203.0.113.0/24"],"enforce":true}}]}]}`
	if got := TrafficPolicy([]string{"203.0.113.0/24"}); got != want {
		t.Fatalf("policy\n got %s\nwant %s", got, want)
	}
}
