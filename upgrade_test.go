//go:build linux

package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/instance"
	"github.com/millrun/millrun/engine/testkit"
)

// copyProgram copies this test binary (which is millrun when
// MILLRUN_TEST_MAIN is set) to path, as a package manager installs one:
// written beside, then renamed into place.
func copyProgram(t *testing.T, path string) {
	t.Helper()
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tmp := path + ".dpkg-new"
	dst, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// An upgrade replaces the engine's program under it: the engine finishes
// the run under way, then runs as the new program (the same pid, for a
// supervisor); the package removed, it finishes and stops.
func TestTheEngineRestartsIntoItsReplacedProgram(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	program := filepath.Join(dir, "millrun-engine")
	copyProgram(t, program)
	env := append(os.Environ(), "MILLRUN_TEST_MAIN=1", "DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(dir, "no-bus"))
	tok := exec.Command(program, "token", "create", "--data", data, "--label", "t")
	tok.Env = env
	out, err := tok.Output()
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(out[strings.LastIndexByte(strings.TrimSpace(string(out)), '\n')+1:]))
	engine := exec.Command(program, "engine", "--data", data, "--listen", freeAddr(t))
	engine.Env = env
	log, _ := os.Create(filepath.Join(dir, "engine.log"))
	engine.Stdout, engine.Stderr = log, log
	if err := engine.Start(); err != nil {
		t.Fatal(err)
	}
	defer engine.Process.Kill()
	exited := make(chan error, 1)
	go func() { exited <- engine.Wait() }()
	var info *instance.Info
	testkit.WaitUntil(t, "the engine to start", 30*time.Second, func() bool { info, _ = instance.Read(data); return info != nil })
	testkit.Client{URL: info.URL, Token: token}.CreateScript(t, "u/me/slow", "bash", "sleep 2\necho '{\"done\": true}' > result.json\n")
	_, id, _ := post(info.URL+"/api/w/local/jobs/run/p/u/me/slow", token, `{}`)

	copyProgram(t, program) // the upgrade
	syscall.Kill(engine.Process.Pid, syscall.SIGHUP)
	var again *instance.Info
	testkit.WaitUntil(t, "the engine to come back as the new program", 30*time.Second, func() bool {
		again, _ = instance.Read(data)
		return again != nil && again.URL != "" && again.Secret != "" && again.Secret != info.Secret
	})
	if again.PID != engine.Process.Pid {
		t.Fatalf("the engine came back as pid %d, was %d", again.PID, engine.Process.Pid)
	}
	if exe, _ := os.Readlink("/proc/" + strconv.Itoa(again.PID) + "/exe"); exe != program {
		t.Fatalf("the engine runs %q, want the new %s", exe, program)
	}
	res, err := testkit.Client{URL: again.URL, Token: token}.Send("GET", "/api/w/local/jobs_u/completed/get_result_maybe/"+id, "", "")
	if err != nil || !strings.Contains(res.Body, `"success":true`) || !strings.Contains(res.Body, `"done":true`) {
		t.Fatalf("the run under way at the upgrade: %s %v", res.Body, err)
	}

	os.Remove(program) // apt remove
	syscall.Kill(engine.Process.Pid, syscall.SIGHUP)
	select {
	case err := <-exited:
		if err != nil {
			b, _ := os.ReadFile(filepath.Join(dir, "engine.log"))
			t.Fatalf("the engine whose program was removed exited with %v:\n%s", err, b)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the engine whose program was removed goes on")
	}
}
