package runtime

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"sync"
	"time"
)

// demux copies a worker's output stream to the current job's log and
// spots the job-end markers in it.
type demux struct {
	mu      sync.Mutex
	w       io.Writer
	markers chan string
	done    chan struct{}
}

func newDemux(r io.Reader) *demux {
	d := &demux{markers: make(chan string, 16), done: make(chan struct{})}
	go d.loop(r)
	return d
}

func (d *demux) attach(w io.Writer) { d.mu.Lock(); d.w = w; d.mu.Unlock() }
func (d *demux) detach()            { d.mu.Lock(); d.w = nil; d.mu.Unlock() }
func (d *demux) wait()              { <-d.done }

func (d *demux) write(b []byte) {
	d.mu.Lock()
	if d.w != nil && len(b) > 0 {
		_, _ = d.w.Write(b)
	}
	d.mu.Unlock()
}

func (d *demux) loop(r io.Reader) {
	defer close(d.done)
	br := bufio.NewReaderSize(r, 1<<16)
	for {
		line, err := br.ReadSlice('\n')
		if i := strings.Index(string(line), jobEndMarker); i >= 0 {
			d.write(line[:i])
			d.markers <- strings.TrimSpace(string(line[i+len(jobEndMarker):]))
		} else {
			d.write(line)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func (d *demux) waitMarker(id string, limit time.Duration) bool {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case m := <-d.markers:
			if m == id {
				return true
			}
		case <-d.done:
			return false
		case <-timer.C:
			return false
		}
	}
}
