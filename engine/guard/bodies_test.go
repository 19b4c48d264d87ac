package guard

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/testkit"
)

// holder reads each body with ReadBody and, for /hold, keeps the request
// open until release is closed. A request with an X-Auth header comes
// from a caller authenticated before its body; X-Caller names its caller.
type holder struct {
	l       *Bodies
	limit   int64
	reading atomic.Int64 // requests that reached ReadBody
	holding chan struct{}
	release chan struct{}
}

func (h *holder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Auth") != "" {
		Authenticated(r.Context())
	}
	h.reading.Add(1)
	body, err := ReadBody(r, h.limit)
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

func newHolder(t *testing.T, budget, limit int64) (*holder, *httptest.Server) {
	t.Helper()
	return newHolderTimeout(t, budget, limit, 2*time.Second)
}

func newHolderTimeout(t *testing.T, budget, limit int64, timeout time.Duration) (*holder, *httptest.Server) {
	t.Helper()
	h := &holder{l: &Bodies{Budget: budget, Timeout: timeout, Caller: func(r *http.Request) string { return r.Header.Get("X-Caller") }},
		limit: limit, holding: make(chan struct{}, 64), release: make(chan struct{})}
	srv := httptest.NewServer(h.l.Limit(h))
	t.Cleanup(srv.Close)
	return h, srv
}

// releaseOnce lets the held requests go, at once or when the test ends.
func (h *holder) releaseOnce(t *testing.T) func() {
	release := sync.OnceFunc(func() { close(h.release) })
	t.Cleanup(release)
	return release
}

// authed is the header of a caller authenticated before its body.
var authed = []string{"X-Auth", "1"}

func postN(url string, n int, hdr ...string) (int, string) {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(make([]byte, n)))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// openBody starts a request that declares a body of n bytes and sends
// none of it yet.
func openBody(t *testing.T, url string, n int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", n)
	return c
}

// headersOnly sends a request that declares a body of n bytes and sends
// none of it, and returns the status of the answer, which must come at
// once: the body is refused before it is read.
func headersOnly(t *testing.T, url string, n int) int {
	t.Helper()
	c := openBody(t, url, n)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	res.Body.Close()
	return res.StatusCode
}

// counts are the budget's counters: in use, in use by anonymous
// requests, and callers with something in use.
func (l *Bodies) counts() (inUse, anon int64, callers int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inUse, l.anon, len(l.callers)
}

// waitFor polls cond for up to 5 s.
// Security review finding 4: a body's declared length was counted from
// before its first byte, so callers who declared large bodies and sent
// nothing held the whole budget. A body holds what arrived of it: at most
// twice that while its buffer grows, and a first small buffer before.
func TestBodiesHoldOnlyWhatArrived(t *testing.T) {
	t.Parallel()
	// Long enough for the slowest machine to go through the slow sender.
	h, srv := newHolderTimeout(t, 8<<20, 8<<20, time.Minute)
	// Declared together, 14 times what anonymous callers may hold (4 MiB).
	for range 8 {
		openBody(t, srv.URL, 7<<20)
	}
	testkit.WaitUntil(t, "reading eight bodies", 5*time.Second, func() bool { return h.reading.Load() == 8 })
	testkit.WaitUntil(t, "counting their first buffers", 5*time.Second, func() bool { inUse, _, _ := h.l.counts(); return inUse >= 8*firstBuffer })
	if inUse, _, _ := h.l.counts(); inUse != 8*firstBuffer {
		t.Fatalf("eight bodies that sent nothing hold %d bytes, want %d", inUse, 8*firstBuffer)
	}
	if code, body := postN(srv.URL+"/x", 1<<20); code != 200 {
		t.Fatalf("a 1 MiB body while eight callers declare 56 MiB and send nothing: %d %s", code, body)
	}
	// A slow sender holds no more than twice what it sent.
	c := openBody(t, srv.URL, 7<<20)
	idle := int64(8 * firstBuffer)
	chunk := make([]byte, 256<<10)
	for sent := int64(len(chunk)); sent < 2<<20; sent += int64(len(chunk)) {
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
		testkit.WaitUntil(t, "reading what was sent", 5*time.Second, func() bool { inUse, _, _ := h.l.counts(); return inUse-idle >= sent })
		time.Sleep(20 * time.Millisecond)
		if inUse, _, _ := h.l.counts(); inUse-idle > 2*sent {
			t.Fatalf("a body %d bytes of which arrived holds %d", sent, inUse-idle)
		}
	}
}

// The budget counts a body's buffers from when they are made until the
// request is done: while two held bodies and the buffers of a third
// would pass it, the third is refused, and once they are done it fits.
func TestBodiesHoldTheBudgetUntilTheRequestIsDone(t *testing.T) {
	t.Parallel()
	h, srv := newHolder(t, 4<<20, 8<<20)
	release := h.releaseOnce(t)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, body := postN(srv.URL+"/hold", 700<<10, authed...); code != 200 {
				t.Errorf("a body within the budget: %d %s", code, body)
			}
		}()
		<-h.holding
	}
	if inUse, _, _ := h.l.counts(); inUse != 2<<20 {
		t.Fatalf("two bodies of 700 KiB hold %d bytes of the budget, want their two 1 MiB buffers", inUse)
	}
	// In two parts (1 MiB and 512 KiB), joined into one buffer of 2 MiB.
	if code, _ := postN(srv.URL+"/x", 1536<<10, authed...); code != http.StatusServiceUnavailable {
		t.Fatalf("a body past the budget: %d, want 503", code)
	}
	release()
	wg.Wait()
	if code, body := postN(srv.URL+"/x", 700<<10, authed...); code != 200 || body != fmt.Sprint(700<<10) {
		t.Fatalf("the budget was not given back: %d %s", code, body)
	}
	// The kept buffers make room for a body of another size.
	if code, body := postN(srv.URL+"/x", 1536<<10, authed...); code != 200 || body != fmt.Sprint(1536<<10) {
		t.Fatalf("a 1.5 MiB body with the budget's buffers kept for reuse: %d %s", code, body)
	}
	if held := h.l.Held(); held > 4<<20 {
		t.Fatalf("%d bytes counted with nothing in use, budget 4 MiB", held)
	}
}

// One anonymous caller holds at most its share; anonymous callers
// together at most what is not kept for authenticated ones, who still get
// through when the rest is full.
func TestBodiesShares(t *testing.T) {
	t.Parallel()
	// A quarter (8 MiB) kept for authenticated callers, an eighth (4 MiB)
	// for each anonymous one.
	h, srv := newHolder(t, 32<<20, 1<<20)
	release := h.releaseOnce(t)
	var wg sync.WaitGroup
	// flood has caller post n bodies of 1 MiB at once and returns how many
	// it holds once every other one was refused.
	flood := func(caller string, n int) int {
		answered := make(chan int, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, _ := postN(srv.URL+"/hold", 1<<20, "X-Caller", caller)
				answered <- code
			}()
		}
		held := 0
		for refused := 0; held+refused < n; {
			select {
			case <-h.holding:
				held++
			case code := <-answered:
				if code != http.StatusServiceUnavailable {
					t.Errorf("%s's body: %d, want 503 or held", caller, code)
				}
				refused++
			}
		}
		return held
	}
	if held := flood("a", 12); held < 1 || held > 4 {
		t.Fatalf("one caller posting 12 bodies of 1 MiB holds %d, want its share of 4 MiB", held)
	}
	if _, _, callers := h.l.counts(); callers != 1 {
		t.Fatalf("%d callers counted, want 1", callers)
	}
	// Eleven shares are more than the whole budget.
	for _, c := range []string{"b", "c", "d", "e", "f", "g", "h", "i", "j", "k"} {
		flood(c, 12)
	}
	if _, anon, _ := h.l.counts(); anon > 24<<20 {
		t.Fatalf("anonymous callers hold %d bytes, more than the 24 MiB not kept for authenticated ones", anon)
	}
	if code, body := postN(srv.URL+"/x", 1<<20, authed...); code != 200 {
		t.Fatalf("an authenticated 1 MiB body while anonymous callers hold their part: %d %s", code, body)
	}
	release()
	wg.Wait()
	if inUse, anon, callers := h.l.counts(); inUse != 0 || anon != 0 || callers != 0 {
		t.Fatalf("after the requests: %d in use, %d by anonymous callers, %d callers", inUse, anon, callers)
	}
}

// A body declared larger than the limit is refused before it is read.
func TestBodiesRefuseADeclaredLengthOverTheLimitUnread(t *testing.T) {
	t.Parallel()
	_, srv := newHolder(t, 64<<20, 8<<20)
	if code := headersOnly(t, srv.URL, 9<<20); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a body over the limit: %d, want 413 before it is read", code)
	}
	if code, _ := postN(srv.URL+"/x", 9<<20); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a body over the limit, sent: %d, want 413", code)
	}
}

// A body of unknown length (chunked) is read in parts within the budget
// and the limit; while they are joined, the parts and the joined buffer
// both count.
func TestBodiesChunked(t *testing.T) {
	t.Parallel()
	h, srv := newHolder(t, 6<<20, 8<<20)
	post := func(n int) (int, string) {
		// A reader the client cannot measure: sent chunked.
		req, _ := http.NewRequest("POST", srv.URL+"/x", io.MultiReader(bytes.NewReader(make([]byte, n))))
		req.Header.Set(authed[0], authed[1])
		res, err := http.DefaultClient.Do(req)
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
	if code, body := post(5 << 20); code != http.StatusServiceUnavailable {
		t.Errorf("a chunked body past the budget: %d, want 503 (%s)", code, body)
	}
	if held := h.l.Held(); held > 6<<20 {
		t.Errorf("%d bytes counted with nothing in use, budget 6 MiB", held)
	}
}

// A body in several parts is the body that was sent, joined or gone
// through part by part, of a declared length or chunked; the inspector
// sees the first part of one not joined, not as the whole body.
func TestBodiesParts(t *testing.T) {
	t.Parallel()
	l := &Bodies{Budget: 64 << 20}
	srv := httptest.NewServer(l.Limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts, err := ReadParts(r, 8<<20)
		if err != nil {
			apierr.Write(w, nil, err)
			return
		}
		sum := sha256.New()
		for _, p := range parts {
			sum.Write(p)
		}
		first, whole := Received(r.Context())
		if len(parts) > 1 && (whole || !bytes.Equal(first, parts[0])) {
			http.Error(w, "Received is not the first part", 500)
			return
		}
		body, err := Join(r, parts)
		if err != nil {
			apierr.Write(w, nil, err)
			return
		}
		if got, whole := Received(r.Context()); !whole || !bytes.Equal(got, body) {
			http.Error(w, "Received is not the joined body", 500)
			return
		}
		joined := sha256.Sum256(body)
		fmt.Fprintf(w, "%d %x %x", len(parts), sum.Sum(nil), joined)
	})))
	defer srv.Close()
	body := make([]byte, 3<<20+12345)
	for i := range body {
		body[i] = byte(i * 7 / 3)
	}
	want := sha256.Sum256(body)
	for _, chunked := range []bool{false, true} {
		var r io.Reader = bytes.NewReader(body)
		if chunked {
			r = io.MultiReader(r) // a reader the client cannot measure
		}
		res, err := http.Post(srv.URL, "application/octet-stream", r)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if w := fmt.Sprintf("4 %x %x", want, want); string(got) != w {
			t.Errorf("chunked %v: %s, want %s", chunked, got, w)
		}
	}
	if inUse, _, _ := l.counts(); inUse != 0 {
		t.Fatalf("%d bytes in use after the requests", inUse)
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
				if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
					// Refused while still sending: the server answers 503
					// and closes rather than read a body it will not keep,
					// so the client may see the close before the answer.
					busy.Add(1)
					continue
				}
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
	inUse, held, pooled, anon := l.inUse, l.held, l.pooled, l.anon
	l.mu.Unlock()
	if inUse != 0 || anon != 0 || held != pooled || held > l.Budget {
		t.Fatalf("after the requests: %d in use (%d anonymous), %d held, %d kept", inUse, anon, held, pooled)
	}
	t.Logf("%d of 128 told to retry", busy.Load())
}

// After a burst of large bodies, once nothing is in use, the kept
// buffers are dropped and Settle is called, once.
func TestBodiesSettleAfterABurst(t *testing.T) {
	t.Parallel()
	settled := make(chan struct{}, 4)
	h, srv := newHolder(t, 8<<20, 8<<20)
	h.l.Settle = func() { settled <- struct{}{} }
	h.l.settleAfter = 3 << 20
	if code, _ := postN(srv.URL+"/x", 1<<20, authed...); code != 200 {
		t.Fatal(code)
	}
	select {
	case <-settled:
		t.Fatal("settled after a body below the burst size")
	case <-time.After(settleQuiet + 300*time.Millisecond):
	}
	for _, n := range []int{1 << 20, 2 << 20, 3 << 20} { // the first reuses the kept buffer
		if code, _ := postN(srv.URL+"/x", n, authed...); code != 200 {
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
	h, srv := newHolder(t, 2<<20, 8<<20)
	if code, body := postN(srv.URL+"/copy", 700<<10, authed...); code != 200 {
		t.Fatalf("a body and its copy within the budget: %d %s", code, body)
	}
	if code, _ := postN(srv.URL+"/copy", 1200<<10, authed...); code != http.StatusServiceUnavailable {
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
