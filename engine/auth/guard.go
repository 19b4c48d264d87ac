package auth

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// LocalHost reports whether a Host header (host[:port]) names this machine
// by a loopback name, or one of the extra allowed hosts.
func LocalHost(hostport string, extra []string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(strings.ToLower(host), "[]")
	switch host {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	for _, e := range extra {
		if strings.EqualFold(host, strings.Trim(e, "[]")) {
			return true
		}
	}
	return false
}

// CrossSite reports whether a browser sent r from another site: its Origin
// (or, lacking one, its Referer) names a different host than the request,
// or Sec-Fetch-Site says cross-site. Clients that send none of these (curl,
// the CLI, scripts) are not browsers and are not refused.
func CrossSite(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s == "cross-site" || s == "same-site" {
		return true
	}
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	if src == "" {
		return false
	}
	if src == "null" {
		return true // sandboxed frames and file:// pages
	}
	u, err := url.Parse(src)
	if err != nil || u.Host == "" {
		return true
	}
	return !strings.EqualFold(u.Host, r.Host)
}

// RedactRawQuery returns u as text with every token value in its query
// replaced, working on the raw query text so that a query Go cannot parse
// (a ';', a bad escape, too many parameters) is redacted all the same.
func RedactRawQuery(u *url.URL) string {
	if u.RawQuery == "" {
		return u.String()
	}
	parts := strings.FieldsFunc(u.RawQuery, func(r rune) bool { return r == '&' || r == ';' })
	changed := false
	for i, p := range parts {
		key, _, hasValue := strings.Cut(p, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		if hasValue && strings.EqualFold(strings.TrimSpace(key), "token") {
			parts[i] = key + "=[redacted]"
			changed = true
		}
	}
	if !changed {
		return u.String()
	}
	c := *u
	c.RawQuery = strings.Join(parts, "&")
	return c.String()
}

// UIFetch reports whether r is one of the UI's own fetches, the only
// requests the browser session's cookie counts for: sent by a page of
// millrun's origin (same scheme, host and port), and not a navigation.
//
// A page on another localhost port is same-site (SameSite=Strict cookies
// flow to it) but not same-origin. A navigation is refused even from
// millrun's origin or from outside the browser (Sec-Fetch-Site: none, a
// link in a chat app or a terminal): the UI never navigates to the API,
// so a navigation there is someone else's link acting with the user's
// session. A sandboxed page (Origin: null) is never the UI, whatever else
// the request claims. Without positive evidence the answer is no.
func UIFetch(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "null" {
		return false
	}
	if Navigation(r) {
		return false
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin":
		return true
	case "":
	default:
		return false
	}
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return u.Scheme == scheme && strings.EqualFold(u.Host, r.Host)
}

// Navigation reports whether a browser sent r to show its answer as a
// page (a link, a form, an address typed, a frame) rather than for a
// script of the page to read. Browsers without fetch metadata (WebKit in
// some embeddings) still ask for HTML when they navigate, and the UI's
// fetches never do.
func Navigation(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Mode") == "navigate" {
		return true
	}
	switch r.Header.Get("Sec-Fetch-Dest") {
	case "document", "iframe", "frame", "embed", "object", "fencedframe":
		return true
	}
	for _, accept := range r.Header.Values("Accept") {
		if strings.Contains(accept, "text/html") || strings.Contains(accept, "application/xhtml+xml") {
			return true
		}
	}
	return false
}

// SensitiveHeader reports whether a header carries credentials and must be
// redacted before it is stored anywhere.
func SensitiveHeader(name string) bool {
	switch strings.ToLower(name) {
	case "authorization", "cookie", "set-cookie", "proxy-authorization", "x-api-key", "x-auth-token":
		return true
	}
	return false
}
