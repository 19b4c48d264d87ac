//go:build linux || darwin

package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/millrun/millrun/engine/testkit"
)

// newRunner is a runner with the interpreters found here, its job folders
// under the test's temp folder; cold Python jobs spawn unless forked says
// otherwise.
func newRunner(t *testing.T, forked bool) *Runner {
	t.Helper()
	in := Resolve(context.Background(), nil)
	if in.Python == "" || in.Bash == "" {
		t.Fatalf("the runtime tests need python3 and bash (make setup-test installs them): %+v", in)
	}
	r := New(in)
	r.TempRoot = t.TempDir()
	r.NoForkServer = !forked
	t.Cleanup(r.Close)
	return r
}

func jobSpec(lang, content, args string, order ...string) Spec {
	var a map[string]json.RawMessage
	_ = json.Unmarshal([]byte(args), &a)
	return Spec{Language: lang, Content: content, Args: a, Order: order, Env: []string{"WM_JOB_ID=" + uuid.NewString()}}
}

func run(t *testing.T, r *Runner, spec Spec) (Outcome, string) {
	t.Helper()
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := r.Run(ctx, spec, &logs)
	return out, logs.String()
}

func errorOf(t *testing.T, out Outcome) map[string]any {
	t.Helper()
	var e struct {
		Error map[string]any `json:"error"`
	}
	if json.Unmarshal(out.Result, &e) != nil || e.Error == nil {
		t.Fatalf("not an error outcome: %s", out.Result)
	}
	return e.Error
}

// What a cold run gives, per language: the value main returned as compact
// JSON, the logs as printed, Windmill's error shape on failure.
func TestColdRuns(t *testing.T) {
	t.Parallel()
	r := newRunner(t, false)
	cases := []struct {
		name     string
		spec     Spec
		success  bool
		result   string // the result, or the error's name
		inLogs   string
		errorMsg string
	}{
		{"python value and logs", jobSpec(Python, "def main(a: int, b: str = 'x'):\n    print('log', a)\n    return {'a': a,  'b': b}\n", `{"a": 1}`), true, `{"a":1,"b":"x"}`, "log 1", ""},
		{"python exception", jobSpec(Python, "def main():\n    raise ValueError('nope')\n", `{}`), false, "ValueError", "Traceback", "nope"},
		{"python exit without a result", jobSpec(Python, "import os\ndef main():\n    print('leaving')\n    os._exit(3)\n", `{}`), false, "ExecutionErr", "leaving", "exit code 3"},
		{"python stdin is empty", jobSpec(Python, "import sys\ndef main():\n    return sys.stdin.read()\n", `{}`), true, `""`, "", ""},
		{"python sees its job id", jobSpec(Python, "import os\ndef main():\n    return os.environ['WM_JOB_ID'] != ''\n", `{}`), true, `true`, "", ""},
		{"bash positional args, last line", jobSpec(Bash, "echo \"hello $1 $2\"\n", `{"name":"world","n":2}`, "name", "n"), true, `"hello world 2"`, "hello world 2", ""},
		{"bash result.json", jobSpec(Bash, "echo '{\"ok\": true}' > result.json\n", `{}`), true, `{"ok":true}`, "", ""},
		{"bash failing command", jobSpec(Bash, "echo before\nfalse\necho after\n", `{}`), false, "ExecutionErr", "before", "exit code 1"},
	}
	for _, c := range cases {
		out, logs := run(t, r, c.spec)
		if out.Success != c.success {
			t.Errorf("%s: success %v: %s (logs %q)", c.name, out.Success, out.Result, logs)
			continue
		}
		if c.success && string(out.Result) != c.result {
			t.Errorf("%s: result %s, want %s", c.name, out.Result, c.result)
		}
		if !c.success {
			e := errorOf(t, out)
			if e["name"] != c.result || !strings.Contains(e["message"].(string), c.errorMsg) {
				t.Errorf("%s: error %v, want %s with %q", c.name, e, c.result, c.errorMsg)
			}
		}
		if !strings.Contains(logs, c.inLogs) {
			t.Errorf("%s: logs %q lack %q", c.name, logs, c.inLogs)
		}
		if strings.Contains(logs, "after") {
			t.Errorf("%s: bash went on after a failing command", c.name)
		}
	}
}

// A result over the cap fails the job naming the limit instead of being
// read into memory.
func TestResultCap(t *testing.T) {
	t.Parallel()
	r := newRunner(t, false)
	r.MaxResult = func() int64 { return 1024 }
	out, _ := run(t, r, jobSpec(Python, "def main():\n    return 'x' * 5000\n", `{}`))
	if e := errorOf(t, out); e["name"] != "ResultTooLarge" || !strings.Contains(e["message"].(string), "max_result_bytes") {
		t.Fatalf("an oversized result: %v", e)
	}
}

// forkedBashRunner is a runner whose cold Bash jobs run forked, its one
// server idle (back in the pool, its folder emptied).
func forkedBashRunner(t *testing.T) *Runner {
	t.Helper()
	r := newRunner(t, true)
	bashForkReady(t, r)
	r.cleanups.Wait()
	return r
}

// bashForkReady waits until cold Bash jobs on r run forked from a Bash
// server (the first ones spawn while it starts).
func bashForkReady(t *testing.T, r *Runner) {
	t.Helper()
	testkit.WaitUntil(t, "cold Bash jobs to run forked", 10*time.Second, func() bool {
		out, _ := run(t, r, jobSpec(Bash, "echo $PPID\n", `{}`))
		return out.Success && string(out.Result) != strconv.Quote(strconv.Itoa(os.Getpid())) // its parent is a server, not this process
	})
}

// Cancelling a run kills the script, what it started in its group and
// what left the group (setsid, or a forked subshell in a group of its
// own): nothing of the job outlives it, spawned or forked.
func TestCancelKillsEverythingTheJobStarted(t *testing.T) {
	t.Parallel()
	for _, forked := range []bool{false, true} {
		r := newRunner(t, forked)
		if forked {
			bashForkReady(t, r)
		}
		pids := filepath.Join(t.TempDir(), "pids")
		// The last child is bash alone, no exec: forked, it shows the
		// server's environment, not the job's.
		spec := jobSpec(Bash, "sleep 60 & echo $! >> "+pids+"\nsetsid sleep 60 & echo $! >> "+pids+
			"\nset -m\n( while :; do :; done ) & echo $! >> "+pids+"\nset +m\nsleep 60\n", `{}`)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan Outcome, 1)
		go func() { done <- r.Run(ctx, spec, io.Discard) }()
		testkit.WaitUntil(t, fmt.Sprintf("forked %v: the script to start its children", forked), 10*time.Second, func() bool {
			b, _ := os.ReadFile(pids)
			return strings.Count(string(b), "\n") == 3
		})
		start := time.Now()
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("forked %v: a cancelled run did not return", forked)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("forked %v: a cancelled run took %s to return", forked, took)
		}
		r.Close() // waits for the sweep of what left the group
		b, _ := os.ReadFile(pids)
		for _, f := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(f)
			// Killed is not yet dead: a busy, low-priority process under
			// load may take a moment to be scheduled and exit.
			if !goneWithin(pid, 3*time.Second) {
				st, _ := os.ReadFile("/proc/" + f + "/status")
				cmd, _ := os.ReadFile("/proc/" + f + "/cmdline")
				t.Errorf("forked %v: process %d the job started outlived it: cmdline %q, status %q", forked, pid, cmd, st)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

// goneWithin reports whether pid ends (or is a zombie: dead, only not yet
// reaped) within limit.
func goneWithin(pid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || bytes.Contains(st, []byte(") Z ")) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A forked Bash job is a fresh bash, as a spawned one is: its own $$ and
// process group, the same environment, options, arguments, signals, open
// files, errors and results; nothing of the server or of an earlier job.
func TestForkedBashMatchesSpawned(t *testing.T) {
	t.Parallel()
	forked, spawned := newRunner(t, true), newRunner(t, false)
	bashForkReady(t, forked)
	cases := []struct{ name, content, args string }{
		{"environment", "env | grep -v -e '^_=' -e '^TMPDIR=' -e '^PWD=' -e '^WM_JOB_ID=' -e '^MILLRUN_JOB_KEY=' | sort\n", `{}`},
		{"the job's own variables", "[ \"$TMPDIR\" = \"$PWD\" ] && [ -n \"$WM_JOB_ID\" ] && echo ok\n", `{}`},
		{"options", "echo \"$- $SHELLOPTS\"; shopt | md5sum; set -o | md5sum\n", `{}`},
		{"own pid and group", "[ $$ = $BASHPID ] && [ $(ps -o pgid= $$) = $$ ] && echo own\n", `{}`},
		{"name and errors", "echo \"$0 ${BASH_SOURCE[0]}\"\nno_such_command_x 2>&1 || true\n", `{}`},
		{"arguments", "a=\"$1\"\nb=\"$2\"\nc=\"$3\"\nprintf '[%s]' \"$#\" \"$@\"\n", `{"a": "it's \"quoted\"\n$(not run)", "b": {"k": [1]}}`},
		{"signals of the shell and its children", "grep SigIgn /proc/$$/status; grep -e SigIgn -e SigBlk /proc/self/status\n", `{}`},
		{"open files", "for f in /proc/$$/fd/*; do printf '%s ' \"${f##*/}\"; done; ls /proc/self/fd | wc -l\n", `{}`},
		{"stdin is empty", "cat; echo end\n", `{}`},
		{"umask, limits, priority", "umask; ulimit -a | md5sum; nice\n", `{}`},
		{"set -e stops at a failure", "echo before\nfalse\necho after\n", `{}`},
		{"pipefail", "false | true\necho not reached\n", `{}`},
		{"exit code and stderr", "echo out; echo err >&2; exit 3\n", `{}`},
		{"result.json", "echo '{\"a\": [1, 2]}' > result.json\n", `{}`},
		{"result.out", "printf 'plain' > result.out\necho last\n", `{}`},
		{"a #! line is a comment", "#!/bin/sh\necho \"$BASH_VERSION\" | cut -c1\n", `{}`},
		{"exit trap", "trap 'echo trapped' EXIT\necho body\n", `{}`},
		{"functions and variables of an earlier job", "declare -F | wc -l; compgen -v | grep -c -e '^d$' -e '^fd$' -e '^MILLRUN' || true\n", `{}`},
		{"much output, both streams", "seq 1 40000\nseq 1 20000 >&2\necho last\n", `{}`},
		{"a 200 KB argument", "a=\"$1\"\necho ${#a}\n", `{"a": "` + strings.Repeat("x", 200<<10) + `"}`},
		{"a large script", "#" + strings.Repeat("x", 70<<10) + "\nno_such_command_x 2>&1 | grep -o '^./main.sh: line 2' || true\n", `{}`},
	}
	for _, c := range cases {
		for round := range 2 {
			f, fl := run(t, forked, jobSpec(Bash, c.content, c.args, "a", "b", "c"))
			s, sl := run(t, spawned, jobSpec(Bash, c.content, c.args, "a", "b", "c"))
			if f.Success != s.Success || string(f.Result) != string(s.Result) || fl != sl {
				t.Errorf("%s (round %d):\nforked  %v %s %q\nspawned %v %s %q", c.name, round, f.Success, f.Result, fl, s.Success, s.Result, sl)
			}
		}
	}
}

// The fork server gives what a spawned interpreter gives, module state
// fresh per job.
func TestForkedRunsMatchSpawned(t *testing.T) {
	t.Parallel()
	forked, spawned := newRunner(t, true), newRunner(t, false)
	waitForked(t, forked)
	for _, content := range []string{
		"calls = []\ndef main(a: int):\n    calls.append(a)\n    print('n', len(calls))\n    return len(calls)\n",
		"def main():\n    raise KeyError('k')\n",
	} {
		for range 2 {
			f, fl := run(t, forked, jobSpec(Python, content, `{"a": 5}`))
			s, sl := run(t, spawned, jobSpec(Python, content, `{"a": 5}`))
			if f.Success != s.Success || (f.Success && string(f.Result) != string(s.Result)) || (f.Success && fl != sl) {
				t.Errorf("forked %s %q, spawned %s %q", f.Result, fl, s.Result, sl)
			}
		}
	}
}

// newWarmPool is a started pool of one worker per script on a runner.
func newWarmPool(t *testing.T) (*Runner, *WarmPool) {
	t.Helper()
	r := newRunner(t, false)
	pool := NewWarmPool(r, 1, time.Minute)
	pool.Start()
	t.Cleanup(pool.Close)
	return r, pool
}

// A warm worker imports the script once and serves many jobs: module
// state carries over (that is the point), answers match a cold run's.
func TestWarmWorkerServesManyJobs(t *testing.T) {
	t.Parallel()
	r, pool := newWarmPool(t)
	content := "calls = []\ndef main(a: int):\n    calls.append(a)\n    print('call', len(calls))\n    return len(calls)\n"
	for want := 1; want <= 3; want++ {
		var logs bytes.Buffer
		out := pool.Run(context.Background(), WarmSpec{Spec: jobSpec(Python, content, `{"a": 1}`), Path: "u/me/w", Hash: "h1"}, &logs)
		if !out.Success || string(out.Result) != strconv.Itoa(want) || logs.String() != "call "+strconv.Itoa(want)+"\n" {
			t.Fatalf("warm run %d: %s, logs %q", want, out.Result, logs.String())
		}
	}
	if n := pool.Count(); n != 1 {
		t.Fatalf("%d warm processes for one script, want 1", n)
	}
	cold, _ := run(t, r, jobSpec(Python, "def main():\n    raise ValueError('nope')\n", `{}`))
	warm := pool.Run(context.Background(), WarmSpec{Spec: jobSpec(Python, "def main():\n    raise ValueError('nope')\n", `{}`), Path: "u/me/e", Hash: "h2"}, io.Discard)
	ec, ew := errorOf(t, cold), errorOf(t, warm)
	if ec["name"] != ew["name"] || ec["message"] != ew["message"] {
		t.Fatalf("error cold %v, warm %v", ec, ew)
	}
}

// A worker that dies mid-job fails that job, saying so; the next job gets
// a fresh worker.
func TestWarmWorkerCrashIsReplaced(t *testing.T) {
	t.Parallel()
	_, pool := newWarmPool(t)
	content := "import os\ndef main(die: bool):\n    if die:\n        os._exit(9)\n    return os.getpid()\n"
	spec := func(die string) WarmSpec {
		return WarmSpec{Spec: jobSpec(Python, content, `{"die": `+die+`}`), Path: "u/me/c", Hash: "h3"}
	}
	first := pool.Run(context.Background(), spec("false"), io.Discard)
	crashed := pool.Run(context.Background(), spec("true"), io.Discard)
	if e := errorOf(t, crashed); e["name"] != "WorkerCrashed" {
		t.Fatalf("a job that killed its worker: %v", e)
	}
	next := pool.Run(context.Background(), spec("false"), io.Discard)
	if !next.Success || string(next.Result) == string(first.Result) {
		t.Fatalf("after the crash: %s (the first worker was %s)", next.Result, first.Result)
	}
}

// The demultiplexer hands each job its own output and finds the job-end
// markers, also one glued to output without a newline.
func TestDemuxSplitsOutputPerJob(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	d := newDemux(pr)
	var first, second bytes.Buffer
	d.attach(&first)
	// A worker writes a job's output only once it has the job, after the
	// previous one's marker.
	go io.WriteString(pw, "one\npartial"+jobEndMarker+"job-1\n")
	if !d.waitMarker("job-1", 5*time.Second) {
		t.Fatal("no end marker for job-1")
	}
	d.attach(&second)
	go io.WriteString(pw, "two\n"+jobEndMarker+"job-2\n")
	if !d.waitMarker("job-2", 5*time.Second) {
		t.Fatal("no end marker for job-2")
	}
	d.detach()
	pw.Close()
	d.wait()
	if first.String() != "one\npartial" || second.String() != "two\n" {
		t.Fatalf("job-1 got %q, job-2 got %q", first.String(), second.String())
	}
	if d.waitMarker("job-3", 100*time.Millisecond) {
		t.Fatal("a marker after the stream ended")
	}
}

// Nothing a forked Bash job leaves, changes or replaces in its folder
// reaches the server's next job, and what it points elsewhere is not
// written through.
func TestForkedBashJobsLeaveNothingToTheNext(t *testing.T) {
	t.Parallel()
	r := newRunner(t, true)
	bashForkReady(t, r)
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, []byte("untouched"), 0o600); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	tampering := map[string]string{
		"files left behind":     "mkdir -p sub/deep .millrun && touch sub/deep/f leftover .hidden .millrun/extra\necho stale > result.out\n",
		"main.sh changed":       "echo 'echo from the last job' > main.sh\nchmod -x main.sh\n",
		"main.sh a symlink":     "rm main.sh && ln -s " + outside + " main.sh\n",
		"what the server reads": "for f in ../rc.sh ../*/rc.sh ../*/.millrun/env.sh; do echo 'echo INJECTED' >> \"$f\" 2>/dev/null || true; done\n",
		"its own output, kept":  "exec 3>/proc/$$/fd/1\nsetsid bash -c 'sleep 0.3; echo INJECTED >&3' &\n",
		"folder opened":         "chmod 777 .\n",
		"folder moved away":     "d=$PWD\ncd ..\nmv \"$d\" " + elsewhere + "/moved\nln -s " + elsewhere + " \"$d\"\n",
	}
	// The next job shows what it finds: its folder, its own script, and
	// that its output and result are its own. It runs on the same server,
	// or spawned when the server was given up for what the job did.
	next := jobSpec(Bash, "ls -A | tr '\\n' ' '; { ls -A .millrun 2>/dev/null || true; } | tr '\\n' ' '; echo \"$(cat main.sh | wc -l) $1\"\n", `{"a": "mine"}`, "a")
	forked, spawned := `"main.sh 1 mine"`, `".millrun main.sh args.sh 1 mine"`
	for name, script := range tampering {
		r.cleanups.Wait() // the server is back once its folder is emptied
		out, logs := run(t, r, jobSpec(Bash, script+"echo $PPID\n", `{}`))
		if !out.Success || string(out.Result) == strconv.Quote(strconv.Itoa(os.Getpid())) {
			t.Fatalf("%s: the tampering job did not run forked: %s %q", name, out.Result, logs)
		}
		r.cleanups.Wait()
		got, logs := run(t, r, next)
		if !got.Success || (string(got.Result) != forked && string(got.Result) != spawned) || strings.Contains(logs, "INJECTED") {
			t.Errorf("%s: the next job found %s (logs %q), want %s", name, got.Result, logs, forked)
		}
	}
	if b, _ := os.ReadFile(outside); string(b) != "untouched" {
		t.Errorf("a file a job's env.sh pointed at was written: %q", b)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 1 {
		t.Errorf("millrun wrote into the folder a job put in the place of its own: %v", entries)
	}
}

// A Bash server that dies mid-job fails that job in words, at once, and
// kills it; the next job runs (spawned while a new server starts).
func TestBashServerDeathFailsOnlyItsJob(t *testing.T) {
	t.Parallel()
	r := forkedBashRunner(t)
	dir := t.TempDir()
	spec := jobSpec(Bash, "echo $$ > "+dir+"/job\necho $PPID > "+dir+"/server\nsleep 30\n", `{}`)
	done := make(chan Outcome, 1)
	go func() { done <- r.Run(context.Background(), spec, io.Discard) }()
	var server int
	waitUntil := time.Now().Add(10 * time.Second)
	for server == 0 && time.Now().Before(waitUntil) {
		b, _ := os.ReadFile(dir + "/server")
		server, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		time.Sleep(5 * time.Millisecond)
	}
	if server == 0 || server == os.Getpid() {
		t.Fatalf("the job did not run on a Bash server (parent %d)", server)
	}
	_ = syscall.Kill(server, syscall.SIGKILL)
	select {
	case out := <-done:
		if e := errorOf(t, out); !strings.Contains(e["message"].(string), "Bash server stopped") {
			t.Fatalf("the job whose server died: %v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the job whose server died did not end")
	}
	if out, logs := run(t, r, jobSpec(Bash, "echo next\n", `{}`)); !out.Success || logs != "next\n" {
		t.Fatalf("the job after: %s %q", out.Result, logs)
	}
	r.Close()
	b, _ := os.ReadFile(dir + "/job")
	if job, _ := strconv.Atoi(strings.TrimSpace(string(b))); job == 0 || !goneWithin(job, 3*time.Second) {
		t.Fatalf("the job (pid %d) went on after its server died", job)
	}
}

// A job that tries to write answers into its server's channel through
// /proc/$PPID/fd cannot (a socket does not open there): the jobs after it
// run as if it never tried, and none runs twice. (When the channel was a
// pipe, such a job spoiled the next start on that server, which failed in
// words.)
func TestForkedBashJobCannotDesyncItsServer(t *testing.T) {
	t.Parallel()
	r := forkedBashRunner(t)
	count := filepath.Join(t.TempDir(), "count")
	for n, bad := range []string{"printf 'x 0\\n' > /proc/$PPID/fd/4\nsleep 2\n", "printf 'x 0\\nx 0\\n' > /proc/$PPID/fd/4\n"} {
		done := make(chan Outcome, 1)
		go func() { done <- r.Run(context.Background(), jobSpec(Bash, bad, `{}`), io.Discard) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%q: the run did not end", bad)
		}
		r.cleanups.Wait()
		for i := range 3 {
			id := strconv.Itoa(n*10 + i)
			out, _ := run(t, r, jobSpec(Bash, "echo run "+id+" >> "+count+"\necho "+id+"\n", `{}`))
			if string(out.Result) != strconv.Quote(id) {
				t.Fatalf("%q: job %s after it answered %s", bad, id, out.Result)
			}
			r.cleanups.Wait()
		}
	}
	b, _ := os.ReadFile(count)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.Count(string(b), line+"\n") != 1 {
			t.Fatalf("a job ran twice: %q", b)
		}
	}
}

// A job inherits no descriptor of millrun's but its stdin, stdout and
// stderr: not one millrun was started with (a launcher's or a terminal's
// pipe), not a fork server's socket made in another goroutine (it was
// inheritable for a moment, and a job spawned then kept it). Not parallel:
// the inheritable pipe it makes would reach the other tests' jobs.
func TestJobsInheritNoDescriptors(t *testing.T) {
	var inherited [2]int
	if err := syscall.Pipe(inherited[:]); err != nil { // without close-on-exec
		t.Fatal(err)
	}
	defer syscall.Close(inherited[0])
	defer syscall.Close(inherited[1])
	for _, forked := range []bool{false, true} {
		r := newRunner(t, forked)
		if forked {
			bashForkReady(t, r)
		}
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if s, err := startForkServer(r.interp.Python, r.processEnv()); err == nil {
					s.close()
				}
			}
		}()
		// Pipes and sockets the job's shell holds besides its output.
		spec := jobSpec(Bash, "for f in /proc/$$/fd/*; do\n  case ${f##*/} in 1|2) continue;; esac\n  if [[ -p $f || -S $f ]]; then echo \"$f $(readlink $f)\"; fi\ndone\necho end\n", `{}`)
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if out, logs := run(t, r, spec); string(out.Result) != `"end"` || logs != "end\n" {
				t.Errorf("forked %v: a job holds descriptors it was not given: %q", forked, logs)
				break
			}
		}
		close(stop)
		<-done
	}
}

// A job that stops its fork server (SIGSTOP) cannot hold its worker: it
// ends when it ends, or when it is cancelled, and the server that stopped
// answering is replaced.
func TestAJobThatStopsItsServerStillEnds(t *testing.T) {
	t.Parallel()
	r := newRunner(t, true)
	for _, lang := range []string{Bash, Python} {
		for _, cancelled := range []bool{false, true} {
			server := filepath.Join(t.TempDir(), "server")
			// Never this process, should the job have been spawned.
			self, nap := strconv.Itoa(os.Getpid()), map[bool]string{false: "0", true: "60"}[cancelled]
			content := "echo $PPID > " + server + "\nif [ $PPID != " + self + " ]; then kill -STOP $PPID; fi\nsleep " + nap + "\n"
			if lang == Python {
				content = "import os, signal, time\ndef main():\n    open('" + server + "', 'w').write(str(os.getppid()))\n    if os.getppid() != " + self + ":\n        os.kill(os.getppid(), signal.SIGSTOP)\n    time.sleep(" + nap + ")\n"
			}
			t.Cleanup(func() {
				b, _ := os.ReadFile(server)
				if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 1 && pid != os.Getpid() {
					_ = syscall.Kill(pid, syscall.SIGCONT)
				}
			})
			if lang == Bash { // the server the last case stopped is being replaced
				bashForkReady(t, r)
			} else {
				waitForked(t, r)
			}
			r.cleanups.Wait()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan Outcome, 1)
			go func() { done <- r.Run(ctx, jobSpec(lang, content, `{}`), io.Discard) }()
			if cancelled {
				deadline := time.Now().Add(10 * time.Second)
				for b, _ := os.ReadFile(server); len(b) == 0 && time.Now().Before(deadline); b, _ = os.ReadFile(server) {
					time.Sleep(10 * time.Millisecond)
				}
				time.Sleep(100 * time.Millisecond)
				cancel()
			}
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Errorf("%s (cancelled %v): a job that stopped its server did not end", lang, cancelled)
			}
			cancel()
			b, _ := os.ReadFile(server)
			if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid == os.Getpid() {
				t.Errorf("%s: the job did not run forked", lang)
			}
			if out, logs := run(t, r, jobSpec(lang, map[string]string{Bash: "echo next\n", Python: "def main():\n    return 'next'\n"}[lang], `{}`)); !out.Success || !strings.Contains(string(out.Result), "next") {
				t.Errorf("%s: the job after: %s %q", lang, out.Result, logs)
			}
		}
	}
}

// waitForked waits until cold Python jobs on r run on the fork server.
func waitForked(t *testing.T, r *Runner) {
	t.Helper()
	probe := jobSpec(Python, "import os\ndef main():\n    return os.getppid()\n", `{}`)
	testkit.WaitUntil(t, "cold Python jobs to run on the fork server", 10*time.Second, func() bool {
		out, _ := run(t, r, probe)
		return out.Success && string(out.Result) != strconv.Itoa(os.Getpid()) // the parent is the fork server, not this process
	})
}
