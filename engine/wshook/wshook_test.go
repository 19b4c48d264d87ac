package wshook

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/testkit"
)

type receiver struct {
	mu     sync.Mutex
	fails  int // answer 503 this many times first
	status int // then this (default 200)
	got    []map[string]any
	calls  int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.calls++
	if rc.fails > 0 {
		rc.fails--
		w.WriteHeader(503)
		return
	}
	ts, sig := r.Header.Get("X-Millrun-Timestamp"), r.Header.Get("X-Millrun-Signature")
	if sig != Sign("s3cret", ts, b) {
		w.WriteHeader(400)
		return
	}
	var ev map[string]any
	json.Unmarshal(b, &ev)
	rc.got = append(rc.got, ev)
	if rc.status != 0 {
		w.WriteHeader(rc.status)
	}
}

func (rc *receiver) state() (int, []map[string]any) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.calls, append([]map[string]any{}, rc.got...)
}

func start(t *testing.T, url *string) *Notifier {
	t.Helper()
	n := New(Config{Workspace: "local", Target: func() Target { return Target{URL: *url, Secret: "s3cret"} },
		RetryDelays: []time.Duration{5 * time.Millisecond, 5 * time.Millisecond}})
	n.Start()
	t.Cleanup(n.Stop)
	return n
}

// Events arrive signed, in order, named with the workspace; a server
// error is retried.
func TestEventsArriveSignedAfterRetries(t *testing.T) {
	t.Parallel()
	rc := &receiver{fails: 2}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	url := srv.URL
	n := start(t, &url)
	n.Send(map[string]any{"type": "CreateScript", "path": "u/me/a"})
	n.Send(map[string]any{"type": "UpdateScript", "path": "u/me/a"})
	testkit.WaitUntil(t, "both events sent", 5*time.Second, func() bool { _, got := rc.state(); return len(got) == 2 })
	_, got := rc.state()
	if got[0]["type"] != "CreateScript" || got[1]["type"] != "UpdateScript" || got[0]["workspace"] != "local" {
		t.Fatalf("events: %v", got)
	}
}

// A receiver that keeps failing is given up on after the retries; a 4xx
// is not retried (it will not improve); no URL sends nothing.
func TestGivesUpAndSkips(t *testing.T) {
	t.Parallel()
	rc := &receiver{fails: 100}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	url := srv.URL
	n := start(t, &url)
	n.Send(map[string]any{"type": "A"})
	testkit.WaitUntil(t, "the first try and two retries", 5*time.Second, func() bool { calls, _ := rc.state(); return calls == 3 })
	time.Sleep(50 * time.Millisecond)
	if calls, _ := rc.state(); calls != 3 {
		t.Fatalf("%d attempts, want 1 and 2 retries", calls)
	}

	bad := &receiver{status: 404}
	srv2 := httptest.NewServer(bad)
	defer srv2.Close()
	url2 := srv2.URL
	n2 := start(t, &url2)
	n2.Send(map[string]any{"type": "B"})
	testkit.WaitUntil(t, "the one try a 404 gets", 5*time.Second, func() bool { calls, _ := bad.state(); return calls == 1 })
	time.Sleep(50 * time.Millisecond)
	if calls, _ := bad.state(); calls != 1 {
		t.Fatalf("a 404 was retried: %d attempts", calls)
	}

	none := ""
	quiet := &receiver{}
	n3 := start(t, &none)
	n3.Send(map[string]any{"type": "C"})
	if calls, _ := quiet.state(); calls != 0 || len(n3.queue) != 0 {
		t.Fatal("an event was queued with no URL set")
	}
}

// Past the bound the oldest events are dropped, not memory grown.
func TestQueueIsBounded(t *testing.T) {
	t.Parallel()
	url := "http://127.0.0.1:1" // never delivered: the loop is not started
	n := New(Config{Target: func() Target { return Target{URL: url} }})
	for i := range maxQueued + 10 {
		n.Send(map[string]any{"n": i})
	}
	if len(n.queue) != maxQueued || n.queue[0]["n"] != 10 {
		t.Fatalf("queue holds %d, first %v", len(n.queue), n.queue[0]["n"])
	}
}

// The CLI, which has no delivery loop, sends its one event signed, at once.
func TestDeliverSendsOneSignedEventNow(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	if err := Deliver("local", Target{URL: srv.URL, Secret: "s3cret"}, map[string]any{"type": "CreateToken"}); err != nil {
		t.Fatal(err)
	}
	calls, got := rc.state()
	if calls != 1 || len(got) != 1 || got[0]["type"] != "CreateToken" || got[0]["workspace"] != "local" {
		t.Fatalf("delivered: %d calls, %v", calls, got)
	}
	if err := Deliver("local", Target{}, map[string]any{"type": "CreateToken"}); err != nil {
		t.Fatalf("no URL set: %v", err)
	}
}
