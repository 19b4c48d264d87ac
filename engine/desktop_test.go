package engine

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The desktop window reaches the engine in-process with full access and no
// token; the same routes over the network still need one.
func TestDesktopHandlerActsWithoutToken(t *testing.T) {
	t.Parallel()
	f := setup(t)
	win := httptest.NewServer(f.e.DesktopHandler())
	defer win.Close()

	res, err := http.Get(win.URL + "/api/millrun/whoami")
	if err != nil {
		t.Fatal(err)
	}
	var me map[string]any
	json.NewDecoder(res.Body).Decode(&me)
	res.Body.Close()
	if me["desktop"] != true || me["full_access"] != true || me["label"] != DesktopLabel {
		t.Fatalf("whoami in the window: %v", me)
	}

	res, _ = http.Get(f.srv.URL + "/api/millrun/whoami")
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("whoami over the network without a token: %d", res.StatusCode)
	}
	r := f.do("GET", "/api/millrun/whoami", "", "")
	if strings.Contains(r.body, `"desktop":true`) {
		t.Fatalf("a token's whoami claims the window: %s", r.body)
	}
}

// Wails' response writer cannot Flush; live updates must still arrive,
// because it passes every write straight to the page.
func TestLiveEventsWithoutFlusher(t *testing.T) {
	t.Parallel()
	f := setup(t)
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, w: pw}
	req := httptest.NewRequest("GET", "/api/millrun/jobs/events", nil)
	go func() {
		f.e.DesktopHandler().ServeHTTP(w, req)
		pw.Close()
	}()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	f.createScript("u/me/live", "bash", "main() { echo hi; }")
	go f.syncRun("u/me/live", "{}")
	deadline := time.After(15 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("event stream ended")
			}
			if strings.HasPrefix(l, "data:") && strings.Contains(l, "u/me/live") {
				return
			}
		case <-deadline:
			t.Fatal("no job event reached a writer without Flush")
		}
	}
}

type pipeWriter struct {
	header http.Header
	w      io.Writer
}

func (p *pipeWriter) Header() http.Header         { return p.header }
func (p *pipeWriter) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *pipeWriter) WriteHeader(int)             {}
