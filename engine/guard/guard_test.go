package guard

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func ok(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// Management routes answer only this machine's names and refuse a
// browser's cross-site writes; millrun's own requests pass.
func TestLocal(t *testing.T) {
	t.Parallel()
	trusted := func(ctx context.Context) bool { return ctx.Value("inside") == true }
	h := Local(nil, []string{"myhost.lan"}, trusted)(http.HandlerFunc(ok))
	for _, c := range []struct {
		name, method, host, origin string
		inside                     bool
		want                       int
	}{
		{"loopback read", "GET", "127.0.0.1:8700", "", false, 204},
		{"allowed host", "GET", "myhost.lan:8700", "", false, 204},
		{"rebinding name", "GET", "evil.example:8700", "", false, 403},
		{"same-origin write", "POST", "localhost:8700", "http://localhost:8700", false, 204},
		{"cross-site write", "POST", "localhost:8700", "http://localhost:3000", false, 403},
		{"millrun's own request", "POST", "evil.example", "http://x", true, 204},
	} {
		r := httptest.NewRequest(c.method, "/api/millrun/settings", nil)
		r.Host = c.host
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if c.inside {
			r = r.WithContext(context.WithValue(r.Context(), "inside", true))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s: %d, want %d (%s)", c.name, w.Code, c.want, w.Body.String())
		}
	}
}

// A query string that does not parse is refused, not half-read.
func TestQuery(t *testing.T) {
	t.Parallel()
	h := Query(nil)(http.HandlerFunc(ok))
	for q, want := range map[string]int{"a=1&b=2": 204, "a=%zz": 400, "a=1;b=2": 400} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/api/w/local/jobs/run/p/u/me/x?"+q, nil))
		if w.Code != want {
			t.Errorf("?%s: %d, want %d", q, w.Code, want)
		}
	}
}

// Bodies read together may not pass the budget; what a finished request
// held is given back; a caller too slow to send its body is cut off.
func TestBodies(t *testing.T) {
	t.Parallel()
	// Half of it is kept for authenticated callers: 1000 bytes for these.
	l := &Bodies{Budget: 2000, Timeout: 300 * time.Millisecond}
	srv := httptest.NewServer(l.Limit(http.HandlerFunc(ok)))
	defer srv.Close()
	post := func(body io.Reader) int {
		res, err := http.Post(srv.URL, "application/octet-stream", body)
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := post(strings.NewReader(strings.Repeat("x", 900))); code != 204 {
		t.Fatalf("a body within the budget: %d", code)
	}
	if code := post(strings.NewReader(strings.Repeat("x", 900))); code != 204 {
		t.Fatalf("the budget was not given back after a request: %d", code)
	}
	if code := post(strings.NewReader(strings.Repeat("x", 2000))); code != 503 {
		t.Fatalf("a body over the budget: %d", code)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("slow"))
		time.Sleep(2 * time.Second)
		pw.Close()
	}()
	start := time.Now()
	post(pr)
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Fatalf("a caller too slow to send its body held the request for %s", took)
	}
}
