// Package inspector keeps every webhook and route request millrun
// received (who sent what, what millrun answered, which job it started),
// shows them live and replays them. Handlers report their decisions into
// the request's Outcome; the recorder writes the record.
package inspector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/store"
)

// BodyLimit caps the body kept per request; bigger ones are kept cut and
// cannot be replayed.
const BodyLimit = 256 << 10

// refusedKeep is how many refused requests are kept, apart from the
// accepted ones, so anonymous callers cannot push the user's own requests
// out of the history.
const refusedKeep = 1000

// defaultBudget bounds the disk the bodies take together; the oldest go
// first.
const defaultBudget = 512 << 20

// refusedBodyLimit is how much of a refused request's body is kept: enough
// to see what a forger sent, too little for anonymous callers to fill the
// disk with.
const refusedBodyLimit = 4 << 10

// answerKept is how much of an answer is kept: enough for an error's
// reason or a result to recognise.
const answerKept = 4 << 10

// Config is what a Recorder needs.
type Config struct {
	DB  *store.DB
	Log *slog.Logger
	// Budget bounds the kept bodies together (0: 512 MiB).
	Budget int64
	// Retention is how long and how many requests to keep (the jobs'
	// retention settings, read at each prune).
	Retention func() (age time.Duration, max int)
	// Serve runs a replayed request through millrun's handler as the user
	// who asked for it.
	Serve func(w http.ResponseWriter, r *http.Request, as *auth.Identity)
	// Body is what the handler read of the request's body, and whether
	// that is all of it, while the request lasts (guard.Received). With
	// it the recorder keeps a copy of only what it stores, once it knows
	// whether the request was refused; without it, it copies what the
	// handler reads as it reads it.
	Body func(context.Context) ([]byte, bool)
}

// Recorder records requests, feeds the live pages and prunes old records.
type Recorder struct {
	cfg  Config
	feed feed
	// bodyBytes counts bodies since the last prune, and refused the refused
	// requests: a burst asks for a prune before the hourly one.
	bodyBytes atomic.Int64
	refused   atomic.Int64
	pruneSoon chan struct{}
	stop      chan struct{}
	done      chan struct{}
}

// New returns a recorder; Start runs its pruning.
func New(cfg Config) *Recorder {
	if cfg.Budget <= 0 {
		cfg.Budget = defaultBudget
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Recorder{cfg: cfg, pruneSoon: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// statusRecorder remembers the status a handler answered and the start
// of its answer.
type statusRecorder struct {
	http.ResponseWriter
	status int
	answer bytes.Buffer
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if s.answer.Len() < answerKept {
		s.answer.Write(b[:min(len(b), answerKept-s.answer.Len())])
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

type replayOfKey struct{}

// replayOf is what a replayed request's record says about its original.
type replayOf struct {
	id int64
	// refused is why the original was refused, for a replay the user
	// confirmed anyway; "" when it was not refused.
	refused string
}

// Record keeps each request through next: who sent what, what millrun
// answered and which job it started. It reads nothing itself: it keeps
// what the handler read of the body, so a request refused before its body
// was read is recorded without it.
func (rec *Recorder) Record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var body *capturedBody
		hadBody := r.Body != nil && r.Body != http.NoBody
		ctx, outcome := WithOutcome(r.Context())
		inner := r.WithContext(ctx) // the server's own request keeps its body
		if rec.cfg.Body == nil && hadBody {
			body = &capturedBody{ReadCloser: r.Body, limit: BodyLimit}
			inner.Body = body
		}
		sr := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(sr, inner)

		u := r.URL
		if outcome.Path != "" {
			c := *r.URL
			c.Path, c.RawPath = outcome.Path, outcome.Path // as written: "[redacted]" unescaped
			u = &c
		}
		req := &store.Request{ReceivedAt: start, Method: r.Method, URL: auth.RedactRawQuery(u), CallerIP: rec.callerIP(r),
			Status: sr.status, DurationMS: time.Since(start).Milliseconds(), JobID: w.Header().Get("X-Millrun-Job-Id"),
			Route: outcome.Route, AuthOK: sr.status != http.StatusUnauthorized && sr.status != http.StatusForbidden}
		if req.Status == 0 {
			req.Status = http.StatusOK
		}
		req.AuthReason = outcome.AuthReason
		// A token that got in but may not run this is refused after the
		// fact: its answer says why.
		if !req.AuthOK && (req.AuthReason == "" || outcome.AuthOK) {
			req.AuthReason = strings.TrimSpace(string(sr.answer.Bytes()[:min(sr.answer.Len(), 300)]))
			if hint := w.Header().Get(apierr.HintHeader); hint != "" {
				req.AuthReason += ": " + hint // the body is Windmill's fixed words
			}
		}
		req.Response = bytes.Clone(sr.answer.Bytes())
		req.RunFailed = w.Header().Get("X-Millrun-Job-Success") == "false"
		req.Note = outcome.Note
		if hadBody {
			var got []byte
			var whole bool
			if rec.cfg.Body != nil {
				got, whole = rec.cfg.Body(r.Context())
			} else {
				got, whole = body.buf, body.complete()
			}
			keep := BodyLimit
			if !req.AuthOK {
				keep = refusedBodyLimit
			}
			// A copy of what is kept, no more: the handler's buffer is
			// reused once the request is done, and a refused request's
			// body must not hold more than its share while it waits for
			// its batch to be written. A body not read to its end is
			// kept as truncated, so it is never replayed as if whole.
			if len(got) > 0 {
				req.Body = bytes.Clone(got[:min(len(got), keep)])
			}
			req.BodyTruncated = !whole || len(got) > keep
		}
		if rp, ok := r.Context().Value(replayOfKey{}).(replayOf); ok {
			req.ReplayOf = rp.id
			if rp.refused != "" {
				req.AuthReason = fmt.Sprintf("replay of refused request %d, confirmed from the UI (it was refused: %s)", rp.id, rp.refused)
			}
		}
		headers := map[string]string{}
		for k, vs := range r.Header {
			if auth.SensitiveHeader(k) || slices.ContainsFunc(outcome.SecretHeaders, func(h string) bool { return strings.EqualFold(h, k) }) {
				headers[k] = "[redacted]"
			} else {
				headers[k] = strings.Join(vs, ", ")
			}
		}
		if rec.bodyBytes.Add(int64(len(req.Body))) > rec.cfg.Budget/8 || (!req.AuthOK && rec.refused.Add(1) > refusedKeep/4) {
			rec.bodyBytes.Store(0)
			rec.refused.Store(0)
			select {
			case rec.pruneSoon <- struct{}{}:
			default:
			}
		}
		hj, _ := json.Marshal(headers)
		rec.cfg.DB.AddRequest(req, string(hj), func(stored *store.Request) {
			stored.Headers = headers
			rec.feed.publish(stored)
		})
	})
}

// capturedBody keeps the first limit bytes the handler reads of a body.
type capturedBody struct {
	io.ReadCloser
	limit int
	buf   []byte
	read  int64
	eof   bool
}

func (c *capturedBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if keep := min(n, c.limit-len(c.buf)); keep > 0 {
		c.buf = append(c.buf, p[:keep]...)
	}
	c.read += int64(n)
	if err == io.EOF {
		c.eof = true
	}
	return n, err
}

// complete reports whether buf is the whole body: the handler read it to
// the end and it fit.
func (c *capturedBody) complete() bool { return c.eof && c.read == int64(len(c.buf)) }

func (rec *Recorder) callerIP(r *http.Request) string {
	if ip, _ := reqctx.TunnelCaller(r.Context()); ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// feed fans recorded requests out to the live Requests pages.
type feed struct {
	mu   sync.Mutex
	subs map[chan *store.Request]struct{}
}

func (f *feed) subscribe() (chan *store.Request, func()) {
	ch := make(chan *store.Request, 64)
	f.mu.Lock()
	if f.subs == nil {
		f.subs = map[chan *store.Request]struct{}{}
	}
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	return ch, func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
	}
}

func (f *feed) publish(r *store.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- r:
		default: // a slow page misses a row; it reloads on reconnect
		}
	}
}

// PruneNow applies the retention and the body budget now.
func (rec *Recorder) PruneNow() error {
	age, max := rec.cfg.Retention()
	return rec.cfg.DB.PruneRequests(context.Background(), time.Now().Add(-age), max, refusedKeep, rec.cfg.Budget)
}

// Start prunes every hour, and sooner after a burst of large bodies or
// refused requests, until Stop.
func (rec *Recorder) Start() {
	go func() {
		defer close(rec.done)
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			if err := rec.PruneNow(); err != nil {
				rec.cfg.Log.Warn("prune requests", "err", err)
			}
			select {
			case <-rec.stop:
				return
			case <-t.C:
			case <-rec.pruneSoon:
				// Let the burst's batches reach the table first.
				select {
				case <-rec.stop:
					return
				case <-time.After(250 * time.Millisecond):
				}
			}
		}
	}()
}

// Stop ends the pruning and waits for it.
func (rec *Recorder) Stop() {
	close(rec.stop)
	<-rec.done
}
