package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Writes and reads a flow makes as it runs: each step's start and end is
// committed before the flow goes on, so a flow resumes after a crash
// from the first step that had not finished.

// Commit runs ops in one grouped transaction, as durably as d says, and
// returns once it is committed.
func (db *DB) Commit(ctx context.Context, d Durability, ops ...func(tx *sql.Tx) error) error {
	return db.group.submitWith(ctx, d, func(tx *sql.Tx) error {
		for _, op := range ops {
			if err := op(tx); err != nil {
				return err
			}
		}
		return nil
	})
}

// InsertJobOp is the insert of a new job, for Commit.
func (db *DB) InsertJobOp(j *Job) func(tx *sql.Tx) error {
	c := *j
	c.insert = nil
	return db.insertJobOp(&c)
}

// FinishJobOp records a job's final state, for Commit.
func (db *DB) FinishJobOp(j *Job) func(tx *sql.Tx) error { return db.finishJobOp(j) }

// SetFlowStatusOp records a flow job's progress, for Commit.
func SetFlowStatusOp(id, status string) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE jobs SET flow_status = ? WHERE id = ?`, status, id)
		return err
	}
}

// SetArgsOp replaces a job's arguments (a flow's, by its preprocessor).
func SetArgsOp(id, args string) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE jobs SET args = ? WHERE id = ?`, args, id)
		return err
	}
}

// RequeueJob puts a running job back in the queue, due at j.ScheduledFor,
// keeping its start time, logs and flow status: a flow that waits (a
// sleep, an approval) or that millrun's exit interrupted.
func (db *DB) RequeueJob(ctx context.Context, j *Job) error {
	err := db.group.submitWith(ctx, j.Durability, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE jobs SET status = 'queued', scheduled_for = ?, logs = ?, flow_status = COALESCE(?, flow_status)
			WHERE id = ? AND status = 'running'`, micros(j.ScheduledFor), j.Logs, nullString(j.FlowStatus), j.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("requeue job %s: %w", j.ID, err)
	}
	return nil
}

// WakeJobAsync moves a queued job's due time to at.
func (db *DB) WakeJobAsync(id string, at time.Time) {
	db.group.submitAsync(func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE jobs SET scheduled_for = ? WHERE id = ? AND status = 'queued'`, micros(at), id)
		return err
	}, nil)
}

// RequeueInterruptedFlows puts the top-level flows a crash left running
// back in the queue: they resume from their status. It returns how many.
func (db *DB) RequeueInterruptedFlows(ctx context.Context) (int64, error) {
	var n int64
	err := db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET status = 'queued' WHERE status = 'running' AND kind = 'flow' AND parent_job IS NULL`)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("requeue interrupted flows: %w", err)
	}
	return n, nil
}

// JobsByID returns the jobs with the given ids that exist, by id.
func (db *DB) JobsByID(ctx context.Context, workspace string, ids []string) (map[string]*Job, error) {
	out := map[string]*Job{}
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := []any{workspace}
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := db.read.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE workspace = ? AND id IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read jobs: %w", err)
		}
		err = eachRow(rows, func(row rowScanner) error {
			j, err := scanJob(row)
			if err == nil {
				out[j.ID] = j
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ChildJobs returns a flow job's direct children, oldest first.
func (db *DB) ChildJobs(ctx context.Context, workspace, parent string) ([]*Job, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE workspace = ? AND parent_job = ? ORDER BY created_at, id`, workspace, parent)
	if err != nil {
		return nil, fmt.Errorf("read child jobs: %w", err)
	}
	return appendRows(nil, rows, scanJob)
}

// CachedJob returns the newest successful job of script path at hash
// with exactly these arguments that completed after since: a cached
// result (a step's or a flow's cache_ttl).
func (db *DB) CachedJob(ctx context.Context, workspace, kind, path, hash, args string, since time.Time) (*Job, error) {
	return scanJob(db.read.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE workspace = ? AND script_path = ? AND script_hash = ?
		AND kind = ? AND args = ? AND status = 'success' AND completed_at > ? ORDER BY completed_at DESC LIMIT 1`,
		workspace, path, hash, kind, args, micros(since)))
}

// CloseDescendantsAsync ends the jobs under a finished flow that are not
// finished yet (its loop iterations and branches, when it was canceled
// while waiting) with status and result.
func (db *DB) CloseDescendantsAsync(root, status, result string, at time.Time) {
	db.group.submitAsync(func(tx *sql.Tx) error {
		_, err := tx.Exec(`WITH RECURSIVE under(id) AS (
				SELECT id FROM jobs WHERE parent_job = ?
				UNION ALL SELECT j.id FROM jobs j JOIN under u ON j.parent_job = u.id)
			UPDATE jobs SET status = ?, result = ?, completed_at = ?,
				duration_ms = CASE WHEN started_at IS NULL THEN 0 ELSE (? - started_at) / 1000 END
			WHERE id IN (SELECT id FROM under) AND status IN ('queued', 'running')`, root, status, result, micros(at), micros(at))
		return err
	}, nil)
}

// SwapFlowStatus replaces a waiting (queued) flow's status with next if
// it is still old, and reports whether it did: an answer to a flow that
// waits for approvals lands only on the status it was read from.
func (db *DB) SwapFlowStatus(ctx context.Context, id, old, next string) (bool, error) {
	var n int64
	err := db.group.submitWith(ctx, SurvivesPowerLoss, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE jobs SET flow_status = ? WHERE id = ? AND flow_status = ? AND status = 'queued'`, next, id, old)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("record an answer to flow %s: %w", id, err)
	}
	return n == 1, nil
}
