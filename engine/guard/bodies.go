package guard

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/millrun/millrun/engine/apierr"
)

// bodyReadTimeout is how long a caller may take to send a request body,
// unless Config says otherwise.
const bodyReadTimeout = 60 * time.Second

// Bodies bounds how long a body may take to arrive and how much memory
// the bodies of all requests together may hold, and makes sure a body the
// handler did not read (a refused request) is not waited for afterwards.
// It reads nothing itself, so it may sit outside authentication.
//
// The budget counts memory, not bytes read: a body read with ReadBody
// lives in a buffer whose whole size is counted from before the first
// byte is read (its declared length is known) until the request is done,
// and a buffer kept for reuse stays counted until it is dropped. Reading
// a body costs one buffer, never the several copies of a growing one.
type Bodies struct {
	// Budget is the bytes all bodies together may hold.
	Budget int64
	// Timeout is how long a caller may take to send its body (0: 60 s).
	Timeout time.Duration
	// Settle is called once after a burst of large bodies, when their
	// memory is free again: the place to hand it back to the system
	// (nil: nothing is called).
	Settle func()

	// settleAfter is settleAfter's value unless a test sets it.
	settleAfter int64

	mu     sync.Mutex
	held   int64 // in use and pooled
	inUse  int64
	grown  int64 // bytes of buffers made since the last settle
	pooled int64
	pool   map[int][][]byte // free buffers by capacity
	timer  *time.Timer
}

// Sizes that decide how buffers are reused and when memory is handed back.
const (
	// poolMin: smaller buffers are not kept for reuse (the garbage
	// collector handles them well); larger ones are rounded up to a
	// power of two below poolStep and to a multiple of it above.
	poolMin  = 64 << 10
	poolStep = 1 << 20
	// settleAfter: a burst that made at least this much in buffers is
	// followed, once settleQuiet has passed with at most quietInUse in
	// use, by dropping the kept buffers and calling Settle.
	settleAfter = 8 << 20
	settleQuiet = time.Second
	quietInUse  = 1 << 20
)

// Limit wraps next with the limits.
func (l *Bodies) Limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		// A deadline left in place would also end the server's background
		// read that notices a caller hanging up, so it is cleared at EOF.
		timeout := l.Timeout
		if timeout <= 0 {
			timeout = bodyReadTimeout
		}
		_ = rc.SetReadDeadline(time.Now().Add(timeout))
		b := &budgetedBody{ReadCloser: r.Body, l: l, rc: rc, declared: r.ContentLength}
		// A copy of the request carries the wrapped body: the server
		// looks at its own request's body afterwards to close a
		// connection whose body was left unread gracefully (the answer
		// first, then the connection), not with a reset that can take
		// the answer with it.
		r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, b))
		r.Body = b
		defer b.release()
		next.ServeHTTP(w, r)
		if !b.eof {
			// The server drains an unread body before answering, which a
			// slow or endless refused body would stretch: a deadline in
			// the past makes that drain fail at once and the server close
			// the connection instead.
			_ = rc.SetReadDeadline(time.Now())
		}
	})
}

// errBodyBudget is what a body read returns while the bodies held
// together would exceed the budget: the caller is told to come back.
var errBodyBudget = apierr.Unavailable(5, "millrun is receiving too many large request bodies at once; retry shortly")

// reserve counts n more bytes in use, dropping kept buffers if that makes
// room; false when even that does not.
func (l *Bodies) reserve(n int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.held+n > l.Budget && l.pooled > 0 {
		l.dropOne()
	}
	if l.held+n > l.Budget {
		return false
	}
	l.held += n
	l.inUse += n
	return true
}

// unreserve gives back n bytes in use; their memory is garbage now.
func (l *Bodies) unreserve(n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held -= n
	l.inUse -= n
	l.maybeSettle()
}

// get returns a buffer of at least n bytes (its capacity counted in use),
// a kept one when there is one of its size.
func (l *Bodies) get(n int) ([]byte, bool) {
	c := sizeClass(n)
	l.mu.Lock()
	if free := l.pool[c]; len(free) > 0 {
		buf := free[len(free)-1]
		l.pool[c] = free[:len(free)-1]
		l.pooled -= int64(c)
		l.inUse += int64(c)
		l.mu.Unlock()
		return buf[:n], true
	}
	l.mu.Unlock()
	if !l.reserve(int64(c)) {
		return nil, false
	}
	l.mu.Lock()
	l.grown += int64(c)
	l.mu.Unlock()
	return make([]byte, n, c), true
}

// put takes back a buffer get returned: kept for the next body of its
// size (still counted) or, when too small to be worth it, uncounted.
func (l *Bodies) put(buf []byte) {
	c := cap(buf)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inUse -= int64(c)
	if c >= poolMin && c == sizeClass(c) {
		if l.pool == nil {
			l.pool = map[int][][]byte{}
		}
		l.pool[c] = append(l.pool[c], buf[:0])
		l.pooled += int64(c)
	} else {
		l.held -= int64(c)
	}
	l.maybeSettle()
}

// dropOne forgets one kept buffer, the largest; the caller holds l.mu.
func (l *Bodies) dropOne() {
	largest := 0
	for c, free := range l.pool {
		if len(free) > 0 && c > largest {
			largest = c
		}
	}
	free := l.pool[largest]
	free[len(free)-1] = nil
	l.pool[largest] = free[:len(free)-1]
	l.pooled -= int64(largest)
	l.held -= int64(largest)
}

// maybeSettle arms the settle after a burst; the caller holds l.mu.
func (l *Bodies) maybeSettle() {
	after := l.settleAfter
	if after == 0 {
		after = settleAfter
	}
	if l.grown < after || l.inUse > quietInUse || l.timer != nil {
		return
	}
	l.timer = time.AfterFunc(settleQuiet, l.settle)
}

func (l *Bodies) settle() {
	l.mu.Lock()
	l.timer = nil
	if l.inUse > quietInUse {
		// Busy again: the next quiet moment settles.
		l.mu.Unlock()
		return
	}
	for l.pooled > 0 {
		l.dropOne()
	}
	l.grown = 0
	settle := l.Settle
	l.mu.Unlock()
	if settle != nil {
		settle()
	}
}

// Held is the bytes of body memory counted now (in use and kept).
func (l *Bodies) Held() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held
}

// sizeClass is the capacity a buffer for n bytes gets: n below poolMin,
// else a power of two below poolStep, else a multiple of poolStep.
func sizeClass(n int) int {
	switch {
	case n < poolMin:
		return n
	case n <= poolStep:
		c := poolMin
		for c < n {
			c <<= 1
		}
		return c
	}
	return (n + poolStep - 1) / poolStep * poolStep
}

// budgetedBody counts a request body against the budget and clears the
// read deadline at EOF.
type budgetedBody struct {
	io.ReadCloser
	l        *Bodies
	rc       *http.ResponseController
	declared int64  // Content-Length, -1 when unknown
	counted  int64  // bytes read through Read, counted in use
	buf      []byte // ReadBody's buffer; buf[:n] was read into it
	n        int
	whole    bool // buf[:n] is the whole body
	eof      bool
}

type bodyKey struct{}

// Read counts what a handler reads piecemeal, byte for byte.
func (b *budgetedBody) Read(p []byte) (int, error) {
	n, err := b.read(p)
	if n > 0 {
		if !b.l.reserve(int64(n)) {
			return 0, errBodyBudget
		}
		b.counted += int64(n)
	}
	return n, err
}

func (b *budgetedBody) read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.eof {
		b.eof = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// readAll reads the whole body, at most limit bytes, into one buffer
// counted until release. A declared length over the limit, or over what
// the budget has left, is refused before a byte is read.
func (b *budgetedBody) readAll(limit int64) ([]byte, error) {
	if b.buf != nil {
		return nil, errors.New("the body was read already")
	}
	if b.declared > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	if b.declared >= 0 {
		buf, ok := b.l.get(int(b.declared))
		if !ok {
			return nil, errBodyBudget
		}
		b.buf = buf
		n, err := io.ReadFull(readerFunc(b.read), buf)
		b.n = n
		if err == nil {
			// The server ends the body at its declared length; this read
			// sees that EOF, which clears the deadline.
			var one [1]byte
			var m int
			if m, err = b.read(one[:]); m > 0 {
				return nil, errors.New("the body is longer than its Content-Length")
			}
		}
		if err != nil && err != io.EOF {
			if err == io.ErrUnexpectedEOF {
				err = errors.New("the body ended before its Content-Length")
			}
			return nil, err
		}
		b.whole = true
		return buf[:n], nil
	}
	// Unknown length (chunked): grow one buffer, each size counted before
	// it is allocated; the one it replaces is garbage at once.
	size := min(int64(poolMin), limit+1)
	buf, ok := b.l.get(int(size))
	if !ok {
		return nil, errBodyBudget
	}
	buf = buf[:cap(buf)]
	b.buf = buf
	n := 0
	for {
		if n == len(buf) {
			if int64(n) > limit {
				return nil, &http.MaxBytesError{Limit: limit}
			}
			bigger, ok := b.l.get(int(min(2*int64(len(buf)), limit+1)))
			if !ok {
				return nil, errBodyBudget
			}
			bigger = bigger[:cap(bigger)]
			copy(bigger, buf)
			b.l.put(buf)
			buf, b.buf = bigger, bigger
		}
		m, err := b.read(buf[n:])
		n += m
		b.n = n
		if err == io.EOF {
			if int64(n) > limit {
				return nil, &http.MaxBytesError{Limit: limit}
			}
			b.whole = true
			return buf[:n], nil
		}
		if err != nil {
			return nil, err
		}
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// release gives back what the request held, when it is done: by then the
// handler has turned the body into a job (whose arguments are copies) or
// dropped it.
func (b *budgetedBody) release() {
	if b.counted > 0 {
		b.l.unreserve(b.counted)
	}
	if b.buf != nil {
		b.l.put(b.buf)
		b.buf = nil
	}
}

// ReadBody reads r's whole body, at most limit bytes. Under Bodies.Limit
// it lives in one buffer counted against the budget until the request is
// done, so the handler must not keep it (or slices of it) past that. Over
// the limit the error is an *http.MaxBytesError; past the budget, the
// engine's 503.
//
// The body is read from beneath any wrapper a middleware put around
// r.Body since Limit: Received is how such a middleware (the request
// inspector) sees it, without a copy of its own.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	if b, ok := r.Context().Value(bodyKey{}).(*budgetedBody); ok && b.buf == nil && b.counted == 0 {
		return b.readAll(limit)
	}
	return io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
}

// Reserve counts n more bytes against the budget for the request ctx
// belongs to, until it is done: memory a handler must hold besides the
// body (a copy of it a check needs). Past the budget the error is the
// engine's 503; outside Limit nothing is counted.
func Reserve(ctx context.Context, n int64) error {
	b, ok := ctx.Value(bodyKey{}).(*budgetedBody)
	if !ok || n <= 0 {
		return nil
	}
	if !b.l.reserve(n) {
		return errBodyBudget
	}
	b.counted += n
	return nil
}

// Received is what ReadBody read of the body of the request ctx belongs
// to, and whether that is the whole body; nil when nothing was read that
// way. It is valid until the handler Limit wraps returns.
func Received(ctx context.Context) (body []byte, whole bool) {
	b, ok := ctx.Value(bodyKey{}).(*budgetedBody)
	if !ok || b.buf == nil {
		return nil, false
	}
	return b.buf[:b.n], b.whole
}
