package engine

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/routes"
	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/webhook"
)

// inspectBodyLimit caps the body kept per request; bigger ones are kept
// cut and cannot be replayed.
const inspectBodyLimit = 256 << 10

// refusedKeep is how many refused requests the inspector keeps, apart
// from the accepted ones, so anonymous callers cannot push the user's own
// requests out of the history.
const refusedKeep = 1000

// requestBodyBudget bounds the disk the inspector's bodies take together;
// the oldest go first.
const requestBodyBudget = 512 << 20

// statusRecorder remembers the status a handler answered and the start
// of its answer.
type statusRecorder struct {
	http.ResponseWriter
	status int
	answer bytes.Buffer
}

// answerKept is how much of an answer the inspector keeps: enough for an
// error's reason or a result to recognise.
const answerKept = 4 << 10

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

// refusedBodyLimit is how much of a refused request's body is kept: enough
// to see what a forger sent, too little for anonymous callers to fill the
// disk with.
const refusedBodyLimit = 4 << 10

// record keeps each webhook and route request: who sent what, what millrun
// answered and which job it started. It reads nothing itself: it keeps
// what the handler read of the body, so a request refused before its body
// was read is recorded without it.
func (e *Engine) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var body *capturedBody
		if r.Body != nil && r.Body != http.NoBody {
			body = &capturedBody{ReadCloser: r.Body, limit: inspectBodyLimit}
			r.Body = body
		}
		ctx, outcome := routes.WithOutcome(r.Context())
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))

		req := &store.Request{ReceivedAt: start, Method: r.Method, URL: auth.RedactRawQuery(r.URL), CallerIP: callerIP(r),
			Status: rec.status, DurationMS: time.Since(start).Milliseconds(), JobID: w.Header().Get("X-Millrun-Job-Id"),
			Route: outcome.Route, AuthOK: rec.status != http.StatusUnauthorized && rec.status != http.StatusForbidden}
		if req.Status == 0 {
			req.Status = http.StatusOK
		}
		req.AuthReason = outcome.AuthReason
		// A token that got in but may not run this is refused after the
		// fact: its answer says why.
		if !req.AuthOK && (req.AuthReason == "" || outcome.AuthOK) {
			req.AuthReason = strings.TrimSpace(string(rec.answer.Bytes()[:min(rec.answer.Len(), 300)]))
		}
		req.Response = bytes.Clone(rec.answer.Bytes())
		req.RunFailed = w.Header().Get("X-Millrun-Job-Success") == "false"
		req.Note = outcome.Note
		if body != nil {
			req.Body, req.BodyTruncated = body.buf, !body.complete()
			if !req.AuthOK && len(req.Body) > refusedBodyLimit {
				req.Body, req.BodyTruncated = req.Body[:refusedBodyLimit], true
			}
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
		if e.requestBytes.Add(int64(len(req.Body))) > e.requestBudget/8 || (!req.AuthOK && e.refusedSincePrune.Add(1) > refusedKeep/4) {
			e.requestBytes.Store(0)
			e.refusedSincePrune.Store(0)
			select {
			case e.pruneSoon <- struct{}{}:
			default:
			}
		}
		hj, _ := json.Marshal(headers)
		e.db.AddRequest(req, string(hj), func(stored *store.Request) {
			stored.Headers = headers
			e.requestFeed.publish(stored)
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

func callerIP(r *http.Request) string {
	if ip := webhook.TunnelCallerIP(r.Context()); ip != "" {
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

// requestJSON is a request as the inspector shows it; the body as text
// when it is text, base64 otherwise.
func requestJSON(r *store.Request, withBody bool) map[string]any {
	out := map[string]any{"id": r.ID, "received_at": r.ReceivedAt, "method": r.Method, "url": r.URL, "caller_ip": r.CallerIP,
		"headers": r.Headers, "status": r.Status, "duration_ms": r.DurationMS, "job_id": r.JobID, "route": r.Route,
		"auth_ok": r.AuthOK, "auth_reason": r.AuthReason, "body_truncated": r.BodyTruncated, "run_failed": r.RunFailed, "note": r.Note}
	if r.Response != nil {
		out["response"] = string(r.Response)
	}
	if r.ReplayOf != 0 {
		out["replay_of"] = r.ReplayOf
	}
	if withBody {
		if utf8.Valid(r.Body) {
			out["body"] = string(r.Body)
		} else {
			out["body_base64"] = base64.StdEncoding.EncodeToString(r.Body)
		}
	}
	return out
}

// registerRequests mounts the inspector: list, one request, live feed, and
// replay. Bodies can hold anything a caller sent, so only full access.
func (e *Engine) registerRequests(mux *group) {
	full := func(h http.HandlerFunc) http.HandlerFunc { return e.fullAccess("requests:read", h) }
	mux.HandleFunc("GET /api/millrun/requests", full(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
		limit, _ := strconv.Atoi(q.Get("limit"))
		list, err := e.db.ListRequests(r.Context(), store.RequestFilter{Before: before, Limit: limit, Route: q.Get("route"),
			JobID: q.Get("job_id"), Failed: q.Get("failed") == "true", Text: q.Get("q")})
		if err != nil {
			apierr.Write(w, e.log, err)
			return
		}
		out := make([]map[string]any, len(list))
		for i := range list {
			out[i] = requestJSON(&list[i], false)
		}
		writeJSON(w, out)
	}))
	mux.HandleFunc("GET /api/millrun/requests/events", full(func(w http.ResponseWriter, r *http.Request) {
		ch, stop := e.requestFeed.subscribe()
		defer stop()
		stream(w, r, ch, func(f http.Flusher, req *store.Request) { sendEvent(w, f, "request", requestJSON(req, false)) })
	}))
	mux.HandleFunc("GET /api/millrun/requests/{id}", full(func(w http.ResponseWriter, r *http.Request) {
		req, err := e.loadRequest(r)
		if err != nil {
			apierr.Write(w, e.log, err)
			return
		}
		writeJSON(w, requestJSON(req, true))
	}))
	mux.HandleFunc("POST /api/millrun/requests/{id}/replay", full(func(w http.ResponseWriter, r *http.Request) {
		req, err := e.loadRequest(r)
		if err != nil {
			apierr.Write(w, e.log, err)
			return
		}
		if req.BodyTruncated {
			apierr.Write(w, e.log, apierr.Conflict("request %d was larger than the inspector keeps (%d KiB), so it cannot be replayed", req.ID, inspectBodyLimit>>10))
			return
		}
		// A refused request carries a caller's arguments that failed the
		// route's check (a forged signature, say): it runs only when the
		// user confirms, knowing why it was refused.
		var confirm struct {
			RunRefused bool `json:"run_refused"`
		}
		if r.ContentLength != 0 {
			if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&confirm); err != nil {
				apierr.Write(w, e.log, apierr.BadRequest("the body must be {\"run_refused\": true} or empty: %v", err))
				return
			}
		}
		if !req.AuthOK && !confirm.RunRefused {
			apierr.Write(w, e.log, apierr.Conflict("request %d was refused (%s): replaying it runs the script with the arguments of a caller who failed the check; send {\"run_refused\": true} to run it anyway", req.ID, refusalReason(req)))
			return
		}
		res, err := e.replay(r.Context(), req)
		if err != nil {
			apierr.Write(w, e.log, err)
			return
		}
		writeJSON(w, res)
	}))
}

func (e *Engine) loadRequest(r *http.Request) (*store.Request, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, apierr.NotFound("request %s", r.PathValue("id"))
	}
	req, err := e.db.GetRequest(r.Context(), id)
	if err == store.ErrNotFound {
		return nil, apierr.NotFound("request %d", id)
	}
	return req, err
}

// replay sends a recorded request through the same route again, as the
// user who asked: routes skip their own checks (signatures included) for
// it, and the new request is recorded as a replay of the old one.
func (e *Engine) replay(ctx context.Context, old *store.Request) (map[string]any, error) {
	u, err := url.Parse(old.URL)
	if err != nil {
		return nil, apierr.BadRequest("request %d has an unreadable URL", old.ID)
	}
	r := httptest.NewRequest(old.Method, u.RequestURI(), bytes.NewReader(old.Body))
	for k, v := range old.Headers {
		if v != "[redacted]" {
			r.Header.Set(k, v)
		}
	}
	r.RemoteAddr = "127.0.0.1:0"
	rp := replayOf{id: old.ID}
	id := auth.FromContext(ctx)
	if !old.AuthOK {
		rp.refused = refusalReason(old)
		marked := *id // the run says whose confirmation started it
		marked.Label = fmt.Sprintf("%s (replay of refused request %d)", id.Label, old.ID)
		id = &marked
	}
	rctx := context.WithValue(ctx, replayOfKey{}, rp)
	rctx = routes.AsReplay(trusted(rctx, id), rp.refused != "")
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, r.WithContext(rctx))
	body := rec.Body.String()
	if len(body) > 64<<10 {
		body = body[:64<<10]
	}
	return map[string]any{"status": rec.Code, "job_id": rec.Header().Get("X-Millrun-Job-Id"), "body": body}, nil
}

func refusalReason(r *store.Request) string {
	if r.AuthReason != "" {
		return r.AuthReason
	}
	return fmt.Sprintf("answered %d", r.Status)
}

func (e *Engine) pruneRequestsNow() error {
	set := e.settings.Load()
	cutoff := time.Now().Add(-time.Duration(set.RetentionDays) * 24 * time.Hour)
	return e.db.PruneRequests(context.Background(), cutoff, set.RetentionMaxJobs, refusedKeep, e.requestBudget)
}

// pruneRequests keeps the inspector to the jobs' retention and its body
// budget: every hour, and sooner after a burst of large bodies.
func (e *Engine) pruneRequests(stop <-chan struct{}) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := e.pruneRequestsNow(); err != nil {
			e.log.Warn("prune requests", "err", err)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		case <-e.pruneSoon:
			// Let the burst's batches reach the table first.
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
}
