package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/testkit"
)

// limitFiles applies MILLRUN_TEST_NOFILE to a serve started by a test:
// the file descriptor limit a desktop session may impose (1024 is
// common), made small so a test reaches it with few connections.
func limitFiles() {
	n, err := strconv.ParseUint(os.Getenv("MILLRUN_TEST_NOFILE"), 10, 64)
	if err != nil || n == 0 {
		return
	}
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n})
}

// procKB reads one kB field (VmRSS, VmHWM) of a process's status.
func procKB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.Atoi(strings.Fields(rest)[0])
			return kb
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

func mustPost(t *testing.T, base, tok, path, body string) {
	t.Helper()
	code, out, err := post(base+path, tok, body)
	if err != nil || code >= 300 {
		t.Fatalf("POST %s: %d %s %v", path, code, out, err)
	}
}

// Issue 35: connections that never finish their request header (a
// slowloris) used up serve's file descriptors, and a normal call waited in
// the accept queue until the server's header timeout freed some (12.6 s
// reported). Here serve has 256 descriptors and 300 such connections
// come at it: a normal call must still be answered at once.
func TestSlowlorisLeavesRoomForANormalCall(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	tok := cliToken(t, data)
	addr := freeAddr(t)
	p := startServe(t, data, addr, "MILLRUN_TEST_NOFILE=256")
	testkit.Client{URL: p.base, Token: tok}.CreateScript(t, "u/me/hi", "bash", "echo hi\n")
	call := func() (time.Duration, string) {
		start := time.Now()
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		req, _ := http.NewRequest("POST", p.base+"/api/w/local/jobs/run_wait_result/p/u/me/hi", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			return time.Since(start), err.Error()
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return time.Since(start), fmt.Sprintf("%d %s", res.StatusCode, bytes.TrimSpace(b))
	}
	if took, got := call(); got != `200 "hi"` {
		t.Fatalf("before the slowloris: %s after %s", got, took)
	}
	const conns = 300
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					select {
					case <-done:
						return
					case <-time.After(100 * time.Millisecond):
						continue
					}
				}
				_, err = io.WriteString(c, "POST /api/r/x HTTP/1.1\r\nHost: "+addr+"\r\nX-Slow: ")
				for err == nil {
					select {
					case <-done:
						err = io.EOF
					case <-time.After(500 * time.Millisecond):
						_, err = c.Write([]byte("a"))
					}
				}
				c.Close()
				select {
				case <-done:
					return
				default:
				}
			}
		}()
	}
	defer func() { close(done); wg.Wait() }()
	time.Sleep(time.Second)
	var slowest time.Duration
	for range 3 {
		took, got := call()
		if got != `200 "hi"` {
			t.Fatalf("during the slowloris: %s after %s", got, took)
		}
		slowest = max(slowest, took)
	}
	t.Logf("a normal call during a %d-connection slowloris on 256 descriptors: slowest of 3 %s", conns, slowest.Round(time.Millisecond))
	if slowest > 2*time.Second {
		t.Fatalf("a normal call took %s during the slowloris", slowest.Round(time.Millisecond))
	}
}
