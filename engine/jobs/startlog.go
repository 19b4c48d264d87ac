package jobs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// startLog makes "this job started" survive a kill -9 of millrun for the
// price of one small append, with no fsync and no wait for the database,
// on the path a sync caller waits on. The job's database mark follows
// asynchronously. The next start reads the log and treats every job named
// in it as started: it is failed, never run a second time. Like the sync
// jobs' own writes, the log outlives a crash of millrun, not a power loss.
//
// Two files take turns: when the current one has grown, appends move to
// the other, and the first is emptied once every database write submitted
// before the switch is committed (its entries are then in the database).
type startLog struct {
	mu       sync.Mutex
	files    [2]*os.File
	cur      int
	size     int64
	rotating bool
	// afterWrites calls done once every database write submitted before
	// it is committed.
	afterWrites func(done func())
}

const startLogRotateAt = 256 << 10

func startLogPaths(dir string) [2]string {
	return [2]string{filepath.Join(dir, "started-a.log"), filepath.Join(dir, "started-b.log")}
}

// readStartLogs returns the job ids a previous run of millrun logged as
// started. A torn last line (a crash during the append) is skipped: the
// job it names had not started.
func readStartLogs(dir string) ([]string, error) {
	var ids []string
	for _, p := range startLogPaths(dir) {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		lines := strings.Split(string(b), "\n")
		for _, id := range lines[:len(lines)-1] { // the last is "" or torn
			if id != "" {
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}

// openStartLog empties both files (the caller has recorded what they
// held) and opens them for appending.
func openStartLog(dir string, afterWrites func(done func())) (*startLog, error) {
	l := &startLog{afterWrites: afterWrites}
	for i, p := range startLogPaths(dir) {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("open %s: %w", p, err)
		}
		l.files[i] = f
	}
	return l, nil
}

// started logs id, then calls markInDB. Both happen under the lock, so a
// switch of files cannot fall between an entry and its database write.
func (l *startLog) started(id string, markInDB func()) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.files[l.cur].Write([]byte(id + "\n"))
	if err != nil {
		return fmt.Errorf("log that job %s started: %w", id, err)
	}
	markInDB()
	l.size += int64(n)
	if l.size >= startLogRotateAt && !l.rotating {
		l.rotating = true
		old := l.files[l.cur]
		l.cur, l.size = 1-l.cur, 0
		l.afterWrites(func() {
			_ = old.Truncate(0) // O_APPEND: later writes start at the new end
			l.mu.Lock()
			l.rotating = false
			l.mu.Unlock()
		})
	}
	return nil
}

func (l *startLog) close() {
	for _, f := range l.files {
		if f != nil {
			f.Close()
		}
	}
}
