package guard

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/apierr"
)

// holder reads each body with ReadBody and, for /hold, keeps the request
// open until release is closed.
type holder struct {
	l       *Bodies
	holding chan struct{}
	release chan struct{}
}

func (h *holder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := ReadBody(r, 8<<20)
	if err != nil {
		apierr.Write(w, nil, err)
		return
	}
	if got, whole := Received(r.Context()); !whole || len(got) != len(body) {
		http.Error(w, "Received does not see the body", 500)
		return
	}
	if r.URL.Path == "/copy" {
		if err := Reserve(r.Context(), int64(len(body))); err != nil {
			apierr.Write(w, nil, err)
			return
		}
	}
	if r.URL.Path == "/hold" {
		h.holding <- struct{}{}
		<-h.release
	}
	fmt.Fprint(w, len(body))
}

func newHolder(t *testing.T, budget int64) (*holder, *httptest.Server) {
	t.Helper()
	h := &holder{l: &Bodies{Budget: budget, Timeout: 2 * time.Second}, holding: make(chan struct{}, 8), release: make(chan struct{})}
	srv := httptest.NewServer(h.l.Limit(h))
	t.Cleanup(srv.Close)
	return h, srv
}

func postN(url string, n int) (int, string) {
	res, err := http.Post(url, "application/octet-stream", bytes.NewReader(make([]byte, n)))
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// headersOnly sends a request that declares a body of n bytes and sends
// none of it, and returns the status of the answer, which must come at
// once: the body is refused before it is read.
func headersOnly(t *testing.T, url string, n int) int {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", n)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	res.Body.Close()
	return res.StatusCode
}

// The budget counts a body's buffer from before its first byte is read
// until the request is done: while two held bodies fill it, a third is
// refused without being read, and once they are done it fits again.
func TestBodiesHoldTheBudgetUntilTheRequestIsDone(t *testing.T) {
	t.Parallel()
	h, srv := newHolder(t, 2<<20)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, body := postN(srv.URL+"/hold", 700<<10); code != 200 {
				t.Errorf("a body within the budget: %d %s", code, body)
			}
		}()
		<-h.holding
	}
	if held := h.l.Held(); held != 2<<20 {
		t.Fatalf("two bodies of 700 KiB hold %d bytes of the budget, want their two 1 MiB buffers", held)
	}
	if code := headersOnly(t, srv.URL, 700<<10); code != http.StatusServiceUnavailable {
		t.Fatalf("a body past the budget: %d, want 503 before it is read", code)
	}
	close(h.release)
	wg.Wait()
	if code, body := postN(srv.URL+"/x", 700<<10); code != 200 || body != fmt.Sprint(700<<10) {
		t.Fatalf("the budget was not given back: %d %s", code, body)
	}
	// The kept buffers make room for a body of another size.
	if code, body := postN(srv.URL+"/x", 1536<<10); code != 200 || body != fmt.Sprint(1536<<10) {
		t.Fatalf("a 1.5 MiB body with the budget's buffers kept for reuse: %d %s", code, body)
	}
	if held := h.l.Held(); held > 2<<20 {
		t.Fatalf("%d bytes counted with nothing in use, budget 2 MiB", held)
	}
}

// A body declared larger than the limit is refused before it is read.
func TestBodiesRefuseADeclaredLengthOverTheLimitUnread(t *testing.T) {
	t.Parallel()
	_, srv := newHolder(t, 64<<20)
	if code := headersOnly(t, srv.URL, 9<<20); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a body over the limit: %d, want 413 before it is read", code)
	}
	if code, _ := postN(srv.URL+"/x", 9<<20); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a body over the limit, sent: %d, want 413", code)
	}
}

// A body of unknown length (chunked) grows one buffer within the budget
// and the limit; while it grows, the old and the new buffer both count.
func TestBodiesChunked(t *testing.T) {
	t.Parallel()
	h, srv := newHolder(t, 6<<20)
	post := func(n int) (int, string) {
		// A reader the client cannot measure: sent chunked.
		res, err := http.Post(srv.URL+"/x", "application/octet-stream", io.MultiReader(bytes.NewReader(make([]byte, n))))
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, n := range []int{0, 10, 300 << 10, 3 << 20} {
		if code, body := post(n); code != 200 || body != fmt.Sprint(n) {
			t.Errorf("chunked body of %d bytes: %d %s", n, code, body)
		}
	}
	if code, _ := post(5 << 20); code != http.StatusServiceUnavailable {
		t.Errorf("a chunked body past the budget: %d, want 503", code)
	}
	if held := h.l.Held(); held > 6<<20 {
		t.Errorf("%d bytes counted with nothing in use, budget 6 MiB", held)
	}
}

// Reused buffers never mix two requests' bodies, and what was counted is
// given back.
func TestBodiesReuseIsSafe(t *testing.T) {
	t.Parallel()
	l := &Bodies{Budget: 16 << 20}
	srv := httptest.NewServer(l.Limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := ReadBody(r, 4<<20)
		if err != nil {
			apierr.Write(w, nil, err)
			return
		}
		time.Sleep(time.Millisecond)
		want := body[0]
		for _, b := range body {
			if b != want {
				http.Error(w, "mixed body", 500)
				return
			}
		}
		w.WriteHeader(204)
	})))
	defer srv.Close()
	var wg sync.WaitGroup
	var busy atomic.Int64
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 8 {
				n := (64 << 10) + rand.IntN(2<<20)
				res, err := http.Post(srv.URL, "application/octet-stream", bytes.NewReader(bytes.Repeat([]byte{byte(i*8 + j)}, n)))
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				switch res.StatusCode {
				case 204:
				case 503:
					busy.Add(1)
				default:
					t.Errorf("%d", res.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	l.mu.Lock()
	inUse, held, pooled := l.inUse, l.held, l.pooled
	l.mu.Unlock()
	if inUse != 0 || held != pooled || held > l.Budget {
		t.Fatalf("after the requests: %d in use, %d held, %d kept", inUse, held, pooled)
	}
	t.Logf("%d of 128 told to retry", busy.Load())
}

// After a burst of large bodies, once nothing is in use, the kept
// buffers are dropped and Settle is called, once.
func TestBodiesSettleAfterABurst(t *testing.T) {
	t.Parallel()
	settled := make(chan struct{}, 4)
	h, srv := newHolder(t, 8<<20)
	h.l.Settle = func() { settled <- struct{}{} }
	h.l.settleAfter = 3 << 20
	if code, _ := postN(srv.URL+"/x", 1<<20); code != 200 {
		t.Fatal(code)
	}
	select {
	case <-settled:
		t.Fatal("settled after a body below the burst size")
	case <-time.After(settleQuiet + 300*time.Millisecond):
	}
	for _, n := range []int{1 << 20, 2 << 20, 3 << 20} { // the first reuses the kept buffer
		if code, _ := postN(srv.URL+"/x", n); code != 200 {
			t.Fatal(code)
		}
	}
	select {
	case <-settled:
	case <-time.After(settleQuiet + 2*time.Second):
		t.Fatal("not settled after the burst")
	}
	if held := h.l.Held(); held != 0 {
		t.Fatalf("%d bytes still counted after the settle", held)
	}
	select {
	case <-settled:
		t.Fatal("settled twice for one burst")
	case <-time.After(settleQuiet + 300*time.Millisecond):
	}
}

// A copy a handler must make of the body counts too, until the request is
// done.
func TestBodiesReserveCountsACopy(t *testing.T) {
	t.Parallel()
	h, srv := newHolder(t, 2<<20)
	if code, body := postN(srv.URL+"/copy", 700<<10); code != 200 {
		t.Fatalf("a body and its copy within the budget: %d %s", code, body)
	}
	if code, _ := postN(srv.URL+"/copy", 1200<<10); code != http.StatusServiceUnavailable {
		t.Fatalf("a body whose copy is past the budget: %d, want 503", code)
	}
	if held := h.l.Held(); held > 2<<20 {
		t.Fatalf("%d bytes counted with nothing in use", held)
	}
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	if h.l.inUse != 0 {
		t.Fatalf("%d bytes still in use", h.l.inUse)
	}
}
