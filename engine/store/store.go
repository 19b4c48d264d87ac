// Package store owns millrun's SQLite database: the connection pools,
// the embedded migrations and every SQL statement. Nothing else touches SQL.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// DB is the database: the group committer's writer connection, one more
// for writes outside it (SQLite allows one writer at a time, so more would
// only queue on the lock) and a pool of readers.
type DB struct {
	write *sql.DB
	read  *sql.DB
	group *groupCommitter
	// Hot statements, those of every webhook call, are prepared once:
	// parsing SQL costs more than running it.
	insertJob, markRunning, finishJob *sql.Stmt
	tokenByHash, latestScript         *sql.Stmt

	// The request inspector's rows, batched (see AddRequest).
	reqMu      sync.Mutex
	reqPending []pendingRequest
	reqClosed  bool
	reqFlushes sync.WaitGroup
}

// Open opens (creating if needed) the database file and applies migrations.
func Open(path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("database path %s: %w", path, err)
	}
	// SQLite gives the -wal and -shm files the database file's mode, so
	// creating it private keeps all three from other local users.
	if f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("open %s: %w", abs, err)
	} else {
		f.Close()
	}
	// busy_timeout comes first so that every later pragma already waits
	// instead of failing when another connection holds the lock.
	// secure_delete(FAST) zeroes what a write removes from a page it
	// rewrites anyway (no extra I/O): a secret resealed or a token's row
	// deleted does not linger in clear in the database file's free space.
	pragmas := []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "secure_delete(FAST)"}
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + abs + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", abs, err)
	}
	// Two writers: one is the group committer's for good, the other serves
	// the rare writes outside it (SQLite's lock orders the two).
	w.SetMaxOpenConns(2)
	w.SetMaxIdleConns(2)
	w.SetConnMaxLifetime(0)
	if err := w.Ping(); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", abs, err)
	}
	if err := migrate(w); err != nil {
		w.Close()
		return nil, err
	}
	rq := url.Values{}
	for _, p := range append(pragmas, "query_only(1)") {
		rq.Add("_pragma", p)
	}
	r, err := sql.Open("sqlite", "file:"+abs+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", abs, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	db := &DB{write: w, read: r}
	for _, p := range []struct {
		pool *sql.DB
		stmt **sql.Stmt
		sql  string
	}{{w, &db.insertJob, insertJobSQL}, {w, &db.markRunning, markRunningSQL}, {w, &db.finishJob, finishJobSQL},
		{r, &db.tokenByHash, tokenByHashSQL}, {r, &db.latestScript, latestScriptSQL}} {
		if *p.stmt, err = p.pool.Prepare(p.sql); err != nil {
			w.Close()
			r.Close()
			return nil, fmt.Errorf("prepare: %w", err)
		}
	}
	if db.group, err = newGroupCommitter(w); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open %s: %w", abs, err)
	}
	return db, nil
}

// Close flushes pending grouped writes and closes both pools.
func (db *DB) Close() error {
	db.closeRequests()
	db.group.close()
	for _, st := range []*sql.Stmt{db.insertJob, db.markRunning, db.finishJob, db.tokenByHash, db.latestScript} {
		st.Close()
	}
	rerr := db.read.Close()
	// A checkpoint leaves a compact main file behind for backups and copies.
	_, _ = db.write.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	werr := db.write.Close()
	return errors.Join(rerr, werr)
}

func migrate(w *sql.DB) error {
	if _, err := w.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int
	if err := w.QueryRow(`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(files)
	for _, name := range files {
		base := filepath.Base(name)
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migrate: bad migration name %s", base)
		}
		if v <= current {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		tx, err := w.Begin()
		if err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		if _, err := tx.Exec(string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		if _, err := tx.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, time.Now().UnixMicro()); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
	}
	return nil
}

// quick drops ctx's cancellation for a lookup by key that takes
// microseconds: with a cancellable context the driver starts a goroutine
// per statement to interrupt it, and database/sql another per result set,
// which on every webhook call costs more than the lookup.
func quick(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// Micros converts a time to the stored representation.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(v sql.NullInt64) time.Time {
	if !v.Valid || v.Int64 == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Write runs fn in a transaction of its own, outside the group committer,
// for rare writes (tokens, settings, scripts) where grouping buys nothing.
func (db *DB) Write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
