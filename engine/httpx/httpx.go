// Package httpx holds the few ways millrun's handlers answer besides
// errors (apierr): a JSON value, and a stream of server-sent events.
package httpx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// JSON answers v with status, written as Windmill's serde_json writes it:
// no trailing newline and no HTML escaping, since Windmill's clients and
// tests compare some answers byte for byte (workspaces/exists is exactly
// true). nosniff keeps a browser from reading such an answer as a page.
func JSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "Internal: encode the answer: %s", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// flusher flushes when the writer can: a writer that cannot (the desktop
// window's asset server) streams every write straight to the page.
type flusher struct{ rc *http.ResponseController }

func (f flusher) Flush() { _ = f.rc.Flush() }

// SSE starts a server-sent-events response.
func SSE(w http.ResponseWriter) http.Flusher {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	f := flusher{http.NewResponseController(w)}
	f.Flush()
	return f
}

// Event sends v as one server-sent event named event.
func Event(w http.ResponseWriter, f http.Flusher, event string, v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
	f.Flush()
}

// Stream sends each value from ch as a server-sent event (send writes it)
// until the client goes away, with a keepalive comment between.
func Stream[T any](w http.ResponseWriter, r *http.Request, ch <-chan T, send func(f http.Flusher, v T)) {
	f := SSE(w)
	keepalive := time.NewTicker(25 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case v := <-ch:
			send(f, v)
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
			f.Flush()
		}
	}
}
