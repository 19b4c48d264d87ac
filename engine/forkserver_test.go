//go:build linux || darwin

package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// forkReady waits until cold Python jobs of f run as children of the fork
// server (the first ones spawn while it starts).
func forkReady(t *testing.T, f *fixture) {
	t.Helper()
	f.createScript("u/me/ppid", "python3", "import os\ndef main():\n    return os.getppid()\n")
	waitFor(t, "cold Python jobs on the fork server", 10*time.Second, func() bool {
		r := f.syncRun("u/me/ppid", "{}")
		return r.body != strconv.Itoa(os.Getpid()) && r.status == 200
	})
}

// The fork server gives what a spawned interpreter gives: results, logs,
// errors, the job's environment, and module state fresh for every job.
func TestForkServerMatchesSpawn(t *testing.T) {
	t.Parallel()
	forked, spawned := setup(t), setup(t, func(c *Config) { c.NoForkServer = true })
	forkReady(t, forked)
	cases := append([]struct{ name, lang, content, args string }{}, warmCases...)
	cases = append(cases,
		struct{ name, lang, content, args string }{"module state fresh", "python3", "runs = []\ndef main():\n    runs.append(1)\n    return len(runs)\n", `{}`},
		struct{ name, lang, content, args string }{"environment", "python3", "import os\ndef main():\n    return sorted(k for k in os.environ if not k.startswith('LC_'))\n", `{}`},
		struct{ name, lang, content, args string }{"exit code", "python3", "import os\ndef main():\n    print('leaving')\n    os._exit(3)\n", `{}`},
		struct{ name, lang, content, args string }{"stdin is empty", "python3", "import sys\ndef main():\n    return sys.stdin.read()\n", `{}`},
	)
	for i, c := range cases {
		if c.lang != "python3" {
			continue
		}
		p := "u/me/parity" + strconv.Itoa(i)
		forked.createScript(p, c.lang, c.content)
		spawned.createScript(p, c.lang, c.content)
		for round := range 2 {
			rf, rs := forked.syncRun(p, c.args), spawned.syncRun(p, c.args)
			jf, js := forked.waitJob(rf.header.Get("X-Millrun-Job-Id")), spawned.waitJob(rs.header.Get("X-Millrun-Job-Id"))
			if rf.body != rs.body && jf["success"] == true {
				t.Errorf("%s (round %d): forked %s, spawned %s", c.name, round, rf.body, rs.body)
			}
			if jf["success"] != js["success"] {
				t.Errorf("%s (round %d): success forked %v spawned %v", c.name, round, jf["success"], js["success"])
			}
			if jf["success"] != true {
				ef, es := failure(t, rf.body), failure(t, rs.body)
				if ef["name"] != es["name"] || ef["message"] != es["message"] {
					t.Errorf("%s (round %d): error forked %v, spawned %v", c.name, round, ef, es)
				}
				continue
			}
			if jf["logs"] != js["logs"] {
				t.Errorf("%s (round %d): logs forked %q, spawned %q", c.name, round, jf["logs"], js["logs"])
			}
		}
	}
	// The job sees its own id, and nothing of the server's placeholder.
	forked.createScript("u/me/env", "python3", "import os\ndef main():\n    return [os.environ.get('WM_JOB_ID'), 'MILLRUN_JOB_SLOT' in os.environ]\n")
	r := forked.syncRun("u/me/env", "{}")
	var got []any
	json.Unmarshal([]byte(r.body), &got)
	if len(got) != 2 || got[0] != r.header.Get("X-Millrun-Job-Id") || got[1] != false {
		t.Fatalf("environment of a forked job: %s", r.body)
	}
}

// A forked job's timeout and cancel kill it and what it started, also a
// plain fork that left its process group (it carries no exec'd environment).
func TestForkServerKillsWhatTheJobLeft(t *testing.T) {
	t.Parallel()
	needLinux(t)
	f := setup(t)
	forkReady(t, f)
	f.createScript("u/me/hide", "python3", `import os, subprocess, time
def main(f: str):
    if os.fork() == 0:
        os.setsid()
        time.sleep(2)
        open(f + ".forked", "a").write("escaped")
        os._exit(0)
    subprocess.Popen(["setsid", "bash", "-c", "sleep 2; echo escaped >> " + f + ".exec"])
    time.sleep(60)
`)
	dir := t.TempDir()
	file := filepath.Join(dir, "mark")
	start := time.Now()
	r := f.do("POST", "/api/w/local/jobs/run_wait_result/p/u/me/hide?timeout=1", "application/json", `{"f":"`+file+`"}`)
	if time.Since(start) > 3*time.Second || !strings.Contains(r.body, "imeout") {
		t.Fatalf("timeout answered after %s: %s", time.Since(start), r.body)
	}
	time.Sleep(3 * time.Second)
	for _, suffix := range []string{".forked", ".exec"} {
		if _, err := os.Stat(file + suffix); err == nil {
			t.Errorf("a process the job left (%s) outlived it", suffix)
		}
	}
}

// A fork server that dies is replaced; jobs meanwhile spawn as before.
func TestForkServerRestartsWhenItDies(t *testing.T) {
	t.Parallel()
	f := setup(t)
	forkReady(t, f)
	server, _ := strconv.Atoi(f.syncRun("u/me/ppid", "{}").body)
	p, err := os.FindProcess(server)
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Kill()
	f.createScript("u/me/ok", "python3", "def main():\n    return 'fine'\n")
	for i := 0; i < 5; i++ {
		if r := f.syncRun("u/me/ok", "{}"); r.body != `"fine"` {
			t.Fatalf("run %d after the fork server died: %d %s", i, r.status, r.body)
		}
	}
	waitFor(t, "a new fork server", 10*time.Second, func() bool {
		now, _ := strconv.Atoi(f.syncRun("u/me/ppid", "{}").body)
		return now != server && now != os.Getpid() && now != 0
	})
}

// A fork server that dies before it took a job's request (here: stopped,
// then killed, with the request waiting in its socket) has started nothing,
// so the job spawns as before instead of failing with "retry it".
func TestForkServerDeadBeforeTakingAJobSpawnsIt(t *testing.T) {
	t.Parallel()
	f := setup(t)
	forkReady(t, f)
	f.createScript("u/me/ok", "python3", "def main():\n    return 'fine'\n")
	server, _ := strconv.Atoi(f.syncRun("u/me/ppid", "{}").body)
	if err := syscall.Kill(server, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	done := make(chan resp, 1)
	go func() { done <- f.syncRun("u/me/ok", "{}") }()
	// Long enough for the request to be written to the stopped server.
	time.Sleep(500 * time.Millisecond)
	if err := syscall.Kill(server, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.body != `"fine"` {
			t.Fatalf("the job the dead server never took: %d %s", r.status, r.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the job the dead server never took did not finish")
	}
}

// Jobs run at a lower CPU priority than millrun, spawned or forked, so
// CPU-heavy jobs leave the UI and the API responsive.
func TestJobsRunAtLowerPriority(t *testing.T) {
	t.Parallel()
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	own := raw
	if goruntime.GOOS == "linux" {
		own = 20 - raw
	}
	want := strconv.Itoa(min(19, own+5))
	for _, noFork := range []bool{false, true} {
		f := setup(t, func(c *Config) { c.NoForkServer = noFork })
		if !noFork {
			forkReady(t, f)
			bashForkReady(t, f)
		}
		f.createScript("u/me/nice", "python3", "import os\ndef main():\n    return os.nice(0)\n")
		f.createScript("u/me/nice_sh", "bash", "nice\n")
		for _, p := range []string{"u/me/nice", "u/me/nice_sh"} {
			if r := f.syncRun(p, "{}"); r.body != want && r.body != `"`+want+`"` {
				t.Errorf("%s (fork server off: %v): niceness %s, want %s", p, noFork, r.body, want)
			}
		}
	}
}
