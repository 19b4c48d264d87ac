package triggers

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// Whatever arrives in the signature headers, verification answers with a
// refusal, never a panic, and never lets a request in without the secret.
func FuzzVerifySignature(f *testing.F) {
	f.Add(uint8(0), "1531420618", "v0=abc", "id", "body")
	f.Add(uint8(2), "", "sha256=00", "", "{}")
	f.Add(uint8(1), "123", "zz", "", `{"type":1}`)
	f.Add(uint8(3), "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1", "msg_1", `{"test": 2432232314}`)
	f.Fuzz(func(t *testing.T, which uint8, ts, sig, id, body string) {
		provider := Providers[int(which)%len(Providers)]
		cred := map[string]any{"secret": "whsec_c2VjcmV0", "public_key": strings.Repeat("ab", 32), "header": "X-Sig"}
		h := http.Header{}
		for _, k := range []string{"X-Slack-Request-Timestamp", "X-Signature-Timestamp", "Webhook-Timestamp"} {
			h.Set(k, ts)
		}
		for _, k := range []string{"X-Slack-Signature", "X-Hub-Signature-256", "X-Signature-Ed25519", "Webhook-Signature", "X-Sig"} {
			h.Set(k, sig)
		}
		h.Set("Webhook-Id", id)
		if err := VerifySignature(provider, cred, h, []byte(body), time.Unix(1614265330, 0)); err == nil {
			t.Fatalf("%s let in a request signed %q without knowing the secret", provider, sig)
		}
	})
}

// Any route path is either refused with a reason or accepted and then
// matched by a request to its own URL.
func FuzzRoutePath(f *testing.F) {
	for _, p := range []string{"slack/deploy", "github/:repo", "a//b", "/x", "a/:1", "orders/:id/items/:item", "ünï/côde", ":a/:b"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, routePath string) {
		tr := &Trigger{Path: "u/me/r", ScriptPath: "u/me/s", RoutePath: routePath, AuthenticationMethod: AuthNone, WorkspaceID: "local"}
		if err := tr.Normalize(); err != nil {
			if err.Error() == "" {
				t.Fatal("a refusal without a reason")
			}
			return
		}
		segs := strings.Split(routePath, "/")
		for i, s := range segs {
			if strings.HasPrefix(s, ":") {
				segs[i] = "value"
			}
		}
		list := []*Trigger{tr}
		s := &Service{}
		s.table.Store(&list)
		if got, _ := s.Match("POST", strings.Join(segs, "/")); got != tr {
			t.Fatalf("route %q does not answer its own URL", routePath)
		}
	})
}
