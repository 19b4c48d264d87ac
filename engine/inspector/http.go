package inspector

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/store"
)

// requestJSON is a request as the inspector shows it; the body as text
// when it is text, base64 otherwise.
func requestJSON(r *store.Request, withBody bool) ReceivedRequest {
	out := ReceivedRequest{ID: r.ID, ReceivedAt: r.ReceivedAt, Method: r.Method, URL: r.URL, CallerIP: r.CallerIP,
		Headers: r.Headers, Status: r.Status, DurationMS: r.DurationMS, JobID: r.JobID, Route: r.Route,
		AuthOK: r.AuthOK, AuthReason: r.AuthReason, BodyTruncated: r.BodyTruncated, RunFailed: r.RunFailed, Note: r.Note,
		// Refused on its headers alone (a missing or stale signature):
		// its body was never read, so there is nothing to replay.
		BodyUnread: r.BodyTruncated && len(r.Body) == 0, ReplayOf: r.ReplayOf}
	if r.Response != nil {
		out.Response = new(string(r.Response))
	}
	if withBody {
		if utf8.Valid(r.Body) {
			out.Body = new(string(r.Body))
		} else {
			out.BodyBase64 = new(base64.StdEncoding.EncodeToString(r.Body))
		}
	}
	return out
}

// Mux is where the inspector's routes are mounted.
type Mux interface {
	HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request))
}

// Register mounts the inspector: list, one request, live feed, and
// replay. Bodies can hold anything a caller sent: mux must let only full
// access through.
func (rec *Recorder) Register(mux Mux) {
	log := rec.cfg.Log
	mux.HandleFunc("GET /api/millrun/requests", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
		limit, _ := strconv.Atoi(q.Get("limit"))
		list, err := rec.cfg.DB.ListRequests(r.Context(), store.RequestFilter{Before: before, Limit: limit, Route: q.Get("route"),
			JobID: q.Get("job_id"), Failed: q.Get("failed") == "true", Text: q.Get("q")})
		if err != nil {
			apierr.Write(w, log, err)
			return
		}
		out := make([]ReceivedRequest, len(list))
		for i := range list {
			out[i] = requestJSON(&list[i], false)
		}
		httpx.JSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /api/millrun/requests/events", func(w http.ResponseWriter, r *http.Request) {
		ch, stop := rec.feed.subscribe()
		defer stop()
		httpx.Stream(w, r, ch, func(f http.Flusher, req *store.Request) { httpx.Event(w, f, "request", requestJSON(req, false)) })
	})
	mux.HandleFunc("GET /api/millrun/requests/{id}", func(w http.ResponseWriter, r *http.Request) {
		req, err := rec.load(r)
		if err != nil {
			apierr.Write(w, log, err)
			return
		}
		httpx.JSON(w, http.StatusOK, requestJSON(req, true))
	})
	mux.HandleFunc("POST /api/millrun/requests/{id}/replay", func(w http.ResponseWriter, r *http.Request) {
		req, err := rec.load(r)
		if err != nil {
			apierr.Write(w, log, err)
			return
		}
		if req.BodyTruncated && len(req.Body) == 0 {
			apierr.Write(w, log, apierr.Conflict("request %d was refused before its body was read (%s), so there is no body to replay", req.ID, req.AuthReason))
			return
		}
		if req.BodyTruncated {
			apierr.Write(w, log, apierr.Conflict("request %d was larger than the inspector keeps (%d KiB), so it cannot be replayed", req.ID, BodyLimit>>10))
			return
		}
		// A refused request carries a caller's arguments that failed the
		// route's check (a forged signature, say): it runs only when the
		// user confirms, knowing why it was refused.
		var confirm struct {
			RunRefused bool `json:"run_refused"`
		}
		if r.ContentLength != 0 {
			if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&confirm); err != nil {
				apierr.Write(w, log, apierr.BadRequest("the body must be {\"run_refused\": true} or empty: %v", err))
				return
			}
		}
		if !req.AuthOK && !confirm.RunRefused {
			apierr.Write(w, log, apierr.Conflict("request %d was refused (%s): replaying it runs the script with the arguments of a caller who failed the check; send {\"run_refused\": true} to run it anyway", req.ID, refusalReason(req)))
			return
		}
		res, err := rec.replay(r.Context(), req)
		if err != nil {
			apierr.Write(w, log, err)
			return
		}
		httpx.JSON(w, http.StatusOK, res)
	})
}

func (rec *Recorder) load(r *http.Request) (*store.Request, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, apierr.NotFound("request %s", r.PathValue("id"))
	}
	req, err := rec.cfg.DB.GetRequest(r.Context(), id)
	if err == store.ErrNotFound {
		return nil, apierr.NotFound("request %d", id)
	}
	return req, err
}

// replay sends a recorded request through the same route again, as the
// user who asked: routes skip their own checks (signatures included) for
// it, and the new request is recorded as a replay of the old one.
func (rec *Recorder) replay(ctx context.Context, old *store.Request) (ReplayResult, error) {
	u, err := url.Parse(old.URL)
	if err != nil {
		return ReplayResult{}, apierr.BadRequest("request %d has an unreadable URL", old.ID)
	}
	r := httptest.NewRequest(old.Method, u.RequestURI(), bytes.NewReader(old.Body))
	for k, v := range old.Headers {
		if v != "[redacted]" {
			r.Header.Set(k, v)
		}
	}
	r.RemoteAddr = "127.0.0.1:0"
	rp := replayOf{id: old.ID}
	id := reqctx.Identity(ctx)
	if !old.AuthOK {
		rp.refused = refusalReason(old)
		marked := *id // the run says whose confirmation started it
		marked.Label = fmt.Sprintf("%s (replay of refused request %d)", id.Label, old.ID)
		id = &marked
	}
	rctx := reqctx.AsReplay(context.WithValue(ctx, replayOfKey{}, rp), rp.refused != "")
	w := httptest.NewRecorder()
	rec.cfg.Serve(w, r.WithContext(rctx), id)
	body := w.Body.String()
	if len(body) > 64<<10 {
		body = body[:64<<10]
	}
	return ReplayResult{Status: w.Code, JobID: w.Header().Get("X-Millrun-Job-Id"), Body: body}, nil
}

func refusalReason(r *store.Request) string {
	if r.AuthReason != "" {
		return r.AuthReason
	}
	return fmt.Sprintf("answered %d", r.Status)
}
