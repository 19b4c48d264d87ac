// Package apierr is the one place where errors become HTTP answers, in
// Windmill's style: text/plain, "Kind: message".
package apierr

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/millrun/millrun/engine/errs"
)

// Error is an error with an HTTP status and Windmill's kind prefix.
type Error struct {
	Status     int
	Kind       string // "" for an answer that is Msg alone, as some of Windmill's are
	Msg        string
	RetryAfter int // seconds, for 429 and 503
	// Hint is millrun's own explanation, sent in the X-Millrun-Hint header
	// where Windmill's exact words are the body (clients compare them).
	Hint string
}

func (e *Error) Error() string {
	if e.Kind == "" {
		return e.Msg
	}
	return e.Kind + ": " + e.Msg
}

// HintHeader carries millrun's explanation of an answer whose body is
// Windmill's fixed text; the UI shows it.
const HintHeader = "X-Millrun-Hint"

// Unauthorized is Windmill's 401 for a missing or unknown token, exactly
// "Not authorized: Unauthorized", with why in the hint.
func Unauthorized(hint string) *Error {
	e := NotAuthorized("Unauthorized")
	e.Hint = hint
	return e
}

// Bare is an answer whose body is msg alone, without a kind: Windmill's
// words for a few failures (a result's invalid status code).
func Bare(status int, msg string) *Error {
	return &Error{Status: status, Msg: msg}
}

func newf(status int, kind, format string, a ...any) *Error {
	return &Error{Status: status, Kind: kind, Msg: fmt.Sprintf(format, a...)}
}

// BadRequest is a 400.
func BadRequest(format string, a ...any) *Error {
	return newf(http.StatusBadRequest, "Bad request", format, a...)
}

// NotFound is a 404.
func NotFound(format string, a ...any) *Error {
	return newf(http.StatusNotFound, "Not found", format, a...)
}

// NotAuthorized is a 401.
func NotAuthorized(format string, a ...any) *Error {
	return newf(http.StatusUnauthorized, "Not authorized", format, a...)
}

// Forbidden is a 403.
func Forbidden(format string, a ...any) *Error {
	return newf(http.StatusForbidden, "Permission denied", format, a...)
}

// Conflict is a 409.
func Conflict(format string, a ...any) *Error {
	return newf(http.StatusConflict, "Conflict", format, a...)
}

// TooLarge is a 413.
func TooLarge(format string, a ...any) *Error {
	return newf(http.StatusRequestEntityTooLarge, "Payload too large", format, a...)
}

// UnsupportedMediaType is a 415.
func UnsupportedMediaType(format string, a ...any) *Error {
	return newf(http.StatusUnsupportedMediaType, "Unsupported media type", format, a...)
}

// TooManyRequests is a 429 with Retry-After.
func TooManyRequests(retryAfter int, format string, a ...any) *Error {
	e := newf(http.StatusTooManyRequests, "Too many requests", format, a...)
	e.RetryAfter = retryAfter
	return e
}

// Unavailable is a 503 with Retry-After.
func Unavailable(retryAfter int, format string, a ...any) *Error {
	e := newf(http.StatusServiceUnavailable, "Service unavailable", format, a...)
	e.RetryAfter = retryAfter
	return e
}

// Internal is a 500 whose message is shown to the caller.
func Internal(format string, a ...any) *Error {
	return newf(http.StatusInternalServerError, "Internal", format, a...)
}

// Write answers err: an *Error as it says, the engine's input errors
// (errs.Invalid) as 400, what they did not find (errs.NotFound) as 404 and
// clashes (errs.Conflict) as 409 with their own messages. Anything else is unexpected: it is logged and answered 500
// with its message, which names what failed (a damaged key, a full disk)
// so the user can act; millrun's errors carry no secrets.
func Write(w http.ResponseWriter, log *slog.Logger, err error) {
	var e *Error
	var inv *errs.Invalid
	var conflict *errs.Conflict
	var missing *errs.NotFound
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &inv):
		e = BadRequest("%s", inv.Msg)
	case errors.As(err, &conflict):
		e = Conflict("%s", conflict.Msg)
	case errors.As(err, &missing):
		e = NotFound("%s", missing.Msg)
	case errors.As(err, &mbe):
		e = TooLarge("the request body is larger than the limit of %d bytes", mbe.Limit)
	default:
		if log != nil {
			log.Error("request failed", "err", err)
		}
		e = Internal("%s", err.Error())
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if e.Hint != "" {
		h.Set(HintHeader, e.Hint)
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write([]byte(e.Error()))
}
