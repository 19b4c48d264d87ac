package triggers

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Providers whose signatures millrun verifies.
const (
	ProviderSlack    = "slack"
	ProviderDiscord  = "discord"
	ProviderGitHub   = "github"
	ProviderStandard = "standard"
	ProviderHMAC     = "hmac"
)

// Providers lists them for messages and the UI.
var Providers = []string{ProviderSlack, ProviderDiscord, ProviderGitHub, ProviderStandard, ProviderHMAC}

// timestampWindow bounds how old (or early) a signed timestamp may be:
// a captured request cannot be replayed later.
const timestampWindow = 5 * time.Minute

// refusal is why a request was not let in, in words for the inspector and
// the caller. It never holds a secret.
type refusal string

func (r refusal) Error() string { return string(r) }

func refusef(format string, a ...any) error { return refusal(fmt.Sprintf(format, a...)) }

// CheckSignatureHeaders refuses what can be refused before the body is
// read: signature headers missing or malformed for the provider's scheme,
// a timestamp out of the window, credentials the route lacks. Anonymous
// callers then cost no body at all; only a well-formed signature needs
// the body to be checked. VerifySignature applies it too.
func CheckSignatureHeaders(provider string, cred map[string]any, h http.Header, now time.Time) error {
	switch provider {
	case ProviderSlack:
		if str(cred, "secret") == "" {
			return refusef("the route's resource has no Slack signing secret (field \"secret\")")
		}
		ts, sig := h.Get("X-Slack-Request-Timestamp"), h.Get("X-Slack-Signature")
		if ts == "" || sig == "" {
			return refusef("missing X-Slack-Request-Timestamp or X-Slack-Signature: not a signed Slack request")
		}
		if err := checkTimestamp(ts, now); err != nil {
			return err
		}
		if !isHex(strings.TrimPrefix(sig, "v0="), sha256.Size) || !strings.HasPrefix(sig, "v0=") {
			return refusef("X-Slack-Signature is not v0= and 64 hex digits: not a Slack signature")
		}
	case ProviderGitHub:
		return checkHMACHeader(str(cred, "secret"), "X-Hub-Signature-256", "sha256=", sha256.Size, hexLen, h)
	case ProviderDiscord:
		key, err := hex.DecodeString(str(cred, "public_key"))
		if err != nil || len(key) != ed25519.PublicKeySize {
			return refusef("the route's resource has no valid Discord public key (field \"public_key\", 64 hex characters from the developer portal)")
		}
		sig, ts := h.Get("X-Signature-Ed25519"), h.Get("X-Signature-Timestamp")
		if sig == "" || ts == "" {
			return refusef("missing X-Signature-Ed25519 or X-Signature-Timestamp: not a signed Discord request")
		}
		if !isHex(sig, ed25519.SignatureSize) {
			return refusef("the Discord signature is not %d bytes of hex", ed25519.SignatureSize)
		}
	case ProviderStandard:
		if len(secrets(cred)) == 0 {
			return refusef("the route's resource has no whsec_ secret (field \"secret\", or \"secrets\" during a rotation)")
		}
		id, ts, sigs := standardHeaders(h)
		if id == "" || ts == "" || sigs == "" {
			return refusef("missing webhook-id, webhook-timestamp or webhook-signature: not a signed Standard Webhooks request")
		}
		if err := checkTimestamp(ts, now); err != nil {
			return err
		}
		if !strings.Contains(sigs, "v1,") {
			return refusef("webhook-signature holds no v1 signature")
		}
	case ProviderHMAC:
		sc, err := genericScheme(cred)
		if err != nil {
			return err
		}
		return checkHMACHeader(str(cred, "secret"), sc.header, sc.prefix, sc.size, sc.encodedLen, h)
	default:
		return refusef("unknown signature provider %q (use one of %s)", provider, strings.Join(Providers, ", "))
	}
	return nil
}

// VerifySignature checks body (the exact bytes received) against the
// provider's signature headers with the credentials cred.
func VerifySignature(provider string, cred map[string]any, h http.Header, body []byte, now time.Time) error {
	return VerifySignatureParts(provider, cred, h, [][]byte{body}, now)
}

// VerifySignatureParts is VerifySignature of a body in parts, one after
// the other, as guard.ReadParts leaves it: the HMACs hash them where they
// are; Discord's Ed25519 copies them into one message.
func VerifySignatureParts(provider string, cred map[string]any, h http.Header, body [][]byte, now time.Time) error {
	if err := CheckSignatureHeaders(provider, cred, h, now); err != nil {
		return err
	}
	switch provider {
	case ProviderSlack:
		return verifySlack(str(cred, "secret"), h, body, now)
	case ProviderGitHub:
		return verifyHMACHeader(str(cred, "secret"), "X-Hub-Signature-256", "sha256=", sha256.New, hex.EncodeToString, h, body)
	case ProviderDiscord:
		return verifyDiscord(str(cred, "public_key"), h, body)
	case ProviderStandard:
		return verifyStandard(secrets(cred), h, body, now)
	case ProviderHMAC:
		return verifyGeneric(cred, h, body)
	}
	return refusef("unknown signature provider %q (use one of %s)", provider, strings.Join(Providers, ", "))
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func secrets(m map[string]any) []string {
	var out []string
	if s := str(m, "secret"); s != "" {
		out = append(out, s)
	}
	if list, ok := m["secrets"].([]any); ok {
		for _, v := range list {
			if s, ok := v.(string); ok && s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// mac is the HMAC of the parts one after the other: a signed prefix and
// the body are hashed where they are, never copied into one message.
func mac(newHash func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(newHash, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

func isHex(s string, bytes int) bool {
	if len(s) != 2*bytes {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func hexLen(n int) int { return hex.EncodedLen(n) }

// checkHMACHeader refuses a missing secret, and a signature header that
// is absent or cannot be an encoded digest of size bytes.
func checkHMACHeader(secret, header, prefix string, size int, encodedLen func(int) int, h http.Header) error {
	if secret == "" {
		return refusef("the route's resource has no secret (field \"secret\")")
	}
	sig := h.Get(header)
	if sig == "" {
		return refusef("missing %s: the request is not signed", header)
	}
	if !strings.HasPrefix(sig, prefix) || len(sig) != len(prefix)+encodedLen(size) {
		return refusef("%s is not %s and a %d-byte digest: the request is not signed this way", header, prefix, size)
	}
	return nil
}

func checkTimestamp(ts string, now time.Time) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return refusef("the signature timestamp %q is not a number", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > timestampWindow || d < -timestampWindow {
		return refusef("the signature timestamp is %s off this computer's clock (more than 5 minutes): a replayed request, or a wrong clock", d.Round(time.Second).Abs())
	}
	return nil
}

// Slack: v0=hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)).
func verifySlack(secret string, h http.Header, body [][]byte, now time.Time) error {
	if secret == "" {
		return refusef("the route's resource has no Slack signing secret (field \"secret\")")
	}
	ts, sig := h.Get("X-Slack-Request-Timestamp"), h.Get("X-Slack-Signature")
	if ts == "" || sig == "" {
		return refusef("missing X-Slack-Request-Timestamp or X-Slack-Signature: not a signed Slack request")
	}
	if err := checkTimestamp(ts, now); err != nil {
		return err
	}
	want := "v0=" + hex.EncodeToString(mac(sha256.New, []byte(secret), append([][]byte{[]byte("v0:" + ts + ":")}, body...)...))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return refusef("the Slack signature does not match (wrong signing secret, or the body was changed)")
	}
	return nil
}

func verifyHMACHeader(secret, header, prefix string, newHash func() hash.Hash, encode func([]byte) string, h http.Header, body [][]byte) error {
	if secret == "" {
		return refusef("the route's resource has no secret (field \"secret\")")
	}
	sig := h.Get(header)
	if sig == "" {
		return refusef("missing %s: the request is not signed", header)
	}
	want := prefix + encode(mac(newHash, []byte(secret), body...))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return refusef("the %s signature does not match (wrong secret, or the body was changed)", header)
	}
	return nil
}

// Discord: Ed25519 over timestamp + body with the application's public key.
func verifyDiscord(publicKey string, h http.Header, body [][]byte) error {
	key, err := hex.DecodeString(publicKey)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return refusef("the route's resource has no valid Discord public key (field \"public_key\", 64 hex characters from the developer portal)")
	}
	sigHex, ts := h.Get("X-Signature-Ed25519"), h.Get("X-Signature-Timestamp")
	if sigHex == "" || ts == "" {
		return refusef("missing X-Signature-Ed25519 or X-Signature-Timestamp: not a signed Discord request")
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return refusef("the Discord signature is not %d bytes of hex", ed25519.SignatureSize)
	}
	size := len(ts)
	for _, p := range body {
		size += len(p)
	}
	msg := append(make([]byte, 0, size), ts...)
	for _, p := range body {
		msg = append(msg, p...)
	}
	if !ed25519.Verify(ed25519.PublicKey(key), msg, sig) {
		return refusef("the Discord signature does not match (wrong public key, or the body was changed)")
	}
	return nil
}

// Standard Webhooks (and Svix): base64(HMAC-SHA256(key, id.timestamp.body))
// in a space-separated list of "v1,<sig>"; whsec_ secrets, several during
// a key rotation.
func verifyStandard(secrets []string, h http.Header, body [][]byte, now time.Time) error {
	if len(secrets) == 0 {
		return refusef("the route's resource has no whsec_ secret (field \"secret\", or \"secrets\" during a rotation)")
	}
	id, ts, sigs := standardHeaders(h)
	if id == "" || ts == "" || sigs == "" {
		return refusef("missing webhook-id, webhook-timestamp or webhook-signature: not a signed Standard Webhooks request")
	}
	if err := checkTimestamp(ts, now); err != nil {
		return err
	}
	prefix := []byte(id + "." + ts + ".")
	for _, secret := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil {
			return refusef("a secret in the route's resource is not a whsec_ base64 secret")
		}
		want := []byte(base64.StdEncoding.EncodeToString(mac(sha256.New, key, append([][]byte{prefix}, body...)...)))
		for _, s := range strings.Fields(sigs) {
			v, sig, ok := strings.Cut(s, ",")
			if ok && v == "v1" && subtle.ConstantTimeCompare([]byte(sig), want) == 1 {
				return nil
			}
		}
	}
	return refusef("no webhook-signature matches (wrong secret, or the body was changed)")
}

// standardHeaders are Standard Webhooks' id, timestamp and signatures,
// or Svix's names for them.
func standardHeaders(h http.Header) (id, ts, sigs string) {
	id, ts, sigs = h.Get("Webhook-Id"), h.Get("Webhook-Timestamp"), h.Get("Webhook-Signature")
	if id == "" {
		id, ts, sigs = h.Get("Svix-Id"), h.Get("Svix-Timestamp"), h.Get("Svix-Signature")
	}
	return id, ts, sigs
}

// Generic HMAC over the body: header, algorithm (sha256, sha1, sha512),
// encoding (hex, base64) and an optional prefix such as "sha256=".
func verifyGeneric(cred map[string]any, h http.Header, body [][]byte) error {
	sc, err := genericScheme(cred)
	if err != nil {
		return err
	}
	return verifyHMACHeader(str(cred, "secret"), sc.header, sc.prefix, sc.newHash, sc.encode, h, body)
}

// hmacScheme is how a generic HMAC route signs: verifying and signing a
// test request read it from the same place.
type hmacScheme struct {
	header, prefix string
	newHash        func() hash.Hash
	size           int // the digest's bytes
	encode         func([]byte) string
	encodedLen     func(int) int
}

func genericScheme(cred map[string]any) (hmacScheme, error) {
	sc := hmacScheme{header: str(cred, "header"), prefix: str(cred, "prefix")}
	if sc.header == "" {
		return sc, refusef("the route's resource names no signature header (field \"header\")")
	}
	switch alg := strings.ToLower(str(cred, "algorithm")); alg {
	case "", "sha256":
		sc.newHash, sc.size = sha256.New, sha256.Size
	case "sha1":
		sc.newHash, sc.size = sha1.New, sha1.Size
	case "sha512":
		sc.newHash, sc.size = sha512.New, sha512.Size
	default:
		return sc, refusef("unknown HMAC algorithm %q (use sha256, sha1 or sha512)", alg)
	}
	switch enc := strings.ToLower(str(cred, "encoding")); enc {
	case "", "hex":
		sc.encode, sc.encodedLen = hex.EncodeToString, hexLen
	case "base64":
		sc.encode, sc.encodedLen = base64.StdEncoding.EncodeToString, base64.StdEncoding.EncodedLen
	default:
		return sc, refusef("unknown signature encoding %q (use hex or base64)", enc)
	}
	return sc, nil
}
