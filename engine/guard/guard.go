// Package guard holds the protections every request group of millrun's
// route table is built from, besides authentication: bounded request
// bodies, parseable query strings, and local-only management routes.
package guard

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"

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
