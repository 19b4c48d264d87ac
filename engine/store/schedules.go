package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Schedule is a stored schedule. NextDue is the due time not yet handled
// (zero while disabled); Error is the last failed run's reason.
type Schedule struct {
	Workspace   string
	Path        string
	Schedule    string
	Timezone    string
	ScriptPath  string
	IsFlow      bool
	Args        string // JSON object text
	Enabled     bool
	Summary     *string
	Description string
	OnFailure   *string
	Missed      string // skip or run_once
	NextDue     time.Time
	Error       *string
	EditedBy    string
	UpdatedAt   time.Time
}

const scheduleColumns = `workspace, path, schedule, timezone, script_path, is_flow, args, enabled, summary, description, on_failure, missed, next_due, error, edited_by, updated_at`

func scanSchedule(row interface{ Scan(...any) error }) (*Schedule, error) {
	var s Schedule
	var next sql.NullInt64
	var updated int64
	err := row.Scan(&s.Workspace, &s.Path, &s.Schedule, &s.Timezone, &s.ScriptPath, &s.IsFlow, &s.Args, &s.Enabled, &s.Summary,
		&s.Description, &s.OnFailure, &s.Missed, &next, &s.Error, &s.EditedBy, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	s.NextDue = fromMicros(next)
	s.UpdatedAt = time.UnixMicro(updated).UTC()
	return &s, nil
}

// PutSchedule creates (ErrDuplicate when the path is taken) or replaces
// (ErrNotFound when it is not) a schedule. The error of its last run is
// kept across edits.
func (db *DB) PutSchedule(ctx context.Context, s Schedule, create bool) error {
	now := micros(time.Now())
	return db.putKeyed(ctx, "schedules", s.Workspace, s.Path, create, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO schedules (`+scheduleColumns+`, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)
			ON CONFLICT (workspace, path) DO UPDATE SET schedule = excluded.schedule, timezone = excluded.timezone,
			script_path = excluded.script_path, is_flow = excluded.is_flow, args = excluded.args, enabled = excluded.enabled,
			summary = excluded.summary, description = excluded.description, on_failure = excluded.on_failure, missed = excluded.missed,
			next_due = excluded.next_due, edited_by = excluded.edited_by, updated_at = excluded.updated_at`,
			s.Workspace, s.Path, s.Schedule, s.Timezone, s.ScriptPath, s.IsFlow, s.Args, s.Enabled, s.Summary, s.Description,
			s.OnFailure, s.Missed, nullMicros(s.NextDue), s.EditedBy, now, now)
		return err
	})
}

// GetSchedule returns one schedule.
func (db *DB) GetSchedule(ctx context.Context, workspace, path string) (*Schedule, error) {
	return scanSchedule(db.read.QueryRowContext(ctx, `SELECT `+scheduleColumns+` FROM schedules WHERE workspace = ? AND path = ?`, workspace, path))
}

// ListSchedules returns schedules by path; workspace "" lists every one.
func (db *DB) ListSchedules(ctx context.Context, workspace string) ([]*Schedule, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+scheduleColumns+` FROM schedules WHERE ? = '' OR workspace = ? ORDER BY path`, workspace, workspace)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	return appendRows([]*Schedule{}, rows, scanSchedule)
}

// DeleteSchedule removes a schedule; runs it started stay in the history.
func (db *DB) DeleteSchedule(ctx context.Context, workspace, path string) error {
	return db.execOne(ctx, `DELETE FROM schedules WHERE workspace = ? AND path = ?`, workspace, path)
}

// SetScheduleEnabled turns a schedule on or off with its next due time.
func (db *DB) SetScheduleEnabled(ctx context.Context, workspace, path string, enabled bool, next time.Time) error {
	return db.execOne(ctx, `UPDATE schedules SET enabled = ?, next_due = ?, updated_at = ? WHERE workspace = ? AND path = ?`,
		enabled, nullMicros(next), micros(time.Now()), workspace, path)
}

// AdvanceSchedule moves a schedule past a due time it has handled, only
// if it still expects that due time (an edit in between wins).
func (db *DB) AdvanceSchedule(ctx context.Context, workspace, path string, handled, next time.Time) error {
	return db.group.submit(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE schedules SET next_due = ? WHERE workspace = ? AND path = ? AND next_due = ?`,
			nullMicros(next), workspace, path, micros(handled))
		return err
	})
}

// SetScheduleError records the reason of a schedule's failed run (nil
// clears it after a success).
func (db *DB) SetScheduleError(ctx context.Context, workspace, path string, reason *string) error {
	return db.group.submit(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE schedules SET error = ? WHERE workspace = ? AND path = ?`, reason, workspace, path)
		return err
	})
}
