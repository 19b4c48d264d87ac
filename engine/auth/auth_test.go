package auth

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/apierr"
)

func TestFromRequestOrder(t *testing.T) {
	t.Parallel()
	r, _ := http.NewRequest("GET", "/x?token=query", nil)
	if FromRequest(r) != "query" {
		t.Fatal("query token not read")
	}
	r.AddCookie(&http.Cookie{Name: "token", Value: "cookie"})
	if FromRequest(r) != "query" {
		t.Fatal("a cookie without proof of the same origin must not count")
	}
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	if FromRequest(r) != "cookie" {
		t.Fatal("cookie should win over the query")
	}
	r.Header.Set("Authorization", "bearer header")
	if FromRequest(r) != "header" {
		t.Fatal("the header should win, case-insensitively")
	}
}

func TestScopes(t *testing.T) {
	t.Parallel()
	id := &Identity{Scopes: []string{"jobs:run:scripts:u/me/hook", "run:flow/f/x/y", "jobs:run:scripts:f/ops/*"}}
	for _, c := range []struct {
		kind, path string
		ok         bool
	}{
		{KindScript, "u/me/hook", true}, {KindScript, "u/me/hook2", false}, {KindFlow, "f/x/y", true},
		{KindScript, "f/x/y", false}, {KindScript, "f/ops/deploy", true}, {KindFlow, "f/ops/deploy", false},
	} {
		if id.CanRun(c.kind, c.path) != c.ok {
			t.Errorf("%s %s: want %v", c.kind, c.path, c.ok)
		}
	}
	for s, ok := range map[string]bool{"*": true, "jobs:run:scripts:u/a/b": true, "run:script/u/a/b": true, "admin": false, "jobs:run:scripts:": false} {
		if ValidScope(s) != ok {
			t.Errorf("ValidScope(%q) != %v", s, ok)
		}
	}
}

func TestRateLimiter(t *testing.T) {
	t.Parallel()
	l := NewRateLimiter(2, 3)
	now := time.Unix(0, 0)
	l.now = func() time.Time { return now }
	for i := range 3 {
		if ok, _ := l.Allow(1); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	if ok, wait := l.Allow(1); ok || wait != 1 {
		t.Fatalf("past the burst: ok=%v wait=%d", ok, wait)
	}
	if ok, _ := l.Allow(2); !ok {
		t.Fatal("another token shares the bucket")
	}
	now = now.Add(time.Second)
	if ok, _ := l.Allow(1); !ok {
		t.Fatal("the bucket did not refill")
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"/a?token=SECRET&x=1":     "/a?token=[redacted]&x=1",
		"/a?token=SECRET;x=1":     "/a?token=[redacted]&x=1",
		"/a?x=%zz&%74oken=SECRET": "/a?x=%zz&token=[redacted]",
		"/a?x=1":                  "/a?x=1",
		"/a?TOKEN=SECRET":         "/a?TOKEN=[redacted]",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := RedactRawQuery(u); got != want || strings.Contains(got, "SECRET") {
			t.Errorf("%s: got %s, want %s", raw, got, want)
		}
	}
}

// The session cookie counts only on requests from millrun's own origin.
func TestCookieOnlySameOrigin(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		hdr  []string
		want bool
	}{
		{[]string{"Sec-Fetch-Site", "same-origin"}, true},
		{[]string{"Sec-Fetch-Site", "none"}, false}, // a link opened from outside the browser
		{[]string{"Sec-Fetch-Mode", "navigate"}, false},
		{[]string{"Accept", "text/html,*/*;q=0.8"}, false},
		{[]string{"Sec-Fetch-Site", "same-site"}, false}, // another port on 127.0.0.1
		{[]string{"Sec-Fetch-Site", "cross-site"}, false},
		{[]string{"Origin", "http://127.0.0.1:8700"}, true},
		{[]string{"Origin", "http://127.0.0.1:9999"}, false},
		{[]string{"Origin", "https://127.0.0.1:8700"}, false},
		{[]string{"Origin", "null"}, false},
		{[]string{"Origin", "null", "Sec-Fetch-Site", "same-origin"}, false}, // a sandboxed page of millrun's own
		{[]string{"Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "navigate"}, false},
		{[]string{"Sec-Fetch-Site", "same-origin", "Sec-Fetch-Dest", "iframe"}, false},
		{[]string{"Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty"}, true},
		{nil, false}, // no evidence: an <img> from an old browser looks like this
	} {
		r, _ := http.NewRequest("POST", "http://127.0.0.1:8700/api/w/local/jobs/run/p/u/a/b", nil)
		r.Header.Set("Cookie", "token=SESSION")
		for i := 0; i+1 < len(c.hdr); i += 2 {
			r.Header.Set(c.hdr[i], c.hdr[i+1])
		}
		if got := FromRequest(r) == "SESSION"; got != c.want {
			t.Errorf("%v: cookie honoured %v, want %v", c.hdr, got, c.want)
		}
	}
}

func FuzzFromRequest(f *testing.F) {
	f.Add("Bearer abc", "token=x", "c")
	f.Add("bearer", "", "")
	f.Add("Basic Zm9vOmJhcg==", "token=%zz", "")
	f.Fuzz(func(t *testing.T, header, query, cookie string) {
		r, err := http.NewRequest("GET", "/x?"+query, nil)
		if err != nil {
			return
		}
		r.Header.Set("Authorization", header)
		if cookie != "" {
			r.Header.Set("Cookie", "token="+cookie)
		}
		tok := FromRequest(r)
		if len(tok) > len(header)+len(query)+len(cookie) {
			t.Fatalf("token %q longer than its sources", tok)
		}
		_ = CrossSite(r)
		_ = LocalHost(header, nil)
	})
}

// A refused token is told which of its caller's mistakes it is, under
// Windmill's fixed 401 body; a failure that is not the caller's is not
// dressed up as one.
func TestRefusal(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		hint string
	}{
		{ErrNoToken, "no token; send it as Authorization: Bearer <token> or ?token=<token>"},
		{ErrBadToken, "this token is not known to millrun (mistyped, or from another millrun)"},
		{ErrExpired, "the token has expired"},
		{&RevokedError{At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, (&RevokedError{At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}).Error()},
	} {
		var e *apierr.Error
		if !errors.As(Refusal(c.err), &e) || e.Status != 401 || e.Error() != "Not authorized: Unauthorized" || e.Hint != c.hint {
			t.Errorf("%v: %#v, want 401 hinting %q", c.err, e, c.hint)
		}
	}
	disk := errors.New("disk full")
	if err := Refusal(disk); err != disk {
		t.Errorf("a database failure became %v", err)
	}
}
