//go:build !race

package main

// Not built under the race detector: serve's memory there would be mostly
// the detector's own shadow memory. make test runs it without -race.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/testkit"
)

// Issue 35: anonymous callers posting large bodies with a forged Slack
// signature (well formed, so the body must be read to refuse it) made
// serve hold several times the bodies' size, and keep it long after. A
// smaller flood than the (make bench runs that one: 64 x 10 MiB):
// 16 posts of 4 MiB at once. The server's peak may exceed its idle
// resident memory by little more than the bodies themselves, and it must
// give the memory back within seconds.
func TestForgedSignatureFloodMemory(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	tok := cliToken(t, data)
	p := startServe(t, data, freeAddr(t))
	pid := p.cmd.Process.Pid
	testkit.Client{URL: p.base, Token: tok}.CreateScript(t, "u/me/slack", "bash", "echo ok\n")
	mustPost(t, p.base, tok, "/api/w/local/resources/create", `{"path":"u/me/slack_signing","resource_type":"signature_auth","value":{"provider":"slack","secret":"8f742231b10e8888abcd99yyyzzz85a5"}}`)
	mustPost(t, p.base, tok, "/api/w/local/http_triggers/create", `{"path":"u/me/slack_route","script_path":"u/me/slack","route_path":"slack/cmd","http_method":"post","authentication_method":"signature","authentication_resource_path":"u/me/slack_signing"}`)
	time.Sleep(500 * time.Millisecond)
	idle := procKB(t, pid, "VmRSS")

	const posts, size = 16, 4 << 20
	body := bytes.Repeat([]byte("text=x&"), size/7+1)[:size]
	sig := make([]byte, 32)
	rand.Read(sig)
	var peak int
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			peak = max(peak, procKB(t, pid, "VmRSS"))
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	codes := make(chan int, posts)
	var wg sync.WaitGroup
	for range posts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", p.base+"/api/r/slack/cmd", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(time.Now().Unix(), 10))
			req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(sig))
			res, err := (&http.Transport{DisableKeepAlives: true}).RoundTrip(req)
			if err != nil {
				codes <- 0
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			codes <- res.StatusCode
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	close(codes)
	for code := range codes {
		if code != http.StatusUnauthorized {
			t.Errorf("a forged post was answered %d, want 401", code)
		}
	}
	peak = max(peak, procKB(t, pid, "VmHWM"))
	var settled int
	var after time.Duration
	for start := time.Now(); time.Since(start) < 10*time.Second; {
		time.Sleep(250 * time.Millisecond)
		after = time.Since(start)
		if settled = procKB(t, pid, "VmRSS"); settled < idle+16<<10 {
			break
		}
	}
	t.Logf("%d forged posts of %d MiB: idle %d MB, peak %d MB, settled %d MB after %s", posts, size>>20,
		idle>>10, peak>>10, settled>>10, after.Round(250*time.Millisecond))
	if grew, bodies := (peak-idle)<<10, posts*size; grew > bodies*3/2 {
		t.Errorf("the peak grew %d MB over idle for %d MB of bodies", grew>>20, bodies>>20)
	}
	if settled >= idle+16<<10 {
		t.Errorf("%d MB still held 10 s after the flood (idle %d MB)", settled>>10, idle>>10)
	}
}
