package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Request is one received webhook or route request.
type Request struct {
	ID            int64             `json:"id"`
	ReceivedAt    time.Time         `json:"received_at"`
	Method        string            `json:"method"`
	URL           string            `json:"url"`
	CallerIP      string            `json:"caller_ip"`
	Headers       map[string]string `json:"headers"`
	Body          []byte            `json:"-"`
	BodyTruncated bool              `json:"body_truncated"`
	Status        int               `json:"status"`
	DurationMS    int64             `json:"duration_ms"`
	JobID         string            `json:"job_id,omitempty"`
	Route         string            `json:"route,omitempty"`
	AuthOK        bool              `json:"auth_ok"`
	AuthReason    string            `json:"auth_reason,omitempty"`
	ReplayOf      int64             `json:"replay_of,omitempty"`
	// Response is the start of millrun's answer (lists carry it only for
	// answers of 400 and up); RunFailed says the answer was a run's
	// failure; Note is for answers millrun gave itself.
	Response  []byte `json:"-"`
	RunFailed bool   `json:"run_failed"`
	Note      string `json:"note,omitempty"`
}

// AddRequest records a request without waiting for the disk: the
// inspector must never slow a webhook down. Requests are written in
// batches, many rows to one statement, so they cost the single writer a
// fraction of what the jobs themselves do; a crash can lose the last
// fraction of a second of them, never a job. done (may be nil) gets the
// request with its id once it is stored.
func (db *DB) AddRequest(r *Request, headersJSON string, done func(*Request)) {
	db.reqMu.Lock()
	defer db.reqMu.Unlock()
	if db.reqClosed {
		return
	}
	db.reqPending = append(db.reqPending, pendingRequest{r, headersJSON, done})
	if len(db.reqPending) == 1 {
		time.AfterFunc(requestFlushDelay, db.flushRequests)
	}
}

const (
	requestFlushDelay    = 50 * time.Millisecond
	requestRowsPerInsert = 64 // 17 parameters a row, well under SQLite's limit
)

type pendingRequest struct {
	r       *Request
	headers string
	done    func(*Request)
}

func (db *DB) flushRequests() {
	db.reqMu.Lock()
	batch := db.reqPending
	db.reqPending = nil
	if len(batch) > 0 {
		db.reqFlushes.Add(1) // under the lock: closeRequests waits for it
	}
	db.reqMu.Unlock()
	if len(batch) == 0 {
		return
	}
	// History, not jobs: a power loss may lose its last moments.
	db.group.submitAsyncWith(SurvivesCrash, func(tx *sql.Tx) error {
		for start := 0; start < len(batch); start += requestRowsPerInsert {
			if err := insertRequests(tx, batch[start:min(start+requestRowsPerInsert, len(batch))]); err != nil {
				return err
			}
		}
		return nil
	}, func(err error) {
		defer db.reqFlushes.Done()
		if err != nil {
			return
		}
		for _, p := range batch {
			if p.done != nil {
				p.done(p.r)
			}
		}
	})
}

func insertRequests(tx *sql.Tx, rows []pendingRequest) error {
	var q strings.Builder
	q.WriteString(`INSERT INTO requests (received_at, method, url, caller_ip, headers, body, body_truncated, status, duration_ms, job_id, route, auth_ok, auth_reason, replay_of, response, run_failed, note) VALUES `)
	args := make([]any, 0, len(rows)*17)
	for i, p := range rows {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
		r := p.r
		args = append(args, micros(r.ReceivedAt), r.Method, r.URL, r.CallerIP, p.headers, r.Body, r.BodyTruncated, r.Status, r.DurationMS, r.JobID, r.Route, r.AuthOK, r.AuthReason, nullInt(r.ReplayOf),
			r.Response, r.RunFailed, r.Note)
	}
	res, err := tx.Exec(q.String(), args...)
	if err != nil {
		return err
	}
	// One statement on the only writer: the rows got consecutive ids.
	last, err := res.LastInsertId()
	if err != nil {
		return err
	}
	for i, p := range rows {
		p.r.ID = last - int64(len(rows)-1-i)
	}
	return nil
}

// closeRequests writes what is pending and stops taking more.
func (db *DB) closeRequests() {
	db.reqMu.Lock()
	db.reqClosed = true
	db.reqMu.Unlock()
	db.flushRequests()
	db.reqFlushes.Wait()
}

// RequestFilter narrows ListRequests.
type RequestFilter struct {
	Before int64 // id cursor; 0: newest
	Limit  int
	Route  string
	JobID  string
	Failed bool   // only refused or failed (status >= 400, or a run that failed)
	Text   string // in the URL or the route's name
}

// ListRequests returns requests newest first; bodies are left out.
func (db *DB) ListRequests(ctx context.Context, f RequestFilter) ([]Request, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	if f.Before <= 0 {
		f.Before = 1<<63 - 1
	}
	q := `SELECT id, received_at, method, url, caller_ip, headers, NULL, body_truncated, status, duration_ms, job_id, route, auth_ok, auth_reason, replay_of,
		CASE WHEN status >= 400 THEN substr(response, 1, 300) END, run_failed, note FROM requests WHERE id < ?`
	args := []any{f.Before}
	if f.Route != "" {
		q += ` AND route = ?`
		args = append(args, f.Route)
	}
	if f.JobID != "" {
		q += ` AND job_id = ?`
		args = append(args, f.JobID)
	}
	if f.Failed {
		q += ` AND (status >= 400 OR run_failed = 1)`
	}
	if f.Text != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(f.Text) + "%"
		q += ` AND (url LIKE ? ESCAPE '\' OR route LIKE ? ESCAPE '\')`
		args = append(args, like, like)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	return appendRows([]Request{}, rows, func(row rowScanner) (Request, error) {
		r, err := scanRequest(row)
		if err != nil {
			return Request{}, err
		}
		return *r, nil
	})
}

// GetRequest returns one request with its body.
func (db *DB) GetRequest(ctx context.Context, id int64) (*Request, error) {
	row := db.read.QueryRowContext(ctx, `SELECT id, received_at, method, url, caller_ip, headers, body, body_truncated, status, duration_ms, job_id, route, auth_ok, auth_reason, replay_of,
		response, run_failed, note FROM requests WHERE id = ?`, id)
	r, err := scanRequest(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return r, err
}

func scanRequest(s interface{ Scan(...any) error }) (*Request, error) {
	var r Request
	var at int64
	var headers string
	var replay sql.NullInt64
	if err := s.Scan(&r.ID, &at, &r.Method, &r.URL, &r.CallerIP, &headers, &r.Body, &r.BodyTruncated, &r.Status, &r.DurationMS, &r.JobID, &r.Route, &r.AuthOK, &r.AuthReason, &replay,
		&r.Response, &r.RunFailed, &r.Note); err != nil {
		return nil, err
	}
	r.ReceivedAt = time.UnixMicro(at).UTC()
	r.ReplayOf = replay.Int64
	r.Headers = map[string]string{}
	_ = json.Unmarshal([]byte(headers), &r.Headers)
	return &r, nil
}

// PruneRequests keeps requests like jobs: younger than cutoff, at most
// keep accepted ones and keepRefused refused ones (counted apart, so a
// flood of refused requests cannot push the user's own out), and their
// bodies within maxBodyBytes together (a flood of large bodies must not
// fill the disk before the age limit comes).
func (db *DB) PruneRequests(ctx context.Context, cutoff time.Time, keep, keepRefused int, maxBodyBytes int64) error {
	return db.group.submit(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM requests WHERE received_at < ?`, micros(cutoff)); err != nil {
			return err
		}
		for _, c := range []struct {
			ok   bool
			keep int
		}{{true, keep}, {false, keepRefused}} {
			if _, err := tx.Exec(`DELETE FROM requests WHERE auth_ok = ? AND id <= (SELECT id FROM requests WHERE auth_ok = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`, c.ok, c.ok, c.keep); err != nil {
				return err
			}
		}
		_, err := tx.Exec(`DELETE FROM requests WHERE id <= (
			SELECT id FROM (SELECT id, SUM(length(body)) OVER (ORDER BY id DESC) AS total FROM requests)
			WHERE total > ? ORDER BY id DESC LIMIT 1)`, maxBodyBytes)
		return err
	})
}
