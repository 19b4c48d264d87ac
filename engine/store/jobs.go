package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
	"strings"
	"sync/atomic"
	"time"
)

// Job states, enforced by a CHECK constraint in the schema.
const (
	StatusQueued   = "queued"
	StatusRunning  = "running"
	StatusSuccess  = "success"
	StatusFailure  = "failure"
	StatusCanceled = "canceled"
)

// Job is one run of a script or flow.
type Job struct {
	ID               string
	Workspace        string
	Kind             string
	ScriptPath       string
	ScriptHash       string
	Language         string
	Args             string // JSON object text
	Status           string
	Result           string // JSON text, empty while unfinished
	Logs             string
	CreatedAt        time.Time
	ScheduledFor     time.Time
	StartedAt        time.Time
	CompletedAt      time.Time
	DurationMs       int64
	TimeoutS         int
	ConcurrencyLimit int
	Trigger          string
	CreatedBy        string
	TokenID          int64
	Headers          string // JSON object text, may be empty
	CanceledBy       string
	CanceledReason   string
	ParentJob        string // the flow job a step belongs to
	FlowStatus       string // JSON, flow jobs only
	SchedulePath     string // the schedule that started it, if one did
	// Priority orders due jobs, higher first (a script's Windmill
	// priority). It is not stored: jobs reloaded at a start run in order.
	Priority int

	// Durability is not stored: it is how the job's own writes (queued,
	// running, finished) are committed, chosen when it is accepted. Jobs
	// read back from disk get the strict zero value.
	Durability Durability

	insert *pendingInsert // set by InsertJobAsync
}

// pendingInsert lets a job's running mark ride on its own insert when a
// worker takes the job before the insert is written, the usual case for a
// sync webhook on an idle queue: one commit instead of two on the path the
// caller waits on.
type pendingInsert struct {
	phase     atomic.Int32
	startedAt time.Time // set before phase becomes startRequested
	committed chan struct{}
	err       error // set before committed is closed
}

const (
	insertQueued int32 = iota
	insertWritten
	startRequested
)

// Finished reports whether the job reached a final state.
func (j *Job) Finished() bool {
	return j.Status == StatusSuccess || j.Status == StatusFailure || j.Status == StatusCanceled
}

// ErrDuplicateJob is returned when a caller-chosen job id already exists.
var ErrDuplicateJob = errors.New("a job with this id already exists")

// InsertJob durably records a new job. Concurrent calls share a commit.
func (db *DB) InsertJob(ctx context.Context, j *Job) error {
	err := db.group.submit(ctx, db.insertJobOp(j))
	if err != nil {
		return fmt.Errorf("insert job %s: %w", j.ID, err)
	}
	return nil
}

// InsertJobAsync queues the insert and returns before it is on disk; later
// writes for the job are ordered after it. For jobs whose caller is waiting
// on the result anyway (sync webhooks), durability of the queued state buys
// nothing and would cost an fsync on the reply path.
func (db *DB) InsertJobAsync(j *Job, done func(error)) {
	db.InsertJobLater(j, done)()
}

// InsertJobLater readies j's insert and returns the function that queues
// it. In between the job may be handed to a worker: its running mark then
// waits for the insert and rides on it, one commit instead of two.
func (db *DB) InsertJobLater(j *Job, done func(error)) (submit func()) {
	p := &pendingInsert{committed: make(chan struct{})}
	j.insert = p
	op := db.insertJobOp(j)
	return func() {
		db.group.submitAsyncWith(j.Durability, op, func(err error) {
			p.err = err
			close(p.committed)
			if done != nil {
				done(err)
			}
		})
	}
}

const insertJobSQL = `INSERT INTO jobs (id, workspace, kind, script_path, script_hash, language, args, status,
	created_at, scheduled_for, started_at, timeout_s, concurrency_limit, trigger, created_by, token_id, headers, parent_job, flow_status, schedule_path)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// The ops below copy the job when built: with unawaited writes the caller
// goes on changing its job (a worker marks it running) while the op waits.
func (db *DB) insertJobOp(job *Job) func(tx *sql.Tx) error {
	j := *job
	return func(tx *sql.Tx) error {
		if p := j.insert; p != nil && !p.phase.CompareAndSwap(insertQueued, insertWritten) && p.phase.Load() == startRequested {
			j.Status, j.StartedAt = StatusRunning, p.startedAt
		}
		_, err := tx.Stmt(db.insertJob).Exec(
			j.ID, j.Workspace, j.Kind, j.ScriptPath, j.ScriptHash, j.Language, j.Args, j.Status,
			micros(j.CreatedAt), micros(j.ScheduledFor), nullMicros(j.StartedAt), j.TimeoutS, j.ConcurrencyLimit, j.Trigger, j.CreatedBy,
			nullInt(j.TokenID), nullString(j.Headers), nullString(j.ParentJob), nullString(j.FlowStatus), nullString(j.SchedulePath))
		if isDuplicateKey(err) {
			return ErrDuplicateJob
		}
		return err
	}
}

// MarkRunning records that a job has started, as durably as the job asks:
// once it returns, a crash cannot leave the job looking queued.
func (db *DB) MarkRunning(ctx context.Context, j *Job) error {
	id := j.ID
	if p := rideOnInsert(j); p != nil {
		<-p.committed // the insert writes the job as running
		if p.err != nil {
			return fmt.Errorf("mark job %s running: %w", id, p.err)
		}
		return nil
	}
	err := db.group.submitWith(ctx, j.Durability, db.markRunningOp(id, j.StartedAt))
	if err != nil {
		return fmt.Errorf("mark job %s running: %w", id, err)
	}
	return nil
}

// MarkRunningAsync queues a job's running mark without waiting for it; see
// MarkRunning. The caller has made the start known in another way that
// survives a crash (the queue's start log).
func (db *DB) MarkRunningAsync(j *Job) {
	if rideOnInsert(j) != nil {
		return // the insert writes the job as running
	}
	db.group.submitAsyncWith(j.Durability, db.markRunningOp(j.ID, j.StartedAt), nil)
}

// rideOnInsert hands j's start to its insert when that is not written
// yet, and returns the insert then; nil means the mark is a write of its
// own.
func rideOnInsert(j *Job) *pendingInsert {
	p := j.insert
	if p == nil {
		return nil
	}
	p.startedAt = j.StartedAt
	if !p.phase.CompareAndSwap(insertQueued, startRequested) {
		return nil
	}
	return p
}

// AfterWrites calls done once every write submitted before it is
// committed.
func (db *DB) AfterWrites(done func()) {
	db.group.submitAsyncWith(SurvivesCrash, func(*sql.Tx) error { return nil }, func(error) { done() })
}

// MarkStarted durably marks running those of ids still queued: jobs a
// previous run of millrun started but had not yet marked when it died.
func (db *DB) MarkStarted(ctx context.Context, ids []string) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(ids); start += 500 {
			chunk := ids[start:min(start+500, len(ids))]
			args := make([]any, len(chunk))
			for i, id := range chunk {
				args[i] = id
			}
			q := `UPDATE jobs SET status = 'running' WHERE status = 'queued' AND id IN (?` + strings.Repeat(",?", len(chunk)-1) + `)`
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("mark started jobs: %w", err)
			}
		}
		return nil
	})
}

const markRunningSQL = `UPDATE jobs SET status = 'running', started_at = ? WHERE id = ? AND status = 'queued'`

func (db *DB) markRunningOp(id string, startedAt time.Time) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := tx.Stmt(db.markRunning).Exec(micros(startedAt), id)
		return err
	}
}

// FinishJobAsync records a job's final state, result and logs, without
// waiting; done runs after the commit.
func (db *DB) FinishJobAsync(j *Job, done func(error)) {
	db.group.submitAsyncWith(j.Durability, db.finishJobOp(j), done)
}

const finishJobSQL = `UPDATE jobs SET status = ?, result = ?, logs = ?, started_at = ?, completed_at = ?, duration_ms = ?,
	canceled_by = ?, canceled_reason = ?, flow_status = COALESCE(?, flow_status) WHERE id = ?`

func (db *DB) finishJobOp(job *Job) func(tx *sql.Tx) error {
	j := *job
	return func(tx *sql.Tx) error {
		_, err := tx.Stmt(db.finishJob).Exec(
			j.Status, nullString(j.Result), j.Logs, nullMicros(j.StartedAt), micros(j.CompletedAt), j.DurationMs,
			nullString(j.CanceledBy), nullString(j.CanceledReason), nullString(j.FlowStatus), j.ID)
		return err
	}
}

// FailRunning marks every job left running (by a crash) as failed with
// result, and returns how many there were. A flow's sub-flows (its loop
// iterations, branches and flow steps) are left to it: it resumes them
// (see RequeueInterruptedFlows).
func (db *DB) FailRunning(ctx context.Context, result string, at time.Time) (int64, error) {
	var n int64
	err := db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET status = 'failure', result = ?, completed_at = ?,
			duration_ms = CASE WHEN started_at IS NULL THEN 0 ELSE (? - started_at) / 1000 END
			WHERE status = 'running' AND NOT (parent_job IS NOT NULL AND kind IN ('flow', 'flownode'))`, result, micros(at), micros(at))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("recover running jobs: %w", err)
	}
	return n, nil
}

const jobColumns = `id, workspace, kind, script_path, script_hash, language, args, status, COALESCE(result, ''), logs,
	created_at, scheduled_for, started_at, completed_at, COALESCE(duration_ms, 0), timeout_s, concurrency_limit, trigger,
	created_by, COALESCE(token_id, 0), COALESCE(headers, ''), COALESCE(canceled_by, ''), COALESCE(canceled_reason, ''),
	COALESCE(parent_job, ''), COALESCE(flow_status, ''), COALESCE(schedule_path, '')`

// jobListColumns leaves out the large fields the Runs list never shows, and
// arguments over 2 KiB (the job's own page has them): a list of jobs that
// got 10 MiB bodies must stay small.
const jobListColumns = `id, workspace, kind, script_path, script_hash, language, CASE WHEN length(args) > 2048 THEN '' ELSE args END, status, '', '',
	created_at, scheduled_for, started_at, completed_at, COALESCE(duration_ms, 0), timeout_s, concurrency_limit, trigger,
	created_by, COALESCE(token_id, 0), COALESCE(headers, ''), COALESCE(canceled_by, ''), COALESCE(canceled_reason, ''),
	COALESCE(parent_job, ''), COALESCE(flow_status, ''), COALESCE(schedule_path, '')`

func scanJob(row interface{ Scan(...any) error }) (*Job, error) {
	var j Job
	var created, scheduled int64
	var started, completed sql.NullInt64
	err := row.Scan(&j.ID, &j.Workspace, &j.Kind, &j.ScriptPath, &j.ScriptHash, &j.Language, &j.Args, &j.Status, &j.Result, &j.Logs,
		&created, &scheduled, &started, &completed, &j.DurationMs, &j.TimeoutS, &j.ConcurrencyLimit, &j.Trigger,
		&j.CreatedBy, &j.TokenID, &j.Headers, &j.CanceledBy, &j.CanceledReason, &j.ParentJob, &j.FlowStatus, &j.SchedulePath)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	j.CreatedAt = time.UnixMicro(created).UTC()
	j.ScheduledFor = time.UnixMicro(scheduled).UTC()
	j.StartedAt = fromMicros(started)
	j.CompletedAt = fromMicros(completed)
	return &j, nil
}

// GetJob returns one job with its result and logs.
func (db *DB) GetJob(ctx context.Context, workspace, id string) (*Job, error) {
	return scanJob(db.read.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE workspace = ? AND id = ?`, workspace, id))
}

// UnfinishedJobs returns the jobs still queued, oldest first, to refill the
// in-memory queue on start.
func (db *DB) UnfinishedJobs(ctx context.Context) ([]*Job, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE status = 'queued' ORDER BY scheduled_for, created_at`)
	if err != nil {
		return nil, fmt.Errorf("load queued jobs: %w", err)
	}
	return appendRows(nil, rows, scanJob)
}

// JobFilter selects a page of jobs, newest first.
type JobFilter struct {
	Workspace string
	Path      string // exact script path, empty for all
	// PathPrefix keeps paths that start with it (Windmill's
	// script_path_start); PathContains those with it anywhere, in any case.
	PathPrefix   string
	PathContains string
	Statuses     []string // empty for all
	Trigger      string
	// SchedulePath keeps the jobs one schedule started.
	SchedulePath string
	// Keyset cursor: jobs strictly older than (Before, BeforeID).
	Before   time.Time
	BeforeID string
	// CreatedAfter bounds the page from below (exclusive); zero for none.
	CreatedAfter time.Time
	// WithFlowSteps includes the child jobs of flows (hidden by default,
	// as in Windmill's runs list).
	WithFlowSteps bool
	// ParentJob keeps the direct children of one flow job.
	ParentJob string
	// OnlyFlowSteps keeps the child jobs of flows only.
	OnlyFlowSteps bool
	// Kinds keeps jobs of these kinds (Windmill's job_kinds); empty for all.
	Kinds  []string
	Limit  int
	Offset int
}

// jobWhere is the WHERE clause (and its arguments) of f, shared by the
// list and its count.
func jobWhere(f JobFilter) ([]string, []any) {
	var where []string
	var args []any
	where = append(where, "workspace = ?")
	args = append(args, f.Workspace)
	if f.Path != "" {
		where = append(where, "script_path = ?")
		args = append(args, f.Path)
	}
	if f.PathPrefix != "" {
		where = append(where, "substr(script_path, 1, length(?)) = ?")
		args = append(args, f.PathPrefix, f.PathPrefix)
	}
	if f.PathContains != "" {
		// instr, not LIKE: % and _ in what the user typed are themselves.
		where = append(where, "instr(lower(script_path), lower(?)) > 0")
		args = append(args, f.PathContains)
	}
	if len(f.Statuses) > 0 {
		where = append(where, "status IN (?"+strings.Repeat(", ?", len(f.Statuses)-1)+")")
		for _, s := range f.Statuses {
			args = append(args, s)
		}
	}
	switch {
	case f.ParentJob != "":
		where = append(where, "parent_job = ?")
		args = append(args, f.ParentJob)
	case f.OnlyFlowSteps:
		where = append(where, "parent_job IS NOT NULL")
	case !f.WithFlowSteps:
		where = append(where, "parent_job IS NULL")
	}
	if len(f.Kinds) > 0 {
		where = append(where, "kind IN (?"+strings.Repeat(", ?", len(f.Kinds)-1)+")")
		for _, k := range f.Kinds {
			args = append(args, k)
		}
	}
	if f.Trigger != "" {
		where = append(where, "trigger = ?")
		args = append(args, f.Trigger)
	}
	if f.SchedulePath != "" {
		where = append(where, "schedule_path = ?")
		args = append(args, f.SchedulePath)
	}
	if !f.Before.IsZero() {
		if f.BeforeID != "" {
			// A row value, unlike the equivalent OR, lets SQLite seek the
			// index straight to the cursor: deep pages cost what the first does.
			where = append(where, "(created_at, id) < (?, ?)")
			args = append(args, micros(f.Before), f.BeforeID)
		} else {
			where = append(where, "created_at < ?")
			args = append(args, micros(f.Before))
		}
	}
	if !f.CreatedAfter.IsZero() {
		where = append(where, "created_at > ?")
		args = append(args, micros(f.CreatedAfter))
	}
	return where, args
}

// CountJobs counts the jobs f matches, whatever its Limit and Offset.
func (db *DB) CountJobs(ctx context.Context, f JobFilter) (int, error) {
	where, args := jobWhere(f)
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM jobs WHERE `+strings.Join(where, " AND "), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count jobs: %w", err)
	}
	return n, nil
}

// ListJobs returns a page of jobs without result and logs.
func (db *DB) ListJobs(ctx context.Context, f JobFilter) ([]*Job, error) {
	where, args := jobWhere(f)
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	q := `SELECT ` + jobListColumns + ` FROM jobs WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`
	args = append(args, limit, f.Offset)
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return appendRows(nil, rows, scanJob)
}

// stepsOfOpenFlows keeps the finished steps of a flow job that has not
// finished (one that waits for an approval, maybe for days): it reads
// their results when it goes on, and its answers hang on a step's job.
const stepsOfOpenFlows = ` AND (parent_job IS NULL OR parent_job NOT IN (SELECT id FROM jobs WHERE status IN ('queued', 'running')))`

// PruneJobs deletes finished jobs created before cutoff and finished jobs
// beyond the newest keep ones. It returns how many were deleted.
func (db *DB) PruneJobs(ctx context.Context, cutoff time.Time, keep int) (int64, error) {
	var total int64
	err := db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE created_at < ? AND completed_at IS NOT NULL`+stepsOfOpenFlows, micros(cutoff))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		total += n
		if keep > 0 {
			var boundary sql.NullInt64
			err := tx.QueryRowContext(ctx, `SELECT created_at FROM jobs ORDER BY created_at DESC LIMIT 1 OFFSET ?`, keep).Scan(&boundary)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if boundary.Valid {
				res, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE created_at <= ? AND completed_at IS NOT NULL`+stepsOfOpenFlows, boundary.Int64)
				if err != nil {
					return err
				}
				n, _ := res.RowsAffected()
				total += n
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune jobs: %w", err)
	}
	return total, nil
}

func nullInt(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

// ImportJobs inserts finished jobs in one transaction (imports, fixtures).
func (db *DB) ImportJobs(ctx context.Context, list []*Job) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO jobs (id, workspace, kind, script_path, script_hash, language, args, status, result, logs,
			created_at, scheduled_for, started_at, completed_at, duration_ms, trigger, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, j := range list {
			if _, err := stmt.ExecContext(ctx, j.ID, j.Workspace, j.Kind, j.ScriptPath, j.ScriptHash, j.Language, j.Args, j.Status,
				nullString(j.Result), j.Logs, micros(j.CreatedAt), micros(j.ScheduledFor), nullMicros(j.StartedAt), nullMicros(j.CompletedAt),
				j.DurationMs, j.Trigger, j.CreatedBy); err != nil {
				return fmt.Errorf("import job %s: %w", j.ID, err)
			}
		}
		return nil
	})
}

// isDuplicateKey reports whether err is SQLite refusing a second row with
// the same key.
func isDuplicateKey(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code()
	return code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || code == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}
