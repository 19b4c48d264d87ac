//go:build !windows

package engine

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/testkit"
)

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// warmCases run cold and warm; both must give the same answer and logs.
var warmCases = []struct {
	name, lang, content, args string
}{
	{"python result", "python3", "def main(a: int, b: str = 'x'):\n    print('log', a)\n    return {'a': a, 'b': b}\n", `{"a": 1, "extra": 2}`},
	{"python raise", "python3", "def main():\n    print('before')\n    raise ValueError('nope')\n", `{}`},
	{"python async", "python3", "import asyncio\nasync def main(n: int):\n    await asyncio.sleep(0)\n    return n * 2\n", `{"n": 21}`},
	{"python none", "python3", "def main():\n    pass\n", `{}`},
	{"python non-JSON value", "python3", "import datetime\ndef main():\n    return datetime.date(2024, 1, 2)\n", `{}`},
	{"python no trailing newline", "python3", "import sys\ndef main():\n    sys.stdout.write('partial')\n    return 1\n", `{}`},
	{"ts result", "bun", "export async function main(a: number, s: string = 'd') { console.log('log', a); return { a, s } }\n", `{"a": 3}`},
	{"ts throw", "bun", "export function main() { console.error('oops'); throw new TypeError('bad type') }\n", `{}`},
	{"ts undefined", "bun", "export function main() { }\n", `{}`},
}

func TestWarmMatchesCold(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for i, c := range warmCases {
		cold, warm := fmt.Sprintf("u/me/cold%d", i), fmt.Sprintf("u/me/warm%d", i)
		f.createScript(cold, c.lang, c.content)
		f.createScript(warm, c.lang, c.content, "dedicated_worker", "true")
		for round := range 2 { // the second warm run reuses the worker
			rc, rw := f.syncRun(cold, c.args), f.syncRun(warm, c.args)
			jc, jw := f.waitJob(rc.header.Get("X-Millrun-Job-Id")), f.waitJob(rw.header.Get("X-Millrun-Job-Id"))
			if jc["success"] != jw["success"] {
				t.Errorf("%s (round %d): success cold %v warm %v", c.name, round, jc["success"], jw["success"])
			}
			if jc["success"] == true {
				if rc.body != rw.body {
					t.Errorf("%s (round %d): cold %s, warm %s", c.name, round, rc.body, rw.body)
				}
				if jc["logs"] != jw["logs"] {
					t.Errorf("%s (round %d): logs cold %q, warm %q", c.name, round, jc["logs"], jw["logs"])
				}
				continue
			}
			ec, ew := failure(t, rc.body), failure(t, rw.body)
			if ec["name"] != ew["name"] || ec["message"] != ew["message"] {
				t.Errorf("%s (round %d): error cold %v, warm %v", c.name, round, ec, ew)
			}
			// Tracebacks name different wrapper files; the script's own lines match.
			if !strings.Contains(jw["logs"].(string), ec["message"].(string)) {
				t.Errorf("%s (round %d): warm logs lack the error: %q", c.name, round, jw["logs"])
			}
		}
	}
}

const pidScript = "import os, time\nstate = {'runs': 0}\ndef main(sleep: float = 0):\n    state['runs'] += 1\n    time.sleep(sleep)\n    return {'pid': os.getpid(), 'runs': state['runs']}\n"

func warmPid(t *testing.T, f *fixture, path, args string) (pid, runs int) {
	t.Helper()
	r := f.syncRun(path, args)
	var out struct{ Pid, Runs int }
	if err := jsonUnmarshal(r.body, &out); err != nil || out.Pid == 0 {
		t.Fatalf("%s: %d %s", path, r.status, r.body)
	}
	return out.Pid, out.Runs
}

func TestWarmTimeoutCancelAndCrash(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/pids", "python3", pidScript, "dedicated_worker", "true", "timeout", "1")
	pid1, runs := warmPid(t, f, "u/me/pids", `{}`)
	if pid2, runs2 := warmPid(t, f, "u/me/pids", `{}`); pid2 != pid1 || runs2 != runs+1 {
		t.Fatalf("the worker was not reused: pid %d→%d runs %d→%d", pid1, pid2, runs, runs2)
	}
	// Timeout: the worker is killed and replaced.
	e := failure(t, f.syncRun("u/me/pids", `{"sleep": 5}`).body)
	if e["name"] != "TimeoutError" {
		t.Fatalf("timeout on a warm worker: %v", e)
	}
	time.Sleep(100 * time.Millisecond)
	if alive(pid1) {
		t.Fatal("the timed-out warm worker is still alive")
	}
	pid3, runs3 := warmPid(t, f, "u/me/pids", `{}`)
	if pid3 == pid1 || runs3 != 1 {
		t.Fatalf("no fresh worker after the timeout: pid %d runs %d", pid3, runs3)
	}
	// Cancel.
	id := f.do("POST", "/api/w/local/jobs/run/p/u/me/pids", "application/json", `{"sleep": 5}`).body
	time.Sleep(300 * time.Millisecond)
	if r := f.do("POST", "/api/w/local/jobs_u/queue/cancel/"+id, "application/json", `{}`); r.status != 200 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	if j := f.waitJob(id); j["canceled"] != true {
		t.Fatalf("cancel on a warm worker: %v", j)
	}
	time.Sleep(100 * time.Millisecond)
	if alive(pid3) {
		t.Fatal("the canceled warm worker is still alive")
	}
	// Killed from outside mid-job: that job fails clearly, the next one works.
	pid4, _ := warmPid(t, f, "u/me/pids", `{}`)
	done := make(chan resp, 1)
	go func() { done <- f.syncRun("u/me/pids", `{"sleep": 0.8}`) }()
	time.Sleep(300 * time.Millisecond)
	syscall.Kill(pid4, syscall.SIGKILL)
	e = failure(t, (<-done).body)
	if e["name"] != "WorkerCrashed" || !strings.Contains(e["message"].(string), "exited while running the job") {
		t.Fatalf("worker killed from outside: %v", e)
	}
	if pid5, runs5 := warmPid(t, f, "u/me/pids", `{}`); pid5 == pid4 || runs5 != 1 {
		t.Fatalf("no recovery after the crash: pid %d runs %d", pid5, runs5)
	}
}

func TestWarmVersionSwapIdleAndClose(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/v", "python3", pidScript, "dedicated_worker", "true")
	pid1, _ := warmPid(t, f, "u/me/v", `{}`)
	f.createScript("u/me/v", "python3", pidScript+"\n# v2\n", "dedicated_worker", "true")
	pid2, runs := warmPid(t, f, "u/me/v", `{}`)
	if pid2 == pid1 || runs != 1 {
		t.Fatalf("a new version kept the old worker: %d→%d runs %d", pid1, pid2, runs)
	}
	time.Sleep(100 * time.Millisecond)
	if alive(pid1) {
		t.Fatal("the old version's worker is still alive")
	}
	s := f.e.Settings()
	s.WarmIdleTimeoutS = 1
	if err := f.e.UpdateSettings(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUntil(t, "the idle warm worker to stop", 5*time.Second, func() bool { return !alive(pid2) })
	pid3, _ := warmPid(t, f, "u/me/v", `{}`)
	f.srv.Close()
	f.e.Close(context.Background())
	time.Sleep(100 * time.Millisecond)
	if alive(pid3) {
		t.Fatal("a warm worker outlived the engine")
	}
}

func TestWarmImportErrorFailsTheJob(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/broken", "python3", "# requirements:\nimport no_such_module_here\ndef main():\n    return 1\n", "dedicated_worker", "true")
	e := failure(t, f.syncRun("u/me/broken", `{}`).body)
	if e["name"] != "ModuleNotFoundError" {
		t.Fatalf("import error on a warm worker: %v", e)
	}
}
