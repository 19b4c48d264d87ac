package guard

import "net/http"

// AnswerPolicy is the Content-Security-Policy of every API answer. The
// API serves what scripts return (a route's HTML, a job's result), on
// millrun's own origin; sandbox gives any such page an opaque origin, so
// it can never act as the UI however it came to be opened, while a page
// a user builds on purpose can still run its scripts, post its forms and
// open links.
const AnswerPolicy = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"

// Sandbox marks every answer of the routes it wraps as AnswerPolicy, and
// tells browsers not to guess a content type, so a JSON or text answer
// built from a caller's input is never run as a page either.
func Sandbox(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SandboxHeaders(w.Header())
		next.ServeHTTP(w, r)
	})
}

// SandboxHeaders sets the sandbox on h again after a handler copied
// headers a script asked for: a script may add a policy of its own
// (browsers enforce every policy they are given, so it can only narrow
// the page), never replace millrun's.
func SandboxHeaders(h http.Header) {
	found := false
	for _, v := range h.Values("Content-Security-Policy") {
		if v == AnswerPolicy {
			found = true
		}
	}
	if !found {
		h.Add("Content-Security-Policy", AnswerPolicy)
	}
	h.Set("X-Content-Type-Options", "nosniff")
}
