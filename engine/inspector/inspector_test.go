package inspector

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/testkit"
)

// fixture: a recorder in front of a stand-in route handler, its routes on
// a mux that lets everyone through as full access.
type fixture struct {
	t       *testing.T
	db      *store.DB
	rec     *Recorder
	srv     *httptest.Server
	replays chan bool // ofRefused of each replayed request the route saw
}

// route stands in for a webhook route: /ok reads the body and answers
// with a job; /secret answers after naming its API-key header; /refused
// reads the body and refuses it, as a failed signature check does.
func (f *fixture) route(w http.ResponseWriter, r *http.Request) {
	if replayed, ofRefused := reqctx.IsReplay(r.Context()); replayed {
		f.replays <- ofRefused
	}
	switch r.URL.Path {
	case "/api/r/ok":
		b, _ := io.ReadAll(r.Body)
		ReportRoute(r.Context(), "ok", true, "route's own check")
		w.Header().Set("X-Millrun-Job-Id", "job-1")
		w.Write([]byte(`{"got":` + string(b) + `}`))
	case "/api/r/secret":
		if o := OutcomeOf(r.Context()); o != nil {
			o.SecretHeaders = append(o.SecretHeaders, "X-Api-Key")
		}
		ReportRoute(r.Context(), "secret", true, "api key")
	default:
		io.ReadAll(r.Body)
		ReportRoute(r.Context(), "refused", false, "bad signature")
		http.Error(w, "Unauthorized: bad signature", http.StatusUnauthorized)
	}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, replays: make(chan bool, 4)}
	handler := http.HandlerFunc(f.route)
	f.rec = New(Config{DB: db, Retention: func() (time.Duration, int) { return time.Hour, 1000 },
		Serve: func(w http.ResponseWriter, r *http.Request, as *auth.Identity) {
			f.rec.Record(handler).ServeHTTP(w, r)
		}})
	f.rec.Start()
	mux := http.NewServeMux()
	f.rec.Register(asMe{mux})
	mux.Handle("/api/r/", f.rec.Record(handler))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.srv.Close()
		f.rec.Stop()
		db.Close()
	})
	return f
}

func (f *fixture) send(method, path, body string, hdr ...string) *http.Response {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *fixture) getJSON(path string, v any) {
	f.t.Helper()
	res := f.send("GET", path, "")
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		f.t.Fatal(err)
	}
}

// latest waits for n records and returns them, newest first.
func (f *fixture) latest(n int) []map[string]any {
	f.t.Helper()
	var list []map[string]any
	testkit.WaitUntil(f.t, fmt.Sprintf("%d requests recorded", n), 5*time.Second, func() bool {
		list = nil
		f.getJSON("/api/millrun/requests", &list)
		return len(list) >= n
	})
	return list
}

// A request is kept with what it sent and what it got: status, the
// route's decision, its job, the body it read, its answer; credentials
// are redacted, the route's own API-key header too.
func TestRecordsWhatCameAndWhatWentBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.send("POST", "/api/r/ok?token=abc&x=1", `{"n":1}`, "Authorization", "Bearer s3cret", "X-Trace", "t-1").Body.Close()
	f.send("POST", "/api/r/secret", "", "X-Api-Key", "k3y").Body.Close()
	list := f.latest(2)
	ok, secret := list[1], list[0]
	if ok["status"].(float64) != 200 || ok["route"] != "ok" || ok["auth_ok"] != true || ok["auth_reason"] != "route's own check" || ok["job_id"] != "job-1" {
		t.Fatalf("record: %v", ok)
	}
	if strings.Contains(ok["url"].(string), "abc") {
		t.Fatalf("url %v", ok["url"])
	}
	h := ok["headers"].(map[string]any)
	if h["Authorization"] != "[redacted]" || h["X-Trace"] != "t-1" {
		t.Fatalf("headers: %v", h)
	}
	if secret["headers"].(map[string]any)["X-Api-Key"] != "[redacted]" {
		t.Fatalf("the route's API key was kept: %v", secret["headers"])
	}
	var one map[string]any
	f.getJSON("/api/millrun/requests/"+jsonNumber(ok["id"]), &one)
	if one["body"] != `{"n":1}` || one["response"] != `{"got":{"n":1}}` {
		t.Fatalf("body %v, response %v", one["body"], one["response"])
	}
}

// A refused request keeps why, and only the start of what a forger sent.
func TestRefusedRequestsKeepLittle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.send("POST", "/api/r/forged", strings.Repeat("x", 64<<10)).Body.Close()
	rec := f.latest(1)[0]
	if rec["auth_ok"] != false || rec["auth_reason"] != "bad signature" || rec["status"].(float64) != 401 {
		t.Fatalf("refused record: %v", rec)
	}
	var one map[string]any
	f.getJSON("/api/millrun/requests/"+jsonNumber(rec["id"]), &one)
	if b, _ := one["body"].(string); len(b) > refusedBodyLimit {
		t.Fatalf("kept %d bytes of a refused body", len(b))
	}
}

// A replay goes through the route again, marked as a replay (the route
// skips its own checks for it) and recorded as one; a refused request is
// replayed only when the user confirms.
func TestReplay(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.send("POST", "/api/r/ok", `{"n":2}`).Body.Close()
	orig := f.latest(1)[0]
	res := f.send("POST", "/api/millrun/requests/"+jsonNumber(orig["id"])+"/replay", "")
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	res.Body.Close()
	if out["status"].(float64) != 200 || out["job_id"] != "job-1" || !strings.Contains(out["body"].(string), `"n":2`) {
		t.Fatalf("replay answered %v", out)
	}
	if ofRefused := <-f.replays; ofRefused {
		t.Fatal("a replay of an accepted request was marked as of a refused one")
	}
	if replay := f.latest(2)[0]; replay["replay_of"] != orig["id"] {
		t.Fatalf("the replay's record: %v", replay)
	}

	f.send("POST", "/api/r/forged", `{"n":3}`).Body.Close()
	refused := f.latest(3)[0]
	res = f.send("POST", "/api/millrun/requests/"+jsonNumber(refused["id"])+"/replay", "")
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusConflict || !strings.Contains(string(b), "run_refused") {
		t.Fatalf("unconfirmed replay of a refused request: %d %s", res.StatusCode, b)
	}
	f.send("POST", "/api/millrun/requests/"+jsonNumber(refused["id"])+"/replay", `{"run_refused":true}`).Body.Close()
	if ofRefused := <-f.replays; !ofRefused {
		t.Fatal("a confirmed replay of a refused request was not marked so")
	}
	if r := f.latest(4)[0]; !strings.Contains(r["auth_reason"].(string), "confirmed from the UI") {
		t.Fatalf("the confirmed replay's record: %v", r)
	}
}

// The live feed sends each record as it is written.
func TestLiveFeed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/api/millrun/requests/events", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	f.send("POST", "/api/r/ok", `{"n":4}`).Body.Close()
	buf := make([]byte, 4096)
	got := ""
	for !strings.Contains(got, "event: request") || !strings.Contains(got, `"route":"ok"`) {
		n, err := res.Body.Read(buf)
		if err != nil {
			t.Fatalf("feed ended: %v (%q)", err, got)
		}
		got += string(buf[:n])
	}
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// asMe mounts routes that act as a full-access caller, as the engine's
// full-access group lets through.
type asMe struct{ mux *http.ServeMux }

func (m asMe) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		h(w, r.WithContext(reqctx.WithIdentity(r.Context(), &auth.Identity{Label: "me"})))
	})
}
