//go:build !linux && !darwin

package runtime

import (
	"context"
	"io"
)

// Without fork (Windows) every cold Python job spawns its interpreter.
type pyForker struct{}

func (pyForker) reopen() {}
func (pyForker) stop()   {}

type forkServer struct{}

func (r *Runner) forkServer() *forkServer { return nil }

func (r *Runner) runForked(context.Context, *forkServer, Spec, string, string, []string, io.Writer, *liveJob) (Outcome, bool) {
	return Outcome{}, false
}

// Without fork every cold Bash job spawns bash.
type bashForker struct{}

func (bashForker) reopen() {}
func (bashForker) stop()   {}

type bashServer struct{}

func (r *Runner) bashServer() *bashServer { return nil }

func (r *Runner) runBashForked(context.Context, *bashServer, Spec, io.Writer) (Outcome, bool) {
	return Outcome{}, false
}
