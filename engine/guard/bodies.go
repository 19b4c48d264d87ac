package guard

import (
	"bytes"
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
// The budget counts memory, not bytes read, and only memory a body's
// bytes have arrived for: a body read with ReadParts or ReadBody is read
// into buffers added as it arrives (at most twice what was sent), each
// counted from before it is made until the request is done, and a buffer
// kept for reuse stays counted until it is dropped. A declared length is
// no claim on the budget: callers who declare large bodies and send
// nothing hold a first small buffer each.
//
// Anonymous callers (whose body must be read before they are known, such
// as a signature's) share what is left of the budget once Reserved is set
// aside for callers authenticated before their body, and each of them
// (Caller says who) holds at most Share of it: a flood from one address
// costs that address its share, and a flood from many cannot refuse a
// token's call.
type Bodies struct {
	// Budget is the bytes all bodies together may hold.
	Budget int64
	// Reserved is the part of Budget only requests whose caller was
	// authenticated before the body (Authenticated) may use (0: a
	// quarter); at least room for one body of the request's limit, up to
	// half the budget.
	Reserved int64
	// Share is what the requests of one anonymous caller may hold
	// together (0: an eighth of Budget); at least room for one body of
	// the request's limit.
	Share int64
	// Caller names the anonymous caller a request's share is counted
	// against; "" counts it against no share (nil: no caller has one).
	Caller func(*http.Request) string
	// Timeout is how long a caller may take to send its body (0: 60 s).
	Timeout time.Duration
	// Settle is called once after a burst of large bodies, when their
	// memory is free again: the place to hand it back to the system
	// (nil: nothing is called).
	Settle func()

	// settleAfter is settleAfter's value unless a test sets it.
	settleAfter int64

	mu      sync.Mutex
	held    int64 // in use and pooled
	inUse   int64
	anon    int64            // in use by anonymous requests
	callers map[string]int64 // in use by each anonymous caller
	grown   int64            // bytes of buffers made since the last settle
	pooled  int64
	pool    map[int][][]byte // free buffers by capacity
	timer   *time.Timer
}

// Sizes that decide how buffers grow, are reused and when memory is
// handed back.
const (
	// firstBuffer is what a body is read into before more of it arrives:
	// the size of the buffer the server reads request headers with, so
	// a connection that sends nothing costs the budget no more than the
	// connection itself costs.
	firstBuffer = 4 << 10
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
		if l.Caller != nil {
			b.caller = l.Caller(r)
		}
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

// Authenticated marks the request ctx belongs to as coming from a caller
// authenticated before its body was read (a token, an API key, basic
// auth): its body may use the part of the budget kept from anonymous
// callers, and counts against no caller's share. Called once a byte of
// the body was counted, it changes nothing: what was counted stays where
// it was counted.
func Authenticated(ctx context.Context) {
	if b, ok := ctx.Value(bodyKey{}).(*budgetedBody); ok && !b.started {
		b.authed = true
	}
}

// errBodyBudget is what a body read returns while the bodies held
// together would exceed the budget, or the caller's share of it: the
// caller is told to come back.
var errBodyBudget = apierr.Unavailable(5, "millrun is receiving too many large request bodies at once; retry shortly")

// room is what one body of limit bytes may need at once: its parts and
// the buffer they are joined into, or the joined body and the copy a
// signature check makes of it, each rounded up to whole buffers.
func room(limit int64) int64 { return 2 * (max(limit, 0) + poolStep) }

// reserved is the part of the budget anonymous callers cannot use, for a
// body of at most limit bytes.
func (l *Bodies) reserved(limit int64) int64 {
	r := l.Reserved
	if r <= 0 {
		r = l.Budget / 4
	}
	return max(r, min(room(limit), l.Budget/2))
}

// share is what one anonymous caller may hold, for a body of at most
// limit bytes.
func (l *Bodies) share(limit int64) int64 {
	s := l.Share
	if s <= 0 {
		s = l.Budget / 8
	}
	return max(s, room(limit))
}

// admit tells whether b may count n more bytes in use by the shares it
// draws on (the anonymous part and its caller's); the caller holds l.mu.
func (l *Bodies) admit(b *budgetedBody, n int64) bool {
	if b.authed {
		return true
	}
	if l.anon+n > l.Budget-l.reserved(b.limit) {
		return false
	}
	return b.caller == "" || l.callers[b.caller]+n <= l.share(b.limit)
}

// use counts n bytes more (or, negative, fewer) in use by b; the caller
// holds l.mu.
func (l *Bodies) use(b *budgetedBody, n int64) {
	b.started = true
	l.inUse += n
	if b.authed {
		return
	}
	l.anon += n
	if b.caller != "" {
		if l.callers == nil {
			l.callers = map[string]int64{}
		}
		if c := l.callers[b.caller] + n; c != 0 {
			l.callers[b.caller] = c
		} else {
			delete(l.callers, b.caller)
		}
	}
}

// makeRoom drops kept buffers until n more bytes fit the budget; false
// when even that does not make them fit. The caller holds l.mu.
func (l *Bodies) makeRoom(n int64) bool {
	for l.held+n > l.Budget && l.pooled > 0 {
		l.dropOne()
	}
	return l.held+n <= l.Budget
}

// reserve counts n more bytes in use by b, dropping kept buffers if that
// makes room; false when even that does not, or b's shares are full.
func (l *Bodies) reserve(b *budgetedBody, n int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.admit(b, n) || !l.makeRoom(n) {
		return false
	}
	l.held += n
	l.use(b, n)
	return true
}

// unreserve gives back n bytes b had in use; their memory is garbage now.
func (l *Bodies) unreserve(b *budgetedBody, n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held -= n
	l.use(b, -n)
	l.maybeSettle()
}

// get returns a buffer for b of length n (its capacity counted in use),
// a kept one when there is one of its size. It replaces buffers of b's
// holding replacing bytes, given back right after: b's shares need room
// for the difference only, the budget for all of it meanwhile.
func (l *Bodies) get(b *budgetedBody, n int, replacing int64) ([]byte, bool) {
	c := sizeClass(n)
	l.mu.Lock()
	if !l.admit(b, int64(c)-replacing) {
		l.mu.Unlock()
		return nil, false
	}
	if free := l.pool[c]; len(free) > 0 {
		buf := free[len(free)-1]
		l.pool[c] = free[:len(free)-1]
		l.pooled -= int64(c)
		l.use(b, int64(c))
		l.mu.Unlock()
		return buf[:n], true
	}
	if !l.makeRoom(int64(c)) {
		l.mu.Unlock()
		return nil, false
	}
	l.held += int64(c)
	l.grown += int64(c)
	l.use(b, int64(c))
	l.mu.Unlock()
	return make([]byte, n, c), true
}

// put takes back a buffer get returned for b: kept for the next body of
// its size (still counted) or, when too small to be worth it, uncounted.
func (l *Bodies) put(b *budgetedBody, buf []byte) {
	c := cap(buf)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.use(b, -int64(c))
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
	caller   string // whose share the body counts against, "" none
	authed   bool   // the caller was authenticated before the body
	started  bool   // something was counted: authed is settled
	limit    int64  // the limit ReadParts was given, 0 before
	counted  int64  // bytes read through Read or reserved, counted in use
	// parts hold what ReadParts read, n bytes: the first grows up to
	// partSize, the others are partSize each but the last; one part once
	// joined.
	parts [][]byte
	n     int
	whole bool // parts hold the whole body
	eof   bool
}

// partSize is the most a body's first part grows to, and the size of its
// other parts. A body up to it is read into one buffer, never copied
// again; a larger one arrives in parts that any other body can reuse
// (which a buffer grown to each body's own size could not be: under a
// flood of large bodies, buffers of the wrong size dropped to make room
// were as much memory again, garbage the budget no longer counts), and
// is joined only when a handler needs it in one piece.
const partSize = poolStep

type bodyKey struct{}

// Read counts what a handler reads piecemeal, byte for byte.
func (b *budgetedBody) Read(p []byte) (int, error) {
	n, err := b.read(p)
	if n > 0 {
		if !b.l.reserve(b, int64(n)) {
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

// more makes room for the next bytes of a body of target bytes, counted
// before it is made: the first part twice as large (up to partSize), or
// a new part. A body holds at most twice what arrived of it.
func (b *budgetedBody) more(target int64) error {
	if len(b.parts) == 1 && len(b.parts[0]) < partSize {
		first := b.parts[0]
		size := min(target, 2*int64(len(first)), partSize)
		buf, ok := b.l.get(b, int(size), 0)
		if !ok {
			return errBodyBudget
		}
		copy(buf, first)
		b.l.put(b, first)
		b.parts[0] = buf
		return nil
	}
	size := min(target-int64(b.n), partSize)
	if len(b.parts) == 0 {
		size = min(target, firstBuffer)
	}
	buf, ok := b.l.get(b, int(size), 0)
	if !ok {
		return errBodyBudget
	}
	b.parts = append(b.parts, buf)
	return nil
}

// readParts reads the whole body, at most limit bytes, into parts that
// are added as it arrives, counted until release. A declared length over
// the limit is refused before a byte is read.
func (b *budgetedBody) readParts(limit int64) ([][]byte, error) {
	if b.parts != nil {
		return nil, errors.New("the body was read already")
	}
	if b.declared > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	b.limit = limit
	// Without a declared length (chunked) one byte over the limit tells a
	// body over it.
	target := b.declared
	if target < 0 {
		target = limit + 1
	}
	b.parts = [][]byte{}
	var err error
	for err == nil && int64(b.n) < target {
		last := len(b.parts) - 1
		if last < 0 || b.used(last) == len(b.parts[last]) {
			// A chunked body's end is known only once read: a byte more
			// comes first, rather than a buffer for nothing.
			var one [1]byte
			var m int
			if b.declared < 0 && last >= 0 {
				if m, err = b.read(one[:]); m == 0 {
					continue
				}
			}
			if err := b.more(target); err != nil {
				return nil, err
			}
			last = len(b.parts) - 1
			if m > 0 {
				b.parts[last][b.used(last)] = one[0]
				b.n++
				continue
			}
		}
		var m int
		m, err = b.read(b.parts[last][b.used(last):])
		b.n += m
	}
	if err != nil && err != io.EOF {
		if err == io.ErrUnexpectedEOF {
			err = errors.New("the body ended before its Content-Length")
		}
		return nil, err
	}
	if b.declared < 0 {
		if int64(b.n) > limit {
			return nil, &http.MaxBytesError{Limit: limit}
		}
	} else if err == nil {
		// The server ends the body at its declared length; this read
		// sees that EOF, which clears the deadline.
		var one [1]byte
		if m, err := b.read(one[:]); m > 0 {
			return nil, errors.New("the body is longer than its Content-Length")
		} else if err != io.EOF {
			return nil, err
		}
	} else if int64(b.n) < b.declared {
		return nil, errors.New("the body ended before its Content-Length")
	}
	if len(b.parts) == 0 { // an empty body: Received tells it from none read
		b.parts = [][]byte{{}}
	}
	b.whole = true
	return b.read0(), nil
}

// used is how much of part i was read into: all of it but the last's.
func (b *budgetedBody) used(i int) int {
	before := 0
	for _, p := range b.parts[:i] {
		before += len(p)
	}
	return b.n - before
}

// read0 are the parts cut to what was read into them.
func (b *budgetedBody) read0() [][]byte {
	out := make([][]byte, len(b.parts))
	copy(out, b.parts)
	if last := len(out) - 1; last >= 0 {
		out[last] = out[last][:b.used(last)]
	}
	return out
}

// join puts the parts into one buffer, counted like them; they are kept
// for other bodies at once.
func (b *budgetedBody) join() ([]byte, error) {
	if len(b.parts) == 1 {
		return b.parts[0][:b.n], nil
	}
	var replacing int64
	for _, p := range b.parts {
		replacing += int64(cap(p))
	}
	buf, ok := b.l.get(b, b.n, replacing)
	if !ok {
		return nil, errBodyBudget
	}
	at := 0
	for _, p := range b.read0() {
		at += copy(buf[at:], p)
	}
	for _, p := range b.parts {
		b.l.put(b, p)
	}
	b.parts = [][]byte{buf}
	return buf, nil
}

// release gives back what the request held, when it is done: by then the
// handler has turned the body into a job (whose arguments are copies) or
// dropped it.
func (b *budgetedBody) release() {
	if b.counted > 0 {
		b.l.unreserve(b, b.counted)
	}
	for _, p := range b.parts {
		b.l.put(b, p)
	}
	b.parts = nil
}

// ReadBody reads r's whole body, at most limit bytes, into one buffer.
// Under Bodies.Limit it is counted against the budget until the request
// is done, so the handler must not keep it (or slices of it) past that.
// Over the limit the error is an *http.MaxBytesError; past the budget,
// the engine's 503.
//
// The body is read from beneath any wrapper a middleware put around
// r.Body since Limit: Received is how such a middleware (the request
// inspector) sees it, without a copy of its own.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	parts, err := ReadParts(r, limit)
	if err != nil {
		return nil, err
	}
	return Join(r, parts)
}

// ReadParts reads r's whole body like ReadBody, but leaves it in the
// parts it arrived in: a check that can go through them one after the
// other (a signature's hash) spares the copy joining them costs, which
// for a forged signature is the whole body again.
func ReadParts(r *http.Request, limit int64) ([][]byte, error) {
	if b, ok := r.Context().Value(bodyKey{}).(*budgetedBody); ok && b.parts == nil && b.counted == 0 {
		return b.readParts(limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		return nil, err
	}
	return [][]byte{body}, nil
}

// Join is the body of parts (as ReadParts returned them for r) in one
// buffer; under Bodies.Limit it is counted instead of the parts.
func Join(r *http.Request, parts [][]byte) ([]byte, error) {
	if b, ok := r.Context().Value(bodyKey{}).(*budgetedBody); ok && b.whole {
		return b.join()
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	return bytes.Join(parts, nil), nil
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
	if !b.l.reserve(b, n) {
		return errBodyBudget
	}
	b.counted += n
	return nil
}

// Received is what ReadParts read of the body of the request ctx belongs
// to, and whether that is the whole body; nil when nothing was read that
// way. Of a body in several parts not joined, it is the first part. It
// is valid until the handler Limit wraps returns.
func Received(ctx context.Context) (body []byte, whole bool) {
	b, ok := ctx.Value(bodyKey{}).(*budgetedBody)
	if !ok || len(b.parts) == 0 {
		return nil, false
	}
	if len(b.parts) > 1 {
		return b.parts[0], false
	}
	return b.parts[0][:b.n], b.whole
}

// BudgetFor is the memory the request bodies being handled may hold
// together, for a per-request limit of maxBody: a dozen bodies of the
// 10 MiB default limit (128 MiB), or four of a larger limit. Anonymous
// callers can fill three quarters of it (a forged signature is known only
// once its body is read), each address at most an eighth or room for one
// body and its copy (22 MiB by default), and only with bytes they send:
// that is what a flood costs. Past it callers are told to retry.
func BudgetFor(maxBody int64) int64 { return max(128<<20, 4*maxBody) }

// MemoryLimit is the soft memory limit (debug.SetMemoryLimit) that suits
// a process holding b: its budget and as much again for everything else,
// at least 256 MiB. The garbage collector works harder near it, so a
// flood's garbage is collected before it adds up; it refuses nothing.
func (b *Bodies) MemoryLimit() int64 { return max(256<<20, 2*b.Budget) }
