package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/testkit"
)

func needLinux(t *testing.T) {
	t.Helper()
	if goruntime.GOOS != "linux" {
		t.Skip("escaped children are found through /proc and the child subreaper, on Linux only")
	}
}

// bashForkReady waits until cold Bash jobs of f run forked from a Bash
// server (the first ones spawn while it starts).
func bashForkReady(t *testing.T, f *fixture) {
	t.Helper()
	f.createScript("u/me/bash_ppid", "bash", "echo $PPID\n")
	testkit.WaitUntil(t, "cold Bash jobs on a Bash server", 10*time.Second, func() bool {
		r := f.syncRun("u/me/bash_ppid", "{}")
		return r.status == 200 && r.body != strconv.Quote(strconv.Itoa(os.Getpid()))
	})
}

// When a job ends for any reason it answers at once and nothing it started
// survives it, a setsid'd child or a background one holding stdout
// included, spawned or forked from a Bash server.
func TestNothingOutlivesItsJob(t *testing.T) {
	t.Parallel()
	needLinux(t)
	for _, forked := range []bool{false, true} {
		t.Run(map[bool]string{false: "spawned", true: "forked"}[forked], func(t *testing.T) {
			t.Parallel()
			f := setup(t, func(c *Config) { c.NoForkServer = !forked })
			if forked {
				bashForkReady(t, f)
			}
			nothingOutlivesItsJob(t, f)
		})
	}
}

func nothingOutlivesItsJob(t *testing.T, f *fixture) {
	dir := t.TempDir()
	f.createScript("u/me/escape", "bash", `f="${1:-}"
setsid bash -c "sleep 2; echo escaped >> $f" &
(sleep 2; echo child >> $f.bg) &
sleep 60
`)
	// The intermediate bash is still alive in the job's group when the
	// main process ends; its setsid'd child only becomes millrun's to
	// find once the group kill has landed.
	f.createScript("u/me/quick", "bash", `f="${1:-}"
(sleep 2; echo child >> $f) &
bash -c "setsid bash -c 'sleep 2; echo deep >> $f.bg' & sleep 30" &
echo main-done
`)
	cases := []struct {
		name string
		run  func(file string) (elapsed time.Duration, body string)
	}{
		{"timeout", func(file string) (time.Duration, string) {
			start := time.Now()
			r := f.do("POST", "/api/w/local/jobs/run_wait_result/p/u/me/escape?timeout=1", "application/json", `{"f":"`+file+`"}`)
			return time.Since(start), r.body
		}},
		{"cancel", func(file string) (time.Duration, string) {
			r := f.do("POST", "/api/w/local/jobs/run/p/u/me/escape", "application/json", `{"f":"`+file+`"}`)
			time.Sleep(500 * time.Millisecond)
			start := time.Now()
			f.mustDo(200, "POST", "/api/w/local/jobs_u/queue/cancel/"+r.body, "application/json", `{"reason":"test"}`)
			j := f.waitJob(r.body)
			return time.Since(start), j["status"].(string) + " " + mustJSON(j["result"])
		}},
		{"main process done", func(file string) (time.Duration, string) {
			start := time.Now()
			r := f.do("POST", "/api/w/local/jobs/run_wait_result/p/u/me/quick", "application/json", `{"f":"`+file+`"}`)
			return time.Since(start), r.body
		}},
	}
	for _, c := range cases {
		file := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
		elapsed, body := c.run(file)
		if elapsed > 1500*time.Millisecond+time.Second {
			t.Errorf("%s: the job took %s to answer (%s)", c.name, elapsed, body)
		}
		if c.name == "main process done" && body != `"main-done"` {
			t.Errorf("%s: answer %s, want \"main-done\"", c.name, body)
		}
		time.Sleep(2500 * time.Millisecond)
		for _, leftover := range []string{file, file + ".bg"} {
			if b, err := os.ReadFile(leftover); err == nil {
				t.Errorf("%s: a child outlived its job and wrote %s: %q", c.name, filepath.Base(leftover), b)
			}
		}
	}
}

// A process a job leaves cannot outlive it by carrying another running
// job's WM_JOB_ID (which the API lists to any job with its WM_TOKEN),
// while a daemon a running job started itself, in a session of its own,
// is spared until that job ends: spawned and forked, Bash and Python.
func TestLeftoverCannotBorrowARunningJobsID(t *testing.T) {
	t.Parallel()
	needLinux(t)
	long := map[string]string{
		"bash": `dir="$1"
( setsid sh -c 'echo $$ > "$1/daemon"; sleep 30' sh "$dir" >/dev/null 2>&1 & )
sleep 6
echo long
`,
		// A plain fork, no exec: what /proc shows of its environment is
		// the fork server's, with the job's marker written into it.
		"python3": `import os, time
def main(dir: str):
    if os.fork() == 0:
        if os.fork() == 0:
            os.setsid()
            with open(dir + '/daemon', 'w') as f:
                f.write(str(os.getpid()))
            time.sleep(30)
        os._exit(0)
    time.sleep(6)
    return 'long'
`,
	}
	for _, forked := range []bool{false, true} {
		for _, lang := range []string{"bash", "python3"} {
			t.Run(fmt.Sprintf("%s forked %v", lang, forked), func(t *testing.T) {
				t.Parallel()
				f := setup(t, func(c *Config) { c.NoForkServer = !forked })
				if forked {
					forkReady(t, f)
					bashForkReady(t, f)
				}
				f.createScript("u/me/long", lang, long[lang])
				f.createScript("u/me/borrow", "bash", `dir="$1"
id="$2"
env -i WM_JOB_ID="$id" setsid sh -c 'echo $$ > "$1/pid"; sleep 30' sh "$dir" >/dev/null 2>&1 &
while [ ! -s "$dir/pid" ]; do sleep 0.01; done
echo left
`)
				dir := t.TempDir()
				pidIn := func(name string) int {
					b, _ := os.ReadFile(filepath.Join(dir, name))
					pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
					return pid
				}
				t.Cleanup(func() {
					for _, name := range []string{"daemon", "pid"} {
						if pid := pidIn(name); pid > 1 {
							_ = syscall.Kill(pid, syscall.SIGKILL)
						}
					}
				})
				r := f.do("POST", "/api/w/local/jobs/run/p/u/me/long", "application/json", `{"dir": "`+dir+`"}`)
				if r.status != 201 {
					t.Fatalf("start the long job: %d %s", r.status, r.body)
				}
				longID := r.body
				testkit.WaitUntil(t, "the long job's daemon", 10*time.Second, func() bool { return pidIn("daemon") > 1 })
				started := time.Now()
				if b := f.syncRun("u/me/borrow", `{"dir": "`+dir+`", "id": "`+longID+`"}`).body; b != `"left"` {
					t.Fatalf("the borrowing job answered %s", b)
				}
				if !goneWithin(pidIn("pid"), 3*time.Second) {
					t.Errorf("a process left with the running job %s's WM_JOB_ID outlived the job that left it", longID)
				}
				if time.Since(started) < 4*time.Second && !liveProcess(pidIn("daemon")) {
					t.Errorf("the running job's own daemon was killed at another job's end")
				}
				f.waitJob(longID)
				if !goneWithin(pidIn("daemon"), 3*time.Second) {
					t.Errorf("the long job's daemon outlived it")
				}
			})
		}
	}
}

// liveProcess reports whether pid runs (not a zombie).
func liveProcess(pid int) bool {
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(st), ") Z ")
}

// goneWithin reports whether pid is dead (or a zombie) within d.
func goneWithin(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for liveProcess(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// What a killed millrun left running is killed by the next start on the
// same data folder, and its jobs' folders are removed.
func TestLeftoversOfAKilledMillrunAreCleared(t *testing.T) {
	t.Parallel()
	needLinux(t)
	f := setup(t)
	owner, tmp := f.e.runner.Owner, f.e.runner.TempRoot
	f.e.Close(context.Background())
	stale := filepath.Join(tmp, "millrun-job-stale")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	// A job of the dead millrun: its marker, its own session.
	cmd := exec.Command("setsid", "sleep", "60")
	cmd.Env = append(os.Environ(), "MILLRUN_OWNER="+owner)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	e, err := Open(Config{DataDir: f.dir, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	select {
	case <-exited:
	case <-time.After(3 * time.Second):
		cmd.Process.Kill()
		t.Fatal("a job process of the previous millrun is still running after the next start")
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the previous millrun's job folder is still there: %v", err)
	}
}

// A running Bash job's source and arguments never appear on its command
// line, which every local user can read in /proc; the arguments still
// arrive as $1.., quotes and spaces intact, and bash processes the script
// starts do not inherit them.
func TestBashSourceAndArgumentsAreNotOnTheCommandLine(t *testing.T) {
	t.Parallel()
	needLinux(t)
	for _, forked := range []bool{false, true} {
		f := setup(t, func(c *Config) { c.NoForkServer = !forked })
		if forked {
			bashForkReady(t, f)
		}
		bashSourceAndArgumentsAreNotOnTheCommandLine(t, f)
	}
}

func bashSourceAndArgumentsAreNotOnTheCommandLine(t *testing.T, f *fixture) {
	f.createScript("u/me/secretive", "bash", `key="$1"
# api key: sk_live_SECRETVALUE
echo "cmdline: $(tr '\0' ' ' < /proc/$$/cmdline)"
echo "arg: [$key] count: $#"
echo "child: $(bash -c 'echo "[$#]"')"
`)
	r := f.syncRun("u/me/secretive", `{"key": "it's a \"quoted\" SECRETARG"}`)
	job := f.waitJob(r.header.Get("X-Millrun-Job-Id"))
	logs, _ := job["logs"].(string)
	if strings.Contains(logs, "SECRETVALUE") || strings.Contains(strings.SplitN(logs, "\narg:", 2)[0], "SECRETARG") || !strings.Contains(logs, "cmdline: ") {
		t.Fatalf("the job's command line shows its source or arguments:\n%s", logs)
	}
	if !strings.Contains(logs, `arg: [it's a "quoted" SECRETARG] count: 1`) || !strings.Contains(logs, "child: [0]") {
		t.Fatalf("the arguments did not arrive as $1, or a child bash inherited them:\n%s", logs)
	}
}
