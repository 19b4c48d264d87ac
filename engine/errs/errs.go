// Package errs holds the kinds of error that the engine's packages return
// and that apierr alone turns into answers: input the caller must fix, a
// clash with what exists. Not found is store.ErrNotFound.
package errs

import "fmt"

// Invalid marks a request the caller must fix; its message says how.
type Invalid struct{ Msg string }

func (e *Invalid) Error() string { return e.Msg }

// Invalidf returns an *Invalid with a formatted message.
func Invalidf(format string, a ...any) error { return &Invalid{Msg: fmt.Sprintf(format, a...)} }

// Conflict says the request clashes with something that exists.
type Conflict struct{ Msg string }

func (e *Conflict) Error() string { return e.Msg }

// Conflictf returns a *Conflict with a formatted message.
func Conflictf(format string, a ...any) error { return &Conflict{Msg: fmt.Sprintf(format, a...)} }

// NotFound says what a request names does not exist; Msg names it in the
// words Windmill's clients compare. Err is the store's store.ErrNotFound
// when the lookup found nothing, so errors.Is still tells a missing row
// from a failing database.
type NotFound struct {
	Msg string
	Err error
}

func (e *NotFound) Error() string { return e.Msg }

func (e *NotFound) Unwrap() error { return e.Err }
