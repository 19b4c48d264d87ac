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
	// done, when set, is called with the result instead of sending on err.
	done func(error)
}

func (op *groupOp) reply(err error) {
	if op.done != nil {
		op.done(err)
		return
	}
	op.err <- err
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

// submitAsync queues fn behind every write submitted before it and returns
// at once; done (if not nil) is called after the commit. Writes keep their
// submission order, so a later write to the same row sees this one.
func (g *groupCommitter) submitAsync(fn func(tx *sql.Tx) error, done func(error)) {
	if done == nil {
		done = func(error) {}
	}
	op := &groupOp{fn: fn, done: done}
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		done(ErrClosed)
		return
	}
	g.ops <- op
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
	if err := g.run(batch); err == nil {
		for _, op := range batch {
			op.reply(nil)
		}
		return
	} else if len(batch) == 1 {
		batch[0].reply(err)
		return
	}
	// Some write failed (a duplicate job id, say) and the group was rolled
	// back: run each alone so only the failing one reports an error. This
	// is rare, so the common path pays for no savepoints.
	for _, op := range batch {
		op.reply(g.run([]*groupOp{op}))
	}
}

func (g *groupCommitter) run(batch []*groupOp) error {
	tx, err := g.db.Begin()
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	for _, op := range batch {
		if err := op.fn(tx); err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
