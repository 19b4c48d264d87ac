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

// Redact replaces token values in a URL's query so it can be stored or logged.
func Redact(u *url.URL) string {
	q := u.Query()
	if !q.Has("token") {
		return u.String()
	}
	q.Set("token", "[redacted]")
	c := *u
	c.RawQuery = q.Encode()
	return c.String()
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
