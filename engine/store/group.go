package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// ErrClosed is returned for writes submitted after Close.
var ErrClosed = errors.New("database is closed")

// groupCommitter turns many concurrent small writes into few transactions,
// so that durable throughput is not capped at one fsync per request. Each
// write runs inside a savepoint: a failing write is rolled back alone and
// its caller gets the error, the rest of the group still commits.
type groupCommitter struct {
	db     *sql.DB
	ops    chan *groupOp
	mu     sync.RWMutex
	closed bool
	done   chan struct{}
}

type groupOp struct {
	fn  func(tx *sql.Tx) error
	err chan error
}

const maxGroup = 512

func newGroupCommitter(db *sql.DB) *groupCommitter {
	g := &groupCommitter{db: db, ops: make(chan *groupOp, maxGroup), done: make(chan struct{})}
	go g.loop()
	return g
}

func (g *groupCommitter) submit(ctx context.Context, fn func(tx *sql.Tx) error) error {
	op := &groupOp{fn: fn, err: make(chan error, 1)}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return ErrClosed
	}
	select {
	case g.ops <- op:
	case <-ctx.Done():
		g.mu.RUnlock()
		return ctx.Err()
	}
	g.mu.RUnlock()
	// Once submitted the write will happen; waiting for it is what makes the
	// caller's answer truthful, so the context no longer applies.
	return <-op.err
}

func (g *groupCommitter) close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.ops)
	}
	g.mu.Unlock()
	<-g.done
}

func (g *groupCommitter) loop() {
	defer close(g.done)
	batch := make([]*groupOp, 0, maxGroup)
	for op := range g.ops {
		batch = append(batch[:0], op)
	drain:
		for len(batch) < maxGroup {
			select {
			case more, ok := <-g.ops:
				if !ok {
					break drain
				}
				batch = append(batch, more)
			default:
				break drain
			}
		}
		g.commit(batch)
	}
}

func (g *groupCommitter) commit(batch []*groupOp) {
	errs := make([]error, len(batch))
	tx, err := g.db.Begin()
	if err != nil {
		for _, op := range batch {
			op.err <- fmt.Errorf("begin: %w", err)
		}
		return
	}
	for i, op := range batch {
		if len(batch) == 1 {
			errs[i] = op.fn(tx)
			continue
		}
		if _, err := tx.Exec("SAVEPOINT op"); err != nil {
			errs[i] = err
			continue
		}
		if err := op.fn(tx); err != nil {
			errs[i] = err
			if _, rerr := tx.Exec("ROLLBACK TO op"); rerr != nil {
				errs[i] = errors.Join(err, rerr)
			}
		}
		if _, err := tx.Exec("RELEASE op"); err != nil && errs[i] == nil {
			errs[i] = err
		}
	}
	if len(batch) == 1 && errs[0] != nil {
		tx.Rollback()
		batch[0].err <- errs[0]
		return
	}
	if err := tx.Commit(); err != nil {
		for _, op := range batch {
			op.err <- fmt.Errorf("commit: %w", err)
		}
		return
	}
	for i, op := range batch {
		op.err <- errs[i]
	}
}
