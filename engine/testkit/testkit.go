// Package testkit holds what millrun's tests share: a server reached with a
// token, a client for a millrun that runs elsewhere (a child process), a
// script factory and a wait-until. It imports nothing of millrun, so any
// package's tests can use it without an import cycle.
package testkit

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Client calls a millrun server as the holder of Token ("" sends none).
type Client struct {
	URL   string
	Token string
}

// Response is what came back, body read in full.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Send makes one request and reports a transport failure as an error, for
// goroutines (which may not fail a test) and for servers a test kills on
// purpose. hdr holds name, value pairs; ("Authorization", "") sends no
// token, ("Host", h) sets the Host the server sees.
func (c Client) Send(method, path, contentType, body string, hdr ...string) (Response, error) {
	req, err := http.NewRequest(method, c.URL+path, strings.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		switch {
		case hdr[i] == "Authorization" && hdr[i+1] == "":
			req.Header.Del("Authorization")
		case hdr[i] == "Host":
			req.Host = hdr[i+1] // the client sends req.Host, not a Host header
		default:
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return Response{res.StatusCode, res.Header, string(b)}, err
}

// Do is Send for the test's own goroutine: a transport failure fails the test.
func (c Client) Do(t testing.TB, method, path, contentType, body string, hdr ...string) Response {
	t.Helper()
	r, err := c.Send(method, path, contentType, body, hdr...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// CreateScript saves a new version of the script at path in workspace
// local and returns its hash. extra holds field, value pairs for the
// create request; a value that parses as JSON is sent as that JSON.
func (c Client) CreateScript(t testing.TB, path, lang, content string, extra ...string) string {
	t.Helper()
	body := map[string]any{"path": path, "language": lang, "content": content}
	for i := 0; i+1 < len(extra); i += 2 {
		var v any
		if json.Unmarshal([]byte(extra[i+1]), &v) != nil {
			v = extra[i+1]
		}
		body[extra[i]] = v
	}
	if _, ok := body["parent_hash"]; !ok {
		// A new version names the one it replaces, as Windmill requires.
		if cur := c.Do(t, "GET", "/api/w/local/scripts/get/p/"+path, "", ""); cur.Status == 200 {
			var latest struct{ Hash string }
			_ = json.Unmarshal([]byte(cur.Body), &latest)
			body["parent_hash"] = latest.Hash
		}
	}
	b, _ := json.Marshal(body)
	r := c.Do(t, "POST", "/api/w/local/scripts/create", "application/json", string(b))
	if r.Status != 201 {
		t.Fatalf("create %s: %d %s", path, r.Status, r.Body)
	}
	return r.Body
}

// Server is an httptest server with the client that calls it.
type Server struct {
	*httptest.Server
	API Client
}

// Listen opens a server that does not serve yet, so its address can go
// into the configuration of the handler it will serve; Start serves.
// The server is closed when the test ends.
func Listen(t testing.TB) *Server {
	t.Helper()
	s := &Server{Server: httptest.NewUnstartedServer(nil)}
	t.Cleanup(s.Close) // closing twice is safe: a fixture may close it first
	return s
}

// Start serves h, and API calls it with token.
func (s *Server) Start(h http.Handler, token string) {
	s.Config.Handler = h
	s.Server.Start()
	s.API = Client{URL: s.URL, Token: token}
}

// Serve serves h until the test ends; API calls it with token.
func Serve(t testing.TB, h http.Handler, token string) *Server {
	t.Helper()
	s := Listen(t)
	s.Start(h, token)
	return s
}

// pollEvery is short next to every wait's limit and long enough that a
// waiting test leaves the CPU to the work it waits for.
const pollEvery = 10 * time.Millisecond

// WaitUntil polls ok until it holds, failing the test when it still does
// not after within; what names the awaited state for that message.
func WaitUntil(t testing.TB, what string, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(pollEvery)
	}
}
