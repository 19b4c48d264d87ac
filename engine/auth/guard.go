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

// SameOrigin reports whether a browser sent r from millrun's own pages:
// same scheme, host and port. A page on another localhost port is
// same-site (cookies flow to it under SameSite=Strict) but not
// same-origin. Without positive evidence (Sec-Fetch-Site, or an Origin
// naming this server) the answer is no.
func SameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none": // "none": the user typed or bookmarked the URL
		return true
	case "":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
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

// SensitiveHeader reports whether a header carries credentials and must be
// redacted before it is stored anywhere.
func SensitiveHeader(name string) bool {
	switch strings.ToLower(name) {
	case "authorization", "cookie", "set-cookie", "proxy-authorization", "x-api-key", "x-auth-token":
		return true
	}
	return false
}
