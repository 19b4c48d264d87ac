package inspector

import "context"

// Outcome is what the handlers decided about a request, reported for its
// record: the routes and the token check write it, the recorder reads it.
type Outcome struct {
	Route      string
	AuthOK     bool
	AuthReason string
	// SecretHeaders carry a credential for this route (an API key header)
	// and must be redacted like Authorization.
	SecretHeaders []string
	// Note says the route answered the call itself (a provider's
	// handshake), without a run.
	Note string
	// Path, when set, is recorded in place of the request's path: one
	// that carries a credential (an approval link's signature) is kept
	// with it redacted.
	Path string
}

type outcomeKey struct{}

// WithOutcome returns a context in which handlers report their decision
// into the returned Outcome.
func WithOutcome(ctx context.Context) (context.Context, *Outcome) {
	o := &Outcome{}
	return context.WithValue(ctx, outcomeKey{}, o), o
}

// OutcomeOf is the Outcome a request reports into; nil outside a record.
func OutcomeOf(ctx context.Context) *Outcome {
	o, _ := ctx.Value(outcomeKey{}).(*Outcome)
	return o
}

// ReportAuth notes who a request was let in as.
func ReportAuth(ctx context.Context, reason string) {
	if o := OutcomeOf(ctx); o != nil {
		o.AuthOK, o.AuthReason = true, reason
	}
}

// ReportRoute notes the route a request reached and whether it was let in.
func ReportRoute(ctx context.Context, route string, ok bool, reason string) {
	if o := OutcomeOf(ctx); o != nil {
		o.Route, o.AuthOK, o.AuthReason = route, ok, reason
	}
}
