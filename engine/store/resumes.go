package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Resume is one answer to a flow's approval step: an approval or a
// cancel, with the payload the next step gets as resume.
type Resume struct {
	// StepJob is the suspended step's job: the wait the answer is for.
	StepJob string
	// ResumeID is the link's nonce; each link answers once.
	ResumeID int64
	// FlowJob is the top-level flow, woken by the answer.
	FlowJob  string
	Approver string
	Approved bool
	Value    string // JSON
	At       time.Time
}

// WaitEnd is how a wait for approvals ended.
type WaitEnd struct {
	How string // approved, canceled or timed out
	At  time.Time
}

// Refusals of an answer: the link was used already, or the wait it is
// for is over (an answer then would be ignored, so it is refused).
var (
	ErrResumeUsed = errors.New("this resume link was used already")
	ErrWaitEnded  = errors.New("the wait for approvals has ended")
)

// WaitEndedError says how the wait an answer came too late for ended.
type WaitEndedError struct{ WaitEnd }

func (e *WaitEndedError) Error() string { return ErrWaitEnded.Error() + " (" + e.How + ")" }
func (e *WaitEndedError) Unwrap() error { return ErrWaitEnded }

// AddResume records an answer unless its wait has ended or its link was
// used: checked and written in one transaction, after which the wait's
// end (EndWait) either counts it or comes before it.
func (db *DB) AddResume(ctx context.Context, r Resume) error {
	var refused error
	err := db.group.submit(ctx, func(tx *sql.Tx) error {
		refused = nil
		end, err := waitEnd(tx, r.StepJob)
		if err != nil {
			return err
		}
		if end != nil {
			refused = &WaitEndedError{*end}
			return nil
		}
		// A refusal writes nothing rather than failing the write: a
		// failed write would roll back the others grouped with it.
		res, err := tx.Exec(`INSERT INTO flow_resumes (step_job, resume_id, flow_job, approver, approved, value, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			r.StepJob, r.ResumeID, r.FlowJob, r.Approver, r.Approved, r.Value, micros(r.At))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			refused = ErrResumeUsed
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record an answer to step job %s: %w", r.StepJob, err)
	}
	return refused
}

// Resumes returns the answers to the wait of stepJob, oldest first, and
// its end if it has ended.
func (db *DB) Resumes(ctx context.Context, stepJob string) ([]Resume, *WaitEnd, error) {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	rs, err := resumes(tx, stepJob)
	if err != nil {
		return nil, nil, err
	}
	end, err := waitEnd(tx, stepJob)
	return rs, end, err
}

// EndWait reads the answers to the wait of stepJob and, unless it ended
// already, asks decide whether they end it ("" for not yet): all in one
// transaction with AddResume's, so no answer lands between the reading
// and the end. It returns the answers and the end, if any.
func (db *DB) EndWait(ctx context.Context, stepJob string, at time.Time, decide func([]Resume) string) ([]Resume, *WaitEnd, error) {
	var rs []Resume
	var end *WaitEnd
	err := db.group.submit(ctx, func(tx *sql.Tx) error {
		var err error
		if rs, err = resumes(tx, stepJob); err != nil {
			return err
		}
		if end, err = waitEnd(tx, stepJob); err != nil || end != nil {
			return err
		}
		how := decide(rs)
		if how == "" {
			return nil
		}
		end = &WaitEnd{How: how, At: at.UTC()}
		_, err = tx.Exec(`INSERT INTO flow_waits_ended (step_job, how, ended_at) VALUES (?, ?, ?)`, stepJob, how, micros(at))
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read the answers to step job %s: %w", stepJob, err)
	}
	return rs, end, nil
}

type querier interface {
	Query(query string, args ...any) (*sql.Rows, error)
	QueryRow(query string, args ...any) *sql.Row
}

func resumes(q querier, stepJob string) ([]Resume, error) {
	rows, err := q.Query(`SELECT step_job, resume_id, flow_job, approver, approved, value, created_at FROM flow_resumes
		WHERE step_job = ? ORDER BY created_at, rowid`, stepJob)
	if err != nil {
		return nil, err
	}
	return appendRows(nil, rows, func(row rowScanner) (Resume, error) {
		var r Resume
		var at sql.NullInt64
		err := row.Scan(&r.StepJob, &r.ResumeID, &r.FlowJob, &r.Approver, &r.Approved, &r.Value, &at)
		r.At = fromMicros(at)
		return r, err
	})
}

func waitEnd(q querier, stepJob string) (*WaitEnd, error) {
	var e WaitEnd
	var at sql.NullInt64
	err := q.QueryRow(`SELECT how, ended_at FROM flow_waits_ended WHERE step_job = ?`, stepJob).Scan(&e.How, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	e.At = fromMicros(at)
	return &e, nil
}

// OpenFrames returns root and the unfinished flow jobs under it that
// carry a flow status (its loop iterations, branches and flows run as
// steps), outermost first: where a wait for approvals may be, at any
// depth.
func (db *DB) OpenFrames(ctx context.Context, workspace, root string) ([]*Job, error) {
	rows, err := db.read.QueryContext(ctx, `WITH RECURSIVE under(id, depth) AS (
			SELECT id, 0 FROM jobs WHERE workspace = ? AND id = ?
			UNION ALL SELECT j.id, u.depth + 1 FROM jobs j JOIN under u ON j.parent_job = u.id
				WHERE j.completed_at IS NULL AND j.flow_status IS NOT NULL)
		SELECT `+jobColumns+` FROM jobs JOIN under USING (id) WHERE flow_status IS NOT NULL ORDER BY under.depth, created_at, id`, workspace, root)
	if err != nil {
		return nil, fmt.Errorf("read the flow jobs under %s: %w", root, err)
	}
	return appendRows(nil, rows, scanJob)
}
