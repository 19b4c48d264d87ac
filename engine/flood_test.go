package engine

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/testkit"
)

// Issue 35: a forged Slack request had its whole body read before its
// signature headers were looked at. What the headers alone condemn
// (unsigned, a stale timestamp, a signature that is not one) is refused
// while the body is still coming, so such a flood costs no body memory.
func TestSignatureHeadersRefusedBeforeTheBody(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/deploy", "bash", "echo ran\n")
	f.slackDeployRoute("s3cr3t-signing")
	now := strconv.FormatInt(time.Now().Unix(), 10)
	stale := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	for name, hdrs := range map[string][]string{
		"unsigned":      nil,
		"stale":         {"X-Slack-Request-Timestamp: " + stale, "X-Slack-Signature: v0=" + strings.Repeat("ab", 32)},
		"not a digest":  {"X-Slack-Request-Timestamp: " + now, "X-Slack-Signature: v0=forged"},
		"no timestamp":  {"X-Slack-Signature: v0=" + strings.Repeat("ab", 32)},
		"bad timestamp": {"X-Slack-Request-Timestamp: soon", "X-Slack-Signature: v0=" + strings.Repeat("ab", 32)},
	} {
		c := rawPost(t, f.srv.URL, "/api/r/slack/deploy", hdrs, 10<<20, "text=")
		c.SetDeadline(time.Now().Add(3 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Errorf("%s: no answer while the body was still coming: %v", name, err)
			continue
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, res.StatusCode)
		}
	}
}

// A body declared larger than max_body_bytes is refused before it is
// read, not after 10 MiB of it were.
func TestDeclaredTooLargeRefusedUnread(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/a", "bash", "echo ran\n")
	c := rawPost(t, f.srv.URL, "/api/w/local/jobs/run/p/u/me/a", []string{"Authorization: Bearer " + f.token}, 11<<20, `{"a":`)
	c.SetDeadline(time.Now().Add(3 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer while the body was still coming: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("%d, want 413", res.StatusCode)
	}
}

// The inspector keeps a verified signed request's whole body (it copies
// it from the handler's buffer once the signature is known good), and no
// more than its 4 KiB share of a forged one's.
func TestInspectorKeepsSignedBodiesByVerdict(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/gh", "bash", "echo ran\n")
	const secret = "gh-secret"
	f.resource("u/me/gh_signing", map[string]any{"provider": "github", "secret": secret})
	f.route(map[string]any{"path": "u/me/gh_route", "script_path": "u/me/gh", "route_path": "gh/push", "is_async": true,
		"http_method": "post", "authentication_method": "signature", "authentication_resource_path": "u/me/gh_signing"})
	body := `{"pad":"` + strings.Repeat("p", 20<<10) + `"}`
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	good := "sha256=" + hex.EncodeToString(m.Sum(nil))
	r := f.anon("POST", "/api/r/gh/push", "application/json", body, "X-Hub-Signature-256", good)
	if r.status != 201 {
		t.Fatalf("signed push: %d %s", r.status, r.body)
	}
	forged := f.anon("POST", "/api/r/gh/push", "application/json", body, "X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
	if forged.status != 401 {
		t.Fatalf("forged push: %d %s", forged.status, forged.body)
	}
	var rows []map[string]any
	testkit.WaitUntil(t, "both requests recorded", 5*time.Second, func() bool {
		rows = f.requests("?route=u/me/gh_route")
		return len(rows) >= 2
	})
	if len(rows) != 2 {
		t.Fatalf("recorded: %v", rows)
	}
	for _, row := range rows {
		var req map[string]any
		json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/millrun/requests/"+fmt.Sprint(row["id"]), "", "").body), &req)
		got, _ := req["body"].(string)
		switch row["auth_ok"] {
		case true:
			if got != body || req["body_truncated"] != false {
				t.Errorf("verified request kept %d of %d bytes (truncated %v)", len(got), len(body), req["body_truncated"])
			}
		default:
			if len(got) != 4<<10 || got != body[:4<<10] || req["body_truncated"] != true {
				t.Errorf("forged request kept %d bytes (truncated %v), want its first 4 KiB", len(got), req["body_truncated"])
			}
		}
	}
}

// forgedSlack are well-formed Slack signature headers that match no body:
// the route must read the body to refuse them.
func forgedSlack(extra ...string) []string {
	return append([]string{"X-Slack-Request-Timestamp: " + strconv.FormatInt(time.Now().Unix(), 10),
		"X-Slack-Signature: v0=" + strings.Repeat("0", 64)}, extra...)
}

// holdBody starts a request that declares declared bytes of body, sends
// sent of them and keeps the connection open. The server may refuse it
// while it is being sent, so nothing is asserted about the sending.
func holdBody(t *testing.T, base, path string, hdrs []string, declared, sent int) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	head := "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(declared) + "\r\n"
	for _, h := range hdrs {
		head += h + "\r\n"
	}
	go func() {
		if _, err := io.WriteString(c, head+"\r\n"); err == nil {
			c.Write(bytes.Repeat([]byte("x"), sent))
		}
	}()
}

// bodiesSteady waits until the body memory millrun counts stops changing:
// it has read what the callers sent so far.
func (f *fixture) bodiesSteady() {
	f.t.Helper()
	last, same := int64(-1), 0
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && same < 6; {
		time.Sleep(50 * time.Millisecond)
		if held := f.e.bodies.Held(); held == last && held > 0 {
			same++
		} else {
			last, same = held, 0
		}
	}
}

// call makes one request to base and wants its answer within 10 s.
func call(t *testing.T, base, method, path, contentType, body string, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: no answer within 10 s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, string(b)}
}

// Security review finding 4: the body budget was reserved from each
// request's declared length before a byte of it arrived, so 13
// connections with forged but well-formed Slack signature headers,
// declaring 128 MiB together and sending one byte each, held all of it:
// every webhook with a body, token-authenticated ones included, answered
// 503 until they dropped. A body holds only what has arrived of it.
func TestDeclaredBodiesHoldNoBudget(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/deploy", "bash", "echo ran\n")
	const secret = "s3cr3t-signing"
	f.slackDeployRoute(secret)
	for _, n := range append(slices.Repeat([]int{10 << 20}, 12), 8<<20) {
		holdBody(t, f.srv.URL, "/api/r/slack/deploy", forgedSlack(), n, 1)
	}
	f.bodiesSteady()
	if r := call(t, f.srv.URL, "POST", "/api/w/local/jobs/run_wait_result/p/u/me/deploy", "application/json", `{"text":"prod"}`,
		"Authorization", "Bearer "+f.token); r.status != 200 || r.body != `"ran"` {
		t.Errorf("a token call while 13 forged uploads wait: %d %s", r.status, r.body)
	}
	ts, body := strconv.FormatInt(time.Now().Unix(), 10), "text=prod"
	if r := call(t, f.srv.URL, "POST", "/api/r/slack/deploy", "application/x-www-form-urlencoded", body,
		"X-Slack-Request-Timestamp", ts, "X-Slack-Signature", slackSign(secret, ts, body)); r.status != 200 {
		t.Errorf("a signed Slack call while 13 forged uploads wait: %d %s", r.status, r.body)
	}
}

// One address on the internet that does send most of its bodies holds
// only its share of the budget: another caller's signed call and a token
// call still get through the tunnel.
func TestOneTunnelCallerHoldsOnlyItsShare(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/deploy", "bash", "echo ran\n")
	const secret = "s3cr3t-signing"
	f.slackDeployRoute(secret)
	tun := httptest.NewServer(f.e.tunnelHandler)
	t.Cleanup(tun.Close) // after the held connections are closed
	// Bodies of 2 MiB fill the budget closely: 64 declare all of it.
	for range 64 {
		holdBody(t, tun.URL, "/api/r/slack/deploy", forgedSlack("X-Forwarded-For: 203.0.113.7"), 2<<20, 3<<19)
	}
	f.bodiesSteady()
	ts, body := strconv.FormatInt(time.Now().Unix(), 10), "text=prod&pad="+strings.Repeat("p", 4<<20)
	if r := call(t, tun.URL, "POST", "/api/r/slack/deploy", "application/x-www-form-urlencoded", body,
		"X-Forwarded-For", "198.51.100.9", "X-Slack-Request-Timestamp", ts, "X-Slack-Signature", slackSign(secret, ts, body)); r.status != 200 {
		t.Errorf("another caller's signed Slack call of 4 MiB: %d %s", r.status, r.body)
	}
	if r := call(t, tun.URL, "POST", "/api/w/local/jobs/run_wait_result/p/u/me/deploy", "application/json", `{"text":"prod"}`,
		"X-Forwarded-For", "198.51.100.10", "Authorization", "Bearer "+f.token); r.status != 200 {
		t.Errorf("a token call: %d %s", r.status, r.body)
	}
}

// Anonymous callers from many addresses can fill the anonymous part of
// the budget (that is what a flood costs), but not the part kept for
// callers whose token was checked before their body.
func TestAnonymousCallersLeaveRoomForTokenCalls(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/deploy", "bash", "echo ran\n")
	f.slackDeployRoute("s3cr3t-signing")
	tun := httptest.NewServer(f.e.tunnelHandler)
	t.Cleanup(tun.Close) // after the held connections are closed
	for i := range 64 {
		holdBody(t, tun.URL, "/api/r/slack/deploy", forgedSlack(fmt.Sprintf("X-Forwarded-For: 203.0.113.%d", i+1)), 2<<20, 3<<19)
	}
	f.bodiesSteady()
	body := `{"text":"prod","pad":"` + strings.Repeat("p", 4<<20) + `"}`
	if r := call(t, tun.URL, "POST", "/api/w/local/jobs/run_wait_result/p/u/me/deploy", "application/json", body,
		"X-Forwarded-For", "198.51.100.10", "Authorization", "Bearer "+f.token); r.status != 200 {
		t.Errorf("a token call with a 4 MiB body while 64 addresses send 128 MiB together: %d %s", r.status, r.body)
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
		if got := bodyCaller(r); got != c.want {
			t.Errorf("from %q (tunnel %v, forwarded %q): %q, want %q", c.remote, c.tunnel, c.forwarded, got, c.want)
		}
	}
}
