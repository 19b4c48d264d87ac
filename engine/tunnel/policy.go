package tunnel

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
)

// NormalizeCIDRs checks an IP allowlist and writes bare addresses as
// single-address ranges; the error names the first bad entry.
func NormalizeCIDRs(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked().String())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR range like 203.0.113.0/24", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()).String())
	}
	return out, nil
}

// TrafficPolicy is the ngrok traffic policy that lets only allow reach the
// endpoint, enforced at ngrok's edge before a request travels to this
// computer ("" when allow is empty: everyone may call, and millrun's own
// checks decide).
func TrafficPolicy(allow []string) string {
	if len(allow) == 0 {
		return ""
	}
	type action struct {
		Type   string         `json:"type"`
		Config map[string]any `json:"config"`
	}
	policy := map[string][]map[string][]action{
		"on_http_request": {{"actions": {{Type: "restrict-ips", Config: map[string]any{"enforce": true, "allow": allow}}}}},
	}
	b, _ := json.Marshal(policy)
	return string(b)
}
