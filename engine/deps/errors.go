package deps

import (
	"errors"
	"strings"
)

// ErrorKind sorts failures by what the user can do about them.
type ErrorKind int

const (
	// ErrNotFound: the index has no such project, or no version that
	// matches (the import's package has another name, or a pin is wrong).
	ErrNotFound ErrorKind = iota + 1
	// ErrOffline: the index cannot be reached and the cache does not
	// have the package.
	ErrOffline
	// ErrBuild: a package had to be built from source and its build
	// failed; Tail holds the end of the build log.
	ErrBuild
	// ErrConflict: the requirements cannot all be satisfied together.
	ErrConflict
	// ErrTool: pip or uv is missing or failed some other way; Tail says
	// how.
	ErrTool
	// ErrInvalid: a requirement or lock line that no installer may be
	// given (not PEP 508, a pip option, a line break inside); Msg names
	// the line.
	ErrInvalid
)

// Error is a dependency failure worded for the script's author; Error()
// is the text a job log shows (no stack trace, ever).
type Error struct {
	Kind ErrorKind
	// Package is the requirement concerned when one is ("foo",
	// "requests==2.32.3"), so a caller can tell a failure of wmill alone
	// from others (see FailedFor).
	Package string
	// Index is the index in use, without credentials.
	Index string
	// Msg is the sentence for the user.
	Msg string
	// Tail is the end of pip's or uv's output, for build and tool
	// failures.
	Tail string
}

func (e *Error) Error() string {
	if e.Tail == "" {
		return e.Msg
	}
	return e.Msg + "\n" + e.Tail
}

// FailedFor says whether err is, or joins, a failure concerning the named
// project (any spelling): `FailedFor(err, "wmill")` lets the caller run
// with its own wmill module when the index cannot supply one. It is
// false when another package failed too, since dropping wmill would not
// be enough then.
func FailedFor(err error, name string) bool {
	var found bool
	for _, e := range flatten(err) {
		var de *Error
		// A line refused as written is the lock's fault, not the
		// index's: running without it would hide that.
		if !errors.As(e, &de) || de.Kind == ErrInvalid || de.Package == "" || requirementName(de.Package) != NormalizeName(name) {
			return false
		}
		found = true
	}
	return found
}

func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// tail keeps the last n lines of a tool's output, without blank lines at
// either end and without the progress lines of a long build.
func tail(out string, n int) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}
