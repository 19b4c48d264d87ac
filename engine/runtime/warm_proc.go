package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// warmProc is one long-lived interpreter.
type warmProc struct {
	cmd      *exec.Cmd
	dir      string
	jobs     *os.File // we write job lines (its fd 3)
	answers  chan []byte
	stdout   *demux
	stderr   *demux
	exited   chan struct{}
	exitErr  error
	lastUsed time.Time
	killOnce sync.Once
}

const jobEndMarker = "\x1emillrun-job-end "

func (r *Runner) startWarm(ctx context.Context, spec Spec, logs io.Writer) (*warmProc, Outcome) {
	dir, err := os.MkdirTemp(r.TempRoot, "millrun-warm-*")
	if err != nil {
		return nil, Failure("InternalError", "cannot create the worker directory: "+err.Error(), nil)
	}
	lang := LanguageNamed(spec.Language)
	if lang == nil || lang.warm == nil {
		os.RemoveAll(dir)
		return nil, Failure("UnsupportedLanguage", spec.Language+" has no warm workers", nil)
	}
	cmd, langEnv, failed := lang.warm(r, ctx, dir, spec, logs)
	if cmd == nil {
		os.RemoveAll(dir)
		return nil, failed
	}
	env := append(append([]string{}, r.processEnv()...), langEnv...)
	// Importing the script runs its module-level code: not for a run
	// cancelled while its packages or its compile were prepared.
	if ctx.Err() != nil {
		os.RemoveAll(dir)
		return nil, Outcome{}
	}
	jobsR, jobsW, err := os.Pipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, Failure("InternalError", err.Error(), nil)
	}
	ansR, ansW, err := os.Pipe()
	if err != nil {
		jobsR.Close()
		jobsW.Close()
		os.RemoveAll(dir)
		return nil, Failure("InternalError", err.Error(), nil)
	}
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	cmd.Dir, cmd.Env = dir, append(env, "TMPDIR="+dir)
	cmd.ExtraFiles = []*os.File{jobsR, ansW} // fds 3 and 4
	setProcessGroup(cmd)
	if err := r.procs.start(cmd); err != nil {
		jobsR.Close()
		jobsW.Close()
		ansR.Close()
		ansW.Close()
		os.RemoveAll(dir)
		return nil, Failure("ExecutionErr", "cannot start the interpreter: "+err.Error(), nil)
	}
	jobsR.Close()
	ansW.Close()
	p := &warmProc{cmd: cmd, dir: dir, jobs: jobsW, answers: make(chan []byte, 1), exited: make(chan struct{}),
		stdout: newDemux(stdout), stderr: newDemux(stderr), lastUsed: time.Now()}
	// Output while importing (module-level prints, import errors) belongs
	// to the job that started the worker.
	p.stdout.attach(logs)
	p.stderr.attach(logs)
	go func() {
		br := bufio.NewReaderSize(ansR, 1<<16)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				p.answers <- line
			}
			if err != nil {
				close(p.answers)
				ansR.Close()
				return
			}
		}
	}()
	go func() {
		p.stdout.wait()
		p.stderr.wait()
		p.exitErr = r.procs.wait(cmd)
		close(p.exited)
	}()

	select {
	case line, ok := <-p.answers:
		var ready struct {
			Ready bool            `json:"ready"`
			Error json.RawMessage `json:"error"`
		}
		if ok && json.Unmarshal(line, &ready) == nil && ready.Ready {
			p.stdout.detach()
			p.stderr.detach()
			return p, Outcome{}
		}
		p.kill()
		if ok && len(ready.Error) > 0 {
			res, _ := json.Marshal(map[string]json.RawMessage{"error": ready.Error})
			return nil, Outcome{Result: res}
		}
		return nil, Failure("WorkerCrashed", "the warm worker exited while loading the script", nil)
	case <-ctx.Done():
		p.kill()
		return nil, Outcome{}
	}
}

func (p *warmProc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// run sends one job and waits for its answer and for both log streams to
// reach the job's end marker. healthy is false when the worker must not be
// reused.
func (p *warmProc) run(ctx context.Context, spec Spec, logs io.Writer) (Outcome, bool) {
	id := fmt.Sprintf("%d", time.Now().UnixNano())
	env := map[string]string{}
	for _, kv := range spec.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	args := spec.Args
	if args == nil {
		args = map[string]json.RawMessage{}
	}
	msg, _ := json.Marshal(map[string]any{"id": id, "args": args, "order": orderOrEmpty(spec.Order), "env": env})
	p.stdout.attach(logs)
	p.stderr.attach(logs)
	defer p.stdout.detach()
	defer p.stderr.detach()
	if _, err := p.jobs.Write(append(msg, '\n')); err != nil {
		return Failure("WorkerCrashed", "the warm worker is gone: "+err.Error(), nil), false
	}
	select {
	case line, ok := <-p.answers:
		if !ok {
			<-p.exited
			return Failure("WorkerCrashed", fmt.Sprintf("the warm worker exited while running the job (%v); a fresh one starts for the next job", p.exitErr), nil), false
		}
		var ans struct {
			ID     string          `json:"id"`
			OK     bool            `json:"ok"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(line, &ans); err != nil || ans.ID != id {
			return Failure("WorkerCrashed", "the warm worker answered out of turn", nil), false
		}
		// The markers come before the answer is written, so both streams
		// already hold them; this only waits for our readers to catch up.
		if !p.stdout.waitMarker(id, 2*time.Second) || !p.stderr.waitMarker(id, 2*time.Second) {
			return Failure("WorkerCrashed", "the warm worker's logs did not end cleanly", nil), false
		}
		if !ans.OK {
			res, _ := json.Marshal(map[string]json.RawMessage{"error": ans.Error})
			return Outcome{Result: res}, true
		}
		if len(ans.Result) == 0 {
			ans.Result = json.RawMessage("null")
		}
		return Outcome{Result: ans.Result, Success: true}, true
	case <-ctx.Done():
		return Outcome{}, false
	}
}

func (p *warmProc) kill() {
	p.killOnce.Do(func() {
		killProcessGroup(p.cmd)
		p.jobs.Close()
		go func() {
			<-p.exited
			os.RemoveAll(p.dir)
		}()
	})
}
