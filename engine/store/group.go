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
	// conn is held for the committer's life: the synchronous level it is
	// set to then concerns only grouped writes, and changes only when a
	// batch needs another one.
	conn   *sql.Conn
	level  Durability
	ops    chan *groupOp
	mu     sync.RWMutex
	closed bool
	done   chan struct{}
}

type groupOp struct {
	fn         func(tx *sql.Tx) error
	durability Durability
	err        chan error
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

// newGroupCommitter takes one of db's connections for itself; db's pool
// must allow another for writes outside the group.
func newGroupCommitter(db *sql.DB) (*groupCommitter, error) {
	conn, err := db.Conn(context.Background())
	if err != nil {
		return nil, err
	}
	g := &groupCommitter{conn: conn, level: SurvivesPowerLoss, ops: make(chan *groupOp, maxGroup), done: make(chan struct{})}
	go g.loop()
	return g, nil
}

// Durability says what a write must survive before its caller hears back.
// The zero value is the strict one, so a write that does not choose is
// fsync'd.
type Durability uint8

const (
	// SurvivesPowerLoss writes are fsync'd before they count as done.
	SurvivesPowerLoss Durability = iota
	// SurvivesCrash writes are handed to the operating system (in WAL
	// order) but not fsync'd: they outlive a kill -9 of millrun, not a
	// power loss. For jobs whose caller waits for the result, where an
	// fsync on the reply path would buy nothing the caller can use.
	SurvivesCrash
)

func (g *groupCommitter) submit(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return g.submitWith(ctx, SurvivesPowerLoss, fn)
}

func (g *groupCommitter) submitWith(ctx context.Context, d Durability, fn func(tx *sql.Tx) error) error {
	op := &groupOp{fn: fn, durability: d, err: make(chan error, 1)}
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
	g.submitAsyncWith(SurvivesPowerLoss, fn, done)
}

func (g *groupCommitter) submitAsyncWith(d Durability, fn func(tx *sql.Tx) error, done func(error)) {
	if done == nil {
		done = func(error) {}
	}
	op := &groupOp{fn: fn, durability: d, done: done}
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
	defer g.conn.Close()
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
	ctx := context.Background()
	if err := g.setLevel(ctx, batchLevel(batch)); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx, err := g.conn.BeginTx(ctx, nil)
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

// setLevel sets how commits reach the disk. In WAL mode a commit at
// synchronous=NORMAL is written to the WAL file without an fsync; the next
// fsync'd commit or checkpoint makes it durable, in order.
func (g *groupCommitter) setLevel(ctx context.Context, d Durability) error {
	if d == g.level {
		return nil
	}
	pragma := "PRAGMA synchronous=FULL"
	if d == SurvivesCrash {
		pragma = "PRAGMA synchronous=NORMAL"
	}
	if _, err := g.conn.ExecContext(ctx, pragma); err != nil {
		return err
	}
	g.level = d
	return nil
}

// batchLevel is the strictest durability any write in batch asks for.
func batchLevel(batch []*groupOp) Durability {
	for _, op := range batch {
		if op.durability != SurvivesCrash {
			return SurvivesPowerLoss
		}
	}
	return SurvivesCrash
}
