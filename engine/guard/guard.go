// Package guard holds the protections every request group of millrun's
// route table is built from, besides authentication: bounded request
// bodies, parseable query strings, and local-only management routes.
package guard

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
)

// Local protects the UI and the management routes: a Host header that is
// not this machine (or one of allowedHosts) is refused (DNS rebinding),
// and so is a state-changing request a browser sent from another origin
// (CSRF). Requests made inside millrun (trusted says which) pass.
func Local(log *slog.Logger, allowedHosts []string, trusted func(context.Context) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return local(log, allowedHosts, trusted, next)
	}
}

func local(log *slog.Logger, allowedHosts []string, trusted func(context.Context) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if trusted(r.Context()) {
			next.ServeHTTP(w, r)
			return
		}
		if !auth.LocalHost(r.Host, allowedHosts) {
			apierr.Write(w, log, apierr.Forbidden("host %q is not allowed: open millrun at http://127.0.0.1 or http://localhost", r.Host))
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if auth.CrossSite(r) {
				apierr.Write(w, log, apierr.Forbidden("cross-site request refused"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Query answers 400 when the query string does not parse (a stray ';', a
// bad %-escape, too many parameters): running the script with the
// unparsed arguments silently dropped would be worse.
func Query(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
				apierr.Write(w, log, apierr.BadRequest("the query string does not parse: %s", err))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// bodyReadTimeout is how long a caller may take to send a request body,
// unless Config says otherwise.
const bodyReadTimeout = 60 * time.Second

// Bodies bounds how long a body may take to arrive and how much body
// memory all requests together may hold, and makes sure a body the
// handler did not read (a refused request) is not waited for afterwards.
// It reads nothing itself, so it may sit outside authentication.
type Bodies struct {
	// Budget is the bytes all bodies being read together may hold.
	Budget int64
	// Timeout is how long a caller may take to send its body (0: 60 s).
	Timeout time.Duration
	held    atomic.Int64
}

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
		b := &budgetedBody{ReadCloser: r.Body, budget: &l.held, max: l.Budget, rc: rc}
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

// errBodyBudget is what a body read returns while the bodies being read
// together exceed the budget: the caller is told to come back.
var errBodyBudget = apierr.Unavailable(5, "millrun is receiving too many large request bodies at once; retry shortly")

// budgetedBody counts the bytes a request body has delivered against a
// budget shared by all requests, and clears the read deadline at EOF.
type budgetedBody struct {
	io.ReadCloser
	budget *atomic.Int64
	max    int64
	rc     *http.ResponseController
	held   int64
	eof    bool
}

func (b *budgetedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.held += int64(n)
		if b.budget.Add(int64(n)) > b.max {
			return 0, errBodyBudget
		}
	}
	if err == io.EOF && !b.eof {
		b.eof = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// release gives the bytes back when the request is done: by then the
// handler has turned the body into a job or dropped it.
func (b *budgetedBody) release() { b.budget.Add(-b.held) }
