package jobs

import (
	"fmt"
	"sync"
)

// LogBuffer collects a job's output up to a limit. Past it, output is
// counted and dropped, and the stored log ends with a marker saying so:
// a script that floods its log must not fill the disk or the memory.
type LogBuffer struct {
	mu      sync.Mutex
	limit   int
	buf     []byte
	dropped int64
}

// NewLogBuffer returns a buffer that keeps up to limit bytes.
func NewLogBuffer(limit int) *LogBuffer { return &LogBuffer{limit: limit} }

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	room := l.limit - len(l.buf)
	if room >= len(p) {
		l.buf = append(l.buf, p...)
		return len(p), nil
	}
	if room > 0 {
		l.buf = append(l.buf, p[:room]...)
	}
	l.dropped += int64(len(p) - max(room, 0))
	return len(p), nil
}

// String returns the log so far, with the truncation marker when output
// was dropped.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped == 0 {
		return string(l.buf)
	}
	return string(l.buf) + fmt.Sprintf("\n[millrun: log truncated at %d bytes; %d more bytes were dropped]\n", l.limit, l.dropped)
}
