package triggers

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func expectRefused(t *testing.T, name string, err error, want string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: accepted", name)
		return
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("%s: %q, want it to say %q", name, err, want)
	}
}

// Slack's documented example request (api.slack.com, "Verifying requests
// from Slack").
func TestSlackDocumentedVector(t *testing.T) {
	t.Parallel()
	secret := map[string]any{"secret": "8f742231b10e8888abcd99yyyzzz85a5"}
	body := []byte("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
	h := hdr("X-Slack-Request-Timestamp", "1531420618", "X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503")
	at := time.Unix(1531420618+30, 0)
	if err := VerifySignature(ProviderSlack, secret, h, body, at); err != nil {
		t.Fatalf("Slack's own example refused: %v", err)
	}
	expectRefused(t, "stale", VerifySignature(ProviderSlack, secret, h, body, at.Add(10*time.Minute)), "more than 5 minutes")
	expectRefused(t, "tampered", VerifySignature(ProviderSlack, secret, h, append(body, '1'), at), "does not match")
	expectRefused(t, "wrong secret", VerifySignature(ProviderSlack, map[string]any{"secret": "nope"}, h, body, at), "does not match")
	expectRefused(t, "unsigned", VerifySignature(ProviderSlack, secret, http.Header{}, body, at), "missing X-Slack")
	expectRefused(t, "no secret stored", VerifySignature(ProviderSlack, map[string]any{}, h, body, at), "no Slack signing secret")
}

// GitHub's documented example (docs.github.com, "Validating webhook
// deliveries").
func TestGitHubDocumentedVector(t *testing.T) {
	t.Parallel()
	secret := map[string]any{"secret": "It's a Secret to Everybody"}
	h := hdr("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	if err := VerifySignature(ProviderGitHub, secret, h, []byte("Hello, World!"), time.Now()); err != nil {
		t.Fatalf("GitHub's own example refused: %v", err)
	}
	expectRefused(t, "tampered", VerifySignature(ProviderGitHub, secret, h, []byte("Hello, World?"), time.Now()), "does not match")
	expectRefused(t, "unsigned", VerifySignature(ProviderGitHub, secret, http.Header{}, []byte("x"), time.Now()), "missing X-Hub-Signature-256")
}

// The Standard Webhooks reference vector (standard-webhooks spec), with a
// rotated-out key listed first.
func TestStandardWebhooksReferenceVector(t *testing.T) {
	t.Parallel()
	body := []byte(`{"test": 2432232314}`)
	h := hdr("Webhook-Id", "msg_p5jXN8AQM9LWM0D4loKWxJek", "Webhook-Timestamp", "1614265330",
		"Webhook-Signature", "v1,bm9ldHRoZXNpZ25hdHVyZQ== v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	at := time.Unix(1614265330, 0)
	cred := map[string]any{"secrets": []any{"whsec_" + base64.StdEncoding.EncodeToString([]byte("an old key")), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}
	if err := VerifySignature(ProviderStandard, cred, h, body, at); err != nil {
		t.Fatalf("the reference vector refused: %v", err)
	}
	svix := hdr("Svix-Id", h.Get("Webhook-Id"), "Svix-Timestamp", h.Get("Webhook-Timestamp"), "Svix-Signature", h.Get("Webhook-Signature"))
	if err := VerifySignature(ProviderStandard, cred, svix, body, at); err != nil {
		t.Fatalf("Svix headers refused: %v", err)
	}
	expectRefused(t, "stale", VerifySignature(ProviderStandard, cred, h, body, at.Add(-6*time.Minute)), "more than 5 minutes")
	expectRefused(t, "tampered", VerifySignature(ProviderStandard, cred, h, []byte(`{"test": 1}`), at), "no webhook-signature matches")
	expectRefused(t, "only the old key", VerifySignature(ProviderStandard, map[string]any{"secrets": cred["secrets"].([]any)[:1]}, h, body, at), "no webhook-signature matches")
}

func TestDiscordEd25519(t *testing.T) {
	t.Parallel()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	cred := map[string]any{"public_key": hex.EncodeToString(pub)}
	body := []byte(`{"type":1}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig := hex.EncodeToString(ed25519.Sign(priv, append([]byte(ts), body...)))
	h := hdr("X-Signature-Ed25519", sig, "X-Signature-Timestamp", ts)
	if err := VerifySignature(ProviderDiscord, cred, h, body, time.Now()); err != nil {
		t.Fatalf("a good signature refused: %v", err)
	}
	expectRefused(t, "tampered", VerifySignature(ProviderDiscord, cred, h, []byte(`{"type":2}`), time.Now()), "does not match")
	otherPub, _, _ := ed25519.GenerateKey(nil)
	expectRefused(t, "other key", VerifySignature(ProviderDiscord, map[string]any{"public_key": hex.EncodeToString(otherPub)}, h, body, time.Now()), "does not match")
	expectRefused(t, "garbage signature", VerifySignature(ProviderDiscord, cred, hdr("X-Signature-Ed25519", "zz", "X-Signature-Timestamp", ts), body, time.Now()), "hex")
	expectRefused(t, "unsigned", VerifySignature(ProviderDiscord, cred, http.Header{}, body, time.Now()), "missing X-Signature-Ed25519")
	expectRefused(t, "bad key", VerifySignature(ProviderDiscord, map[string]any{"public_key": "abc"}, h, body, time.Now()), "no valid Discord public key")
}

func TestGenericHMAC(t *testing.T) {
	t.Parallel()
	body := []byte(`{"event":"paid"}`)
	m := hmac.New(sha1.New, []byte("s3cret"))
	m.Write(body)
	b64 := base64.StdEncoding.EncodeToString(m.Sum(nil))
	cred := map[string]any{"header": "X-Signature", "algorithm": "sha1", "encoding": "base64", "prefix": "sha1=", "secret": "s3cret"}
	if err := VerifySignature(ProviderHMAC, cred, hdr("X-Signature", "sha1="+b64), body, time.Now()); err != nil {
		t.Fatalf("refused: %v", err)
	}
	m = hmac.New(sha256.New, []byte("s3cret"))
	m.Write(body)
	if err := VerifySignature(ProviderHMAC, map[string]any{"header": "X-Sig", "secret": "s3cret"}, hdr("X-Sig", hex.EncodeToString(m.Sum(nil))), body, time.Now()); err != nil {
		t.Fatalf("defaults (sha256, hex) refused: %v", err)
	}
	expectRefused(t, "no prefix", VerifySignature(ProviderHMAC, cred, hdr("X-Signature", b64), body, time.Now()), "is not sha1= and a 20-byte digest")
	expectRefused(t, "wrong digest", VerifySignature(ProviderHMAC, cred, hdr("X-Signature", "sha1="+base64.StdEncoding.EncodeToString(make([]byte, 20))), body, time.Now()), "does not match")
	expectRefused(t, "md5", VerifySignature(ProviderHMAC, map[string]any{"header": "X", "algorithm": "md5", "secret": "s"}, hdr("X", "y"), body, time.Now()), "unknown HMAC algorithm")
	expectRefused(t, "unknown provider", VerifySignature("stripe", cred, http.Header{}, body, time.Now()), "unknown signature provider")
}

// A signed test request passes the same check a real one does, for every
// provider millrun holds a secret for; Discord's cannot be made.
func TestSignedTestRequestsVerify(t *testing.T) {
	now := time.Now()
	for provider, cred := range map[string]map[string]any{
		ProviderSlack:    {"secret": "s3cr3t"},
		ProviderGitHub:   {"secret": "gh-secret"},
		ProviderStandard: {"secret": "whsec_" + base64.StdEncoding.EncodeToString([]byte("standard-key"))},
		ProviderHMAC:     {"secret": "k", "header": "X-Sig", "algorithm": "sha512", "encoding": "base64", "prefix": "v1="},
	} {
		body, h, err := SignTest(provider, cred, now)
		if err != nil {
			t.Fatalf("%s: %v", provider, err)
		}
		if err := VerifySignature(provider, cred, h, body, now); err != nil {
			t.Errorf("%s: the signed test request is refused: %v", provider, err)
		}
		wrong := map[string]any{}
		for k, v := range cred {
			wrong[k] = v
		}
		wrong["secret"] = "whsec_" + base64.StdEncoding.EncodeToString([]byte("other"))
		if err := VerifySignature(provider, wrong, h, body, now); err == nil {
			t.Errorf("%s: a test signed with one secret passes with another", provider)
		}
	}
	if _, _, err := SignTest(ProviderDiscord, map[string]any{"public_key": strings.Repeat("ab", 32)}, now); err == nil || !strings.Contains(err.Error(), "private key") {
		t.Errorf("discord: %v", err)
	}
}
