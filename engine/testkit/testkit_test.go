package testkit

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The server sees the token, and a test can drop it or name another Host.
func TestClientSendsTheTokenAndTheHeadersAsked(t *testing.T) {
	t.Parallel()
	s := Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s|%s|%s|%s|%s", r.Header.Get("Authorization"), r.Host, r.Header.Get("Content-Type"), r.Header.Get("X-Trace"), b)
	}), "t0k")
	r := s.API.Do(t, "POST", "/x", "application/json", "{}", "X-Trace", "1")
	if r.Status != 200 || r.Body != "Bearer t0k|"+strings.TrimPrefix(s.URL, "http://")+"|application/json|1|{}" {
		t.Fatalf("with the token: %d %q", r.Status, r.Body)
	}
	if r := s.API.Do(t, "GET", "/x", "", "", "Authorization", "", "Host", "evil.example"); r.Body != "|evil.example|||" {
		t.Fatalf("without the token: %q", r.Body)
	}
	if _, err := (Client{URL: "http://127.0.0.1:9"}).Send("GET", "/", "", ""); err == nil {
		t.Fatal("a closed port answered")
	}
}

// A script's second version names the first as its parent, as Windmill
// requires; the hash the server answers comes back.
func TestCreateScriptNamesTheLatestVersionAsParent(t *testing.T) {
	t.Parallel()
	var saved []map[string]any
	s := Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "GET" && len(saved) > 0:
			fmt.Fprintf(w, `{"hash":"h%d"}`, len(saved))
		case r.Method == "GET":
			http.NotFound(w, r)
		default:
			var body map[string]any
			json.NewDecoder(r.Body).Decode(&body)
			saved = append(saved, body)
			w.WriteHeader(201)
			fmt.Fprintf(w, "h%d", len(saved))
		}
	}), "t0k")
	if h := s.API.CreateScript(t, "u/me/a", "bash", "echo 1\n"); h != "h1" {
		t.Fatalf("first hash %q", h)
	}
	if h := s.API.CreateScript(t, "u/me/a", "bash", "echo 2\n", "timeout", "5", "summary", "not json"); h != "h2" {
		t.Fatalf("second hash %q", h)
	}
	if _, ok := saved[0]["parent_hash"]; ok || saved[1]["parent_hash"] != "h1" || saved[1]["timeout"] != 5.0 || saved[1]["summary"] != "not json" {
		t.Fatalf("saved %v", saved)
	}
}

// failRecorder stands in for a test to see whether WaitUntil fails it.
type failRecorder struct {
	testing.TB
	failed string
}

func (f *failRecorder) Helper() {}
func (f *failRecorder) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
}

func TestWaitUntilReturnsOnceTheStateHolds(t *testing.T) {
	t.Parallel()
	var polls atomic.Int32
	rec := &failRecorder{TB: t}
	WaitUntil(rec, "the third poll", time.Second, func() bool { return polls.Add(1) == 3 })
	if rec.failed != "" || polls.Load() != 3 {
		t.Fatalf("failed %q after %d polls", rec.failed, polls.Load())
	}
}

func TestWaitUntilFailsNamingWhatItWaitedFor(t *testing.T) {
	t.Parallel()
	rec := &failRecorder{TB: t}
	start := time.Now()
	// A real test stops at Fatalf; the recorder does not, so ok ends the loop.
	WaitUntil(rec, "the moon", 50*time.Millisecond, func() bool { return rec.failed != "" })
	if rec.failed != "timed out after 50ms waiting for the moon" || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("failed %q after %s", rec.failed, time.Since(start))
	}
}

// While the lock is held a write waits; once it is let go the write goes on.
func TestHoldWriteLockMakesWritesWait(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/x.db"
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE t (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	release := HoldWriteLock(t, path)
	wrote := make(chan error, 1)
	go func() { _, err := db.Exec(`INSERT INTO t VALUES (1)`); wrote <- err }()
	select {
	case err := <-wrote:
		t.Fatalf("a write went through the held lock: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	release()
	if err := <-wrote; err != nil {
		t.Fatalf("the write after the lock was let go: %v", err)
	}
}
