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

// ErrDuplicate says a row with that key exists already.
var ErrDuplicate = errors.New("already exists")

// Resource is a stored resource; Value is sealed (see engine/resources).
type Resource struct {
	Workspace    string
	Path         string
	ResourceType string
	Value        []byte
	Description  string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// PutResource creates or replaces a resource. With create set, an
// existing path is an error (ErrDuplicate).
func (db *DB) PutResource(ctx context.Context, r Resource, create bool) error {
	now := micros(time.Now())
	return db.putKeyed(ctx, "resources", r.Workspace, r.Path, create, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO resources (workspace, path, resource_type, value, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (workspace, path) DO UPDATE SET resource_type = excluded.resource_type, value = excluded.value, description = excluded.description, updated_at = excluded.updated_at`,
			r.Workspace, r.Path, r.ResourceType, r.Value, r.Description, now, now)
		return err
	})
}

// putKeyed runs upsert for the row at (workspace, path) of table, after
// checking create's rule: a new row must not exist (ErrDuplicate), an
// update needs one (ErrNotFound). table is the callers' constant.
func (db *DB) putKeyed(ctx context.Context, table, workspace, path string, create bool, upsert func(tx *sql.Tx) error) error {
	return db.group.submit(ctx, func(tx *sql.Tx) error {
		var n int
		_ = tx.QueryRow(`SELECT count(*) FROM `+table+` WHERE workspace = ? AND path = ?`, workspace, path).Scan(&n)
		if create && n > 0 {
			return ErrDuplicate
		}
		if !create && n == 0 {
			return ErrNotFound
		}
		return upsert(tx)
	})
}

// GetResource returns one resource.
func (db *DB) GetResource(ctx context.Context, workspace, path string) (*Resource, error) {
	var r Resource
	var c, u int64
	err := db.read.QueryRowContext(ctx, `SELECT workspace, path, resource_type, value, description, created_at, updated_at FROM resources WHERE workspace = ? AND path = ?`,
		workspace, path).Scan(&r.Workspace, &r.Path, &r.ResourceType, &r.Value, &r.Description, &c, &u)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get resource %s: %w", path, err)
	}
	r.CreatedAt, r.UpdatedAt = time.UnixMicro(c).UTC(), time.UnixMicro(u).UTC()
	return &r, nil
}

// ListResources returns a workspace's resources by path.
func (db *DB) ListResources(ctx context.Context, workspace string) ([]Resource, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT workspace, path, resource_type, value, description, created_at, updated_at FROM resources WHERE workspace = ? ORDER BY path`, workspace)
	if err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	defer rows.Close()
	out := []Resource{}
	for rows.Next() {
		var r Resource
		var c, u int64
		if err := rows.Scan(&r.Workspace, &r.Path, &r.ResourceType, &r.Value, &r.Description, &c, &u); err != nil {
			return nil, err
		}
		r.CreatedAt, r.UpdatedAt = time.UnixMicro(c).UTC(), time.UnixMicro(u).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteResource removes a resource.
func (db *DB) DeleteResource(ctx context.Context, workspace, path string) error {
	return db.execOne(ctx, `DELETE FROM resources WHERE workspace = ? AND path = ?`, workspace, path)
}

// execOne runs a statement that must touch one row (else ErrNotFound).
func (db *DB) execOne(ctx context.Context, query string, args ...any) error {
	return db.group.submit(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(query, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// StoredTrigger is an HTTP route's definition as JSON.
type StoredTrigger struct {
	Workspace  string
	Path       string
	Definition string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// PutTrigger stores a route, checking inside the write that no other route
// holds its key: check(existing) returns an error for a conflict.
func (db *DB) PutTrigger(ctx context.Context, t StoredTrigger, create bool, check func(existing []StoredTrigger) error) error {
	now := micros(time.Now())
	return db.group.submit(ctx, func(tx *sql.Tx) error {
		rows, err := tx.Query(`SELECT workspace, path, definition, created_at, updated_at FROM http_triggers WHERE NOT (workspace = ? AND path = ?)`, t.Workspace, t.Path)
		if err != nil {
			return err
		}
		others, err := scanTriggers(rows)
		if err != nil {
			return err
		}
		if err := check(others); err != nil {
			return err
		}
		var n int
		_ = tx.QueryRow(`SELECT count(*) FROM http_triggers WHERE workspace = ? AND path = ?`, t.Workspace, t.Path).Scan(&n)
		if create && n > 0 {
			return ErrDuplicate
		}
		if !create && n == 0 {
			return ErrNotFound
		}
		_, err = tx.Exec(`INSERT INTO http_triggers (workspace, path, definition, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (workspace, path) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`,
			t.Workspace, t.Path, t.Definition, now, now)
		return err
	})
}

// ListTriggers returns every route.
func (db *DB) ListTriggers(ctx context.Context) ([]StoredTrigger, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT workspace, path, definition, created_at, updated_at FROM http_triggers ORDER BY path`)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	return scanTriggers(rows)
}

func scanTriggers(rows *sql.Rows) ([]StoredTrigger, error) {
	defer rows.Close()
	out := []StoredTrigger{}
	for rows.Next() {
		var t StoredTrigger
		var c, u int64
		if err := rows.Scan(&t.Workspace, &t.Path, &t.Definition, &c, &u); err != nil {
			return nil, err
		}
		t.CreatedAt, t.UpdatedAt = time.UnixMicro(c).UTC(), time.UnixMicro(u).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteTrigger removes a route.
func (db *DB) DeleteTrigger(ctx context.Context, workspace, path string) error {
	return db.execOne(ctx, `DELETE FROM http_triggers WHERE workspace = ? AND path = ?`, workspace, path)
}

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
	defer rows.Close()
	out := []Request{}
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, rows.Err()
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
