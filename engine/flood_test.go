package engine

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
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
	for end := time.Now().Add(5 * time.Second); len(rows) < 2 && time.Now().Before(end); {
		rows = f.requests("?route=u/me/gh_route")
	}
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
