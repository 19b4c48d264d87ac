//go:build linux || darwin

package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/testkit"
)

// forkReady waits until cold Python jobs of f run as children of the fork
// server (the first ones spawn while it starts).
func forkReady(t *testing.T, f *fixture) {
	t.Helper()
	f.createScript("u/me/ppid", "python3", "import os\ndef main():\n    return os.getppid()\n")
	testkit.WaitUntil(t, "cold Python jobs on the fork server", 10*time.Second, func() bool {
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
		struct{ name, lang, content, args string }{"atexit and threads", "python3", "import atexit, threading, time\ndef main():\n    atexit.register(print, 'atexit ran')\n    threading.Thread(target=lambda: (time.sleep(0.2), print('thread ran'))).start()\n    return 1\n", `{}`},
		struct{ name, lang, content, args string }{"module path", "python3", "import os, sys\ndef main():\n    data = os.path.dirname(os.path.dirname(os.getcwd()))\n    return [p.replace(os.getcwd(), 'JOB').replace(data, 'DATA') for p in sys.path]\n", `{}`},
		struct{ name, lang, content, args string }{"__main__", "python3", "import __main__\ndef main():\n    return sorted(k for k in vars(__main__) if not k.startswith('__'))\n", `{}`},
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
	testkit.WaitUntil(t, "a new fork server", 10*time.Second, func() bool {
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

// A forked job is as isolated from the jobs after it as a spawned one:
// whatever a job does to its folder, its server or its children, the next
// jobs (of other scripts) get what they would have got had it never run,
// and a timeout or a cancel always ends it. Each case is a way a job
// hostile to later jobs used to reach them; the same cases run spawned.
func TestForkedJobsAreAsIsolatedAsSpawned(t *testing.T) {
	t.Parallel()
	needLinux(t)
	for _, forked := range []bool{true, false} {
		t.Run(map[bool]string{false: "spawned", true: "forked"}[forked], func(t *testing.T) {
			t.Parallel()
			f := setup(t, func(c *Config) { c.NoForkServer = !forked })
			if forked {
				forkReady(t, f)
				bashForkReady(t, f)
			}
			for _, c := range hostileCases {
				f.createScript("u/me/hostile_"+c.lang, c.lang, c.hostile)
				c.check(t, f, c.lang, c.hostile, func(extra string) hostileRun {
					dir := t.TempDir()
					args := fmt.Sprintf(`{"dir": %q, "app": %d, "group": %d%s}`, dir, os.Getpid(), syscall.Getpgrp(), extra)
					return hostileRun{dir: dir, args: args, path: "u/me/hostile_" + c.lang}
				})
			}
		})
	}
}

// hostileRun is one run of a hostile script: its arguments (the test's
// folder, millrun's pid and process group, then the case's own).
type hostileRun struct{ dir, args, path string }

type hostileCase struct {
	name, lang, hostile string
	// check runs the hostile script (through run, with the case's extra
	// arguments) and what must not notice it.
	check func(t *testing.T, f *fixture, lang, hostile string, run func(extra string) hostileRun)
}

// The hostile scripts take dir, app, group, then nap (seconds to sleep
// before ending) and mode, positionally in Bash.
const bashHostileHead = "dir=\"$1\"\napp=\"$2\"\ngroup=\"$3\"\nnap=\"${4:-0}\"\nmode=\"${5:-}\"\n"

var hostileCases = []hostileCase{
	{"appending to the server's rc.sh", "bash", bashHostileHead + `echo 'echo INJECTED' >> ../rc.sh 2>/dev/null || true
echo done
`, func(t *testing.T, f *fixture, lang, hostile string, run func(string) hostileRun) {
		h := run("")
		f.syncRun(h.path, h.args)
		victimSeesNothing(t, f, "rc.sh", lang, "echo clean\n", `{}`, `"clean"`, "clean\n")
	}},
	{"a hard link to the job's private files", "bash", bashHostileHead + `for f in .millrun/*; do
  if [ -f "$f" ] && [ ! -p "$f" ]; then ln "$f" "$dir/link-${f##*/}"; fi
done
echo linked
`, hardLinkCheck},
	{"a hard link to the job's private files", "python3", `import os
def main(dir: str):
    for n in os.listdir('.millrun'):
        p = os.path.join('.millrun', n)
        if os.path.isfile(p):
            os.link(p, os.path.join(dir, 'link-' + n))
    return 'linked'
`, hardLinkCheck},
	{"a leftover writing results", "bash", bashHostileHead + `env -i setsid sh -c 'echo $$ > "$1/pid"; i=0; while [ $i -lt 600 ]; do echo "\"evil\"" > result.json; echo evil > result.out; echo "\"evil\"" > .millrun/result.json; i=$((i+1)); sleep 0.01; done' sh "$dir" >/dev/null 2>&1 &
while [ ! -s "$dir/pid" ]; do sleep 0.01; done
echo left
`, leftoverWriterCheck},
	{"a leftover writing results", "python3", `import os, subprocess, time
def main(dir: str):
    subprocess.Popen(['sh', '-c', r'echo $$ > "$1/pid"; i=0; while [ $i -lt 600 ]; do echo "\"evil\"" > .millrun/result.json; echo "\"evil\"" > result.json; i=$((i+1)); sleep 0.01; done', 'sh', dir], start_new_session=True, env={}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not os.path.exists(os.path.join(dir, 'pid')) or os.path.getsize(os.path.join(dir, 'pid')) == 0:
        time.sleep(0.01)
    return 'left'
`, leftoverWriterCheck},
	{"a module planted on the server's path", "python3", `import os, sys
def main():
    root = os.path.dirname(os.getcwd())
    for p in sys.path:
        if p and p != os.getcwd() and p.startswith(root + os.sep) and os.path.isdir(p):
            with open(os.path.join(p, 'traceback.py'), 'w') as f:
                f.write("print('INJECTED')\ndef format_exc():\n    return 'INJECTED'\n")
    return 'planted'
`, func(t *testing.T, f *fixture, lang, hostile string, run func(string) hostileRun) {
		h := run("")
		f.syncRun(h.path, h.args)
		f.createScript("u/me/victim_planted", lang, "def main():\n    raise ValueError('the victim failed')\n")
		r := f.syncRun("u/me/victim_planted", "{}")
		job := f.waitJob(r.header.Get("X-Millrun-Job-Id"))
		if e := failure(t, r.body); e["message"] != "the victim failed" || strings.Contains(mustJSON(job), "INJECTED") {
			t.Errorf("planted module: the next job ran what an earlier one planted: %s, logs %q", r.body, job["logs"])
		}
	}},
	{"a module planted on the path of wmill and imported scripts", "python3", `import os, sys
import wmill
from f.lib import helper

def main():
    here = os.path.realpath(os.getcwd())
    data = os.path.dirname(os.path.dirname(here))
    planted = 0
    for p in sys.path:
        real = os.path.realpath(p) if p else ''
        # Only what is in the data folder, and not the job's own folder.
        if not real.startswith(data + os.sep) or real == here or not os.path.isdir(real):
            continue
        with open(os.path.join(real, 'traceback.py'), 'w') as f:
            f.write("print('INJECTED')\ndef format_exc():\n    return 'INJECTED'\n")
        for d, _, names in os.walk(real):
            for n in names:
                if n.endswith('.py') and n != 'traceback.py':
                    with open(os.path.join(d, n), 'a') as f:
                        f.write("\nprint('INJECTED')\n")
        planted += 1
    return '%s %d' % (helper.name(), planted)
`, func(t *testing.T, f *fixture, lang, hostile string, run func(string) hostileRun) {
		// wmill: the built-in module (the test index has none); f/lib/helper:
		// a workspace script both import.
		f.createScript("f/lib/helper", lang, "def name():\n    return 'helper'\n")
		h := run("")
		f.createScript(h.path, lang, hostile)
		if r := f.syncRun(h.path, h.args); !strings.HasPrefix(r.body, `"helper `) {
			t.Fatalf("planted module (wmill, imported scripts): the hostile job answered %s", r.body)
		}
		f.createScript("u/me/victim_planted_shared", lang, "import wmill\nfrom f.lib import helper\n\ndef main():\n    raise ValueError('the victim failed: ' + helper.name() + ' ' + wmill.__name__)\n")
		r := f.syncRun("u/me/victim_planted_shared", "{}")
		job := f.waitJob(r.header.Get("X-Millrun-Job-Id"))
		if e := failure(t, r.body); e["message"] != "the victim failed: helper wmill" || strings.Contains(mustJSON(job), "INJECTED") {
			t.Errorf("planted module (wmill, imported scripts): the next job ran what an earlier one planted: %s, logs %q", r.body, job["logs"])
		}
	}},
	{"reopening its server's descriptors", "bash", bashHostileHead + `if [ "$PPID" != "$app" ]; then
  for fd in /proc/$PPID/fd/*; do
    to=$(readlink "$fd") || continue
    [ "$to" = /dev/null ] && continue
    if (exec 9<>"$fd") 2>/dev/null; then echo "${fd##*/} $to" >> "$dir/opened"; fi
  done
  # A request of its own, as the server reads them: output to one of
  # millrun's pipes, into a folder whose main.sh outlives the job.
  o=1
  for fd in /proc/$app/fd/*; do
    case "$(readlink "$fd")" in pipe:*) o=${fd##*/}; break ;; esac
  done
  mkdir "$dir/planted"
  printf 'echo $$ > "%s/pid"\necho escaped > "%s/mark"\nsleep 30\n' "$dir" "$dir" > "$dir/planted/main.sh"
  chmod +x "$dir/planted/main.sh"
  printf '%s 99999 %s\n' "$o" "$dir/planted" 2>/dev/null > "/proc/$PPID/fd/3" || true
fi
echo done
`, reopenServerCheck},
	{"reopening its server's descriptors", "python3", `import os
def main(dir: str, app: int):
    server = os.getppid()
    if server != app:
        opened = []
        for n in os.listdir('/proc/%d/fd' % server):
            p = '/proc/%d/fd/%s' % (server, n)
            try:
                to = os.readlink(p)
            except OSError:
                continue
            if to == '/dev/null':
                continue
            try:
                os.close(os.open(p, os.O_RDWR | os.O_NONBLOCK))
                opened.append(n + ' ' + to)
            except OSError:
                pass
        with open(os.path.join(dir, 'opened'), 'w') as f:
            f.write('\n'.join(opened))
    return 'done'
`, reopenServerCheck},
	{"stopping its server", "bash", bashHostileHead + `echo $PPID > "$dir/server"
if [ "$PPID" != "$app" ]; then kill -STOP "$PPID"; fi
sleep "$nap"
echo stopped
`, stopServerCheck},
	{"stopping its server", "python3", `import os, signal, time
def main(dir: str, app: int, nap: int = 0):
    with open(os.path.join(dir, 'server'), 'w') as f:
        f.write(str(os.getppid()))
    if os.getppid() != app:
        os.kill(os.getppid(), signal.SIGSTOP)
    time.sleep(nap)
    return 'stopped'
`, stopServerCheck},
	{"planting into the folders made ahead", "bash", bashHostileHead + `for d in ../*/; do
  [ "$d" = "../${PWD##*/}/" ] && continue
  echo '"planted"' > "$d/result.json" 2>/dev/null || true
  if [ -d "$d/.millrun" ]; then echo '{"name": "Planted", "message": "planted"}' > "$d/.millrun/error.json"; fi
done
echo planted
`, func(t *testing.T, f *fixture, lang, hostile string, run func(string) hostileRun) {
		h := run("")
		f.syncRun(h.path, h.args)
		victimSeesNothing(t, f, "planted bash", "bash", "echo mine\n", `{}`, `"mine"`, "mine\n")
		victimSeesNothing(t, f, "planted python", "python3", "def main():\n    return 'mine'\n", `{}`, `"mine"`, "")
	}},
	{"large arguments", "bash", bashHostileHead + "echo ${#mode}\n", largeArgumentsCheck},
	{"large arguments", "python3", "def main(mode: str = ''):\n    return len(mode)\n", largeArgumentsCheck},
	{"a child in its own session with an empty environment", "bash", bashHostileHead + `env -i setsid sh -c 'echo $$ > "$1/pid"; sleep 10; echo escaped > "$1/mark"' sh "$dir" >/dev/null 2>&1 &
while [ ! -s "$dir/pid" ]; do sleep 0.01; done
sleep "$nap"
echo started
`, escapeCheck},
	{"a child in its own session with an empty environment", "python3", `import os, subprocess, time
def main(dir: str, nap: int = 0):
    subprocess.Popen(['sh', '-c', 'echo $$ > "$1/pid"; sleep 10; echo escaped > "$1/mark"', 'sh', dir], start_new_session=True, env={}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not os.path.exists(os.path.join(dir, 'pid')) or os.path.getsize(os.path.join(dir, 'pid')) == 0:
        time.sleep(0.01)
    time.sleep(nap)
    return 'started'
`, escapeCheck},
	{"a child joining millrun's process group", "bash", bashHostileHead + `python3 -c "$(printf '%s\n' 'import os, sys, time' 'try:' '    os.setpgid(0, int(sys.argv[2]))' 'except OSError:' '    pass' 'open(sys.argv[1] + "/pid", "w").write(str(os.getpid()))' 'time.sleep(10)' 'open(sys.argv[1] + "/mark", "w").write("escaped")')" "$dir" "$group" >/dev/null 2>&1 &
while [ ! -s "$dir/pid" ]; do sleep 0.01; done
sleep "$nap"
echo started
`, escapeCheck},
	{"a child joining millrun's process group", "python3", `import os, subprocess, sys, time
CHILD = '''import os, sys, time
try:
    os.setpgid(0, int(sys.argv[2]))
except OSError:
    pass
open(sys.argv[1] + "/pid", "w").write(str(os.getpid()))
time.sleep(10)
open(sys.argv[1] + "/mark", "w").write("escaped")
'''
def main(dir: str, group: int, nap: int = 0):
    subprocess.Popen([sys.executable, '-c', CHILD, dir, str(group)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not os.path.exists(os.path.join(dir, 'pid')) or os.path.getsize(os.path.join(dir, 'pid')) == 0:
        time.sleep(0.01)
    time.sleep(nap)
    return 'started'
`, escapeCheck},
}

// victimSeesNothing runs a script of another path after a hostile one and
// checks it got exactly what it would have got alone.
func victimSeesNothing(t *testing.T, f *fixture, name, lang, content, args, want, logs string) {
	t.Helper()
	path := "u/me/victim_" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r
		}
		return '_'
	}, name)
	f.createScript(path, lang, content)
	r := f.syncRun(path, args)
	job := f.waitJob(r.header.Get("X-Millrun-Job-Id"))
	if r.body != want || job["logs"] != logs {
		t.Errorf("%s (%s): the next job got %s, logs %q; want %s, logs %q", name, lang, r.body, job["logs"], want, logs)
	}
}

// A hard link to a job's private files (its arguments, its environment
// with WM_TOKEN) shows nothing of the jobs after it.
func hardLinkCheck(t *testing.T, f *fixture, lang, hostile string, run func(string) hostileRun) {
	h := run("")
	f.syncRun(h.path, h.args)
	secret := "SECRET-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	content := "s=\"$1\"\necho ok\n"
	if lang == "python3" {
		content = "def main(s: str):\n    return 'ok'\n"
	}
	f.createScript("u/me/victim_link_"+lang, lang, content)
	r := f.syncRun("u/me/victim_link_"+lang, `{"s": "`+secret+`"}`)
	id := r.header.Get("X-Millrun-Job-Id")
	f.waitJob(id)
	entries, _ := os.ReadDir(h.dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(h.dir, e.Name()))
		if strings.Contains(string(b), secret) || strings.Contains(string(b), id) {
			t.Errorf("hard link (%s): %s, linked by an earlier job, shows a later job's arguments or environment:\n%.300s", lang, e.Name(), b)
		}
	}
}

// A process a job leaves behind, writing result files where the job ran,
// changes no later job's result.
func leftoverWriterCheck(t *testing.T, f *fixture, lang, hostile string, run func(string) hostileRun) {
	h := run("")
	f.syncRun(h.path, h.args)
	content, want := "echo mine\n", `"mine"`
	if lang == "python3" {
		content = "def main():\n    return 'mine'\n"
	}
	f.createScript("u/me/victim_leftover_"+lang, lang, content)
	for i := range 6 {
		if r := f.syncRun("u/me/victim_leftover_"+lang, "{}"); r.body != want {
			t.Errorf("leftover writer (%s): run %d after it got %s", lang, i, r.body)
		}
	}
}

// A job can open none of its fork server's descriptors through
// /proc/$PPID/fd (a pipe can be reopened there, a socket cannot): with the
// Bash server's request pipe, a job planted a request that the server ran
// after the job ended, as its own child, never swept, with no timeout, and
// the next job on that server failed.
func reopenServerCheck(t *testing.T, f *fixture, lang, hostile string, run func(string) hostileRun) {
	h := run("")
	t.Cleanup(func() {
		b, _ := os.ReadFile(filepath.Join(h.dir, "pid"))
		if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if r := f.syncRun(h.path, h.args); r.body != `"done"` {
		t.Errorf("reopening its server's descriptors (%s): the job answered %s", lang, r.body)
	}
	if b, _ := os.ReadFile(filepath.Join(h.dir, "opened")); len(b) > 0 {
		t.Errorf("reopening its server's descriptors (%s): a job opened these of its server's:\n%s", lang, b)
	}
	content, want, logs := "echo next\n", `"next"`, "next\n"
	if lang == "python3" {
		content, want, logs = "def main():\n    return 'next'\n", `"next"`, ""
	}
	victimSeesNothing(t, f, "after reopening "+lang, lang, content, `{}`, want, logs)
	time.Sleep(time.Second)
	if fileExists(filepath.Join(h.dir, "mark")) {
		t.Errorf("reopening its server's descriptors (%s): the request it planted ran after it ended", lang)
	}
}

// A job that stops its fork server (SIGSTOP) still ends: by itself, by
// its timeout, or cancelled; and the jobs after it run.
func stopServerCheck(t *testing.T, f *fixture, lang, hostile string, run func(string) hostileRun) {
	// One worker: a worker the job holds leaves none for the next job.
	forked := !f.e.cfg.NoForkServer
	f = setup(t, func(c *Config) { c.NoForkServer, c.Workers = !forked, 1 })
	if forked {
		forkReady(t, f)
		bashForkReady(t, f)
	}
	f.createScript("u/me/hostile_"+lang, lang, hostile)
	next := "echo next\n"
	if lang == "python3" {
		next = "def main():\n    return 'next'\n"
	}
	f.createScript("u/me/next_"+lang, lang, next)
	for _, ending := range []string{"by itself", "timeout", "cancel"} {
		extra, query := `, "nap": 0`, ""
		if ending != "by itself" {
			extra = `, "nap": 60`
		}
		if ending == "timeout" {
			query = "?timeout=2"
		}
		h := run(extra)
		t.Cleanup(func() { // a stopped server of the code before
			b, _ := os.ReadFile(filepath.Join(h.dir, "server"))
			if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 1 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGCONT)
			}
		})
		r := f.do("POST", "/api/w/local/jobs/run/p/"+h.path+query, "application/json", h.args)
		if r.status != 201 {
			t.Fatalf("stopping its server (%s, %s): %d %s", lang, ending, r.status, r.body)
		}
		if ending == "cancel" {
			testkit.WaitUntil(t, "the hostile job to start", 10*time.Second, func() bool { return fileExists(filepath.Join(h.dir, "server")) })
			time.Sleep(200 * time.Millisecond) // it stops its server
			f.mustDo(200, "POST", "/api/w/local/jobs_u/queue/cancel/"+r.body, "application/json", `{"reason":"test"}`)
		}
		if j, ok := jobWithin(f, r.body, 15*time.Second); !ok {
			t.Errorf("stopping its server (%s): a job that stopped its server did not end %s", lang, ending)
		} else if ending != "by itself" && j["canceled"] != true && j["success"] != false {
			t.Errorf("stopping its server (%s): ended %s as %s", lang, ending, mustJSON(j))
		}
		r = f.do("POST", "/api/w/local/jobs/run/p/u/me/next_"+lang, "application/json", "{}")
		if j, ok := jobWithin(f, r.body, 15*time.Second); !ok || j["success"] != true {
			t.Errorf("stopping its server (%s, %s): the next job did not run: %v", lang, ending, j)
		}
	}
}

// Arguments a spawned job takes (a 200 KB GitHub payload, a 9 MB body),
// a forked one takes too, and a large one leaves nothing that slows the
// jobs after it (the next job's folder holds no large file).
func largeArgumentsCheck(t *testing.T, f *fixture, lang, hostile string, run func(string) hostileRun) {
	for _, n := range []int{200 << 10, 9 << 20} {
		h := run(`, "mode": "` + strings.Repeat("x", n) + `"`)
		r := f.syncRun(h.path, h.args)
		if want := strconv.Itoa(n); r.body != want && r.body != strconv.Quote(want) {
			t.Errorf("large arguments (%s): a %d-byte argument: %.300s", lang, n, r.body)
		}
	}
	content := "find . -size +1024k | wc -l\n"
	if lang == "python3" {
		content = "import os\ndef main():\n    return str(sum(1 for d, _, fs in os.walk('.') for n in fs if os.path.getsize(os.path.join(d, n)) > 1 << 20))\n"
	}
	victimSeesNothing(t, f, "after a large argument", lang, content, `{}`, `"0"`, map[string]string{"bash": "0\n", "python3": ""}[lang])
}

// A child that leaves the job's session with an empty environment, or
// joins millrun's own process group, dies with its job: at the job's end
// and at its timeout (the restart: TestLeftoversDieWhenMillrunStops).
func escapeCheck(t *testing.T, f *fixture, lang, hostile string, run func(string) hostileRun) {
	for _, ending := range []string{"by itself", "timeout"} {
		extra, query := `, "nap": 0`, ""
		if ending == "timeout" {
			// Long enough for the child to start on a loaded machine.
			extra, query = `, "nap": 60`, "?timeout=3"
		}
		h := run(extra)
		start := time.Now()
		r := f.do("POST", "/api/w/local/jobs/run_wait_result/p/"+h.path+query, "application/json", h.args)
		if ending == "by itself" && r.body != `"started"` {
			t.Errorf("escaping child (%s): the job answered %s", lang, r.body)
		}
		if took := time.Since(start); took > 8*time.Second {
			t.Errorf("escaping child (%s, %s): the job took %s", lang, ending, took)
		}
		leftoverDies(t, lang+", "+ending, h.dir)
	}
}

// leftoverDies checks that the process whose pid is in dir/pid dies
// before it writes dir/mark (10 s after it started).
func leftoverDies(t *testing.T, what, dir string) {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(dir, "pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 1 {
		t.Errorf("%s: the child never started", what)
		return
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fileExists(filepath.Join(dir, "mark")) {
		t.Errorf("%s: a child outlived its job", what)
	}
}

// jobWithin waits for job id to finish, at most d.
func jobWithin(f *fixture, id string, d time.Duration) (map[string]any, bool) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		var j map[string]any
		if r := f.do("GET", "/api/w/local/jobs_u/get/"+id, "", ""); r.status == 200 && json.Unmarshal([]byte(r.body), &j) == nil && j["type"] == "CompletedJob" {
			return j, true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, false
}

// What a job started and left running, in its own session with an empty
// environment or in millrun's process group, dies when millrun stops.
func TestLeftoversDieWhenMillrunStops(t *testing.T) {
	t.Parallel()
	needLinux(t)
	for _, forked := range []bool{true, false} {
		for _, c := range hostileCases {
			if c.check == nil || !strings.Contains(c.name, "child") {
				continue
			}
			f := setup(t, func(cfg *Config) { cfg.NoForkServer = !forked })
			if forked {
				forkReady(t, f)
				bashForkReady(t, f)
			}
			f.createScript("u/me/hostile", c.lang, c.hostile)
			dir := t.TempDir()
			args := fmt.Sprintf(`{"dir": %q, "app": %d, "group": %d, "nap": 60}`, dir, os.Getpid(), syscall.Getpgrp())
			f.do("POST", "/api/w/local/jobs/run/p/u/me/hostile", "application/json", args)
			testkit.WaitUntil(t, "the child to start", 10*time.Second, func() bool { return fileExists(filepath.Join(dir, "pid")) })
			f.e.Close(context.Background())
			leftoverDies(t, fmt.Sprintf("%s (%s, forked %v), millrun stopped", c.name, c.lang, forked), dir)
		}
	}
}
