package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// served is a real `millrun serve` in its own process: memory is measured
// in /proc/<pid>/status, where nothing of the bench's own (the callers'
// bodies, the client's buffers) is counted.
type served struct {
	cmd   *exec.Cmd
	base  string
	token string
	dir   string
}

// nofile, when set, is the file descriptor limit serve runs under
// (through prlimit): a desktop session's 1024 is common.
var nofile int

func startServe(bin string) *served {
	if _, err := os.Stat(bin); err != nil {
		must(fmt.Errorf("%s not found: run make build first", bin))
	}
	dir, err := os.MkdirTemp("", "millrun-bench-")
	must(err)
	data := filepath.Join(dir, "data")
	out, err := exec.Command(bin, "token", "create", "--data", data, "--label", "bench").Output()
	must(err)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	s := &served{dir: dir, token: strings.TrimSpace(lines[len(lines)-1])}
	s.cmd = exec.Command(bin, "serve", "--data", data, "--listen", "127.0.0.1:0")
	if nofile > 0 {
		// prlimit execs serve: the pid measured is serve's.
		lim := fmt.Sprintf("--nofile=%d:%d", nofile, nofile)
		s.cmd = exec.Command("prlimit", lim, bin, "serve", "--data", data, "--listen", "127.0.0.1:0")
	}
	s.cmd.Stderr = io.Discard
	stdout, err := s.cmd.StdoutPipe()
	must(err)
	must(s.cmd.Start())
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if _, rest, ok := strings.Cut(sc.Text(), " listening on "); ok {
			s.base, _, _ = strings.Cut(rest, " ")
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if s.base == "" {
		s.close()
		must(fmt.Errorf("millrun serve did not say where it listens"))
	}
	return s
}

func (s *served) close() {
	if s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
	os.RemoveAll(s.dir)
}

func (s *served) api(method, path, body string) {
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	must(err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode >= 300 {
		must(fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, b))
	}
}

// status reads one kB field (VmRSS, VmHWM) of the server's /proc status.
func (s *served) status(field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.Atoi(strings.Fields(rest)[0])
			return kb
		}
	}
	return 0
}

func mb(kb int) string { return fmt.Sprintf("%.0f MB", float64(kb)/1024) }

// slackRoute makes the route a Slack app would call: a signing secret in a
// resource, a trivial script behind it.
func (s *served) slackRoute() string {
	s.api("POST", "/api/w/local/scripts/create", `{"path":"u/bench/slack","language":"bash","content":"echo ok\n"}`)
	s.api("POST", "/api/w/local/resources/create", `{"path":"u/bench/slack_signing","resource_type":"signature_auth","value":{"provider":"slack","secret":"8f742231b10e8888abcd99yyyzzz85a5"}}`)
	s.api("POST", "/api/w/local/http_triggers/create", `{"path":"u/bench/slack_route","script_path":"u/bench/slack","route_path":"slack/cmd","http_method":"post","authentication_method":"signature","authentication_resource_path":"u/bench/slack_signing"}`)
	return s.base + "/api/r/slack/cmd"
}

// benchFlood is issue 35's memory flood: conns anonymous callers post
// bodies of size bytes at once, each with a well-formed Slack signature
// that does not match (the server must read the body to know). It prints
// the server's peak and settled resident memory.
func benchFlood(bin string, conns, size int) {
	s := startServe(bin)
	defer s.close()
	url := s.slackRoute()
	time.Sleep(time.Second)
	idle := s.status("VmRSS")
	body := bytes.Repeat([]byte("text=x&"), size/7+1)[:size]
	sig := make([]byte, 32)
	rand.Read(sig)
	forged := "v0=" + hex.EncodeToString(sig)

	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if kb := int64(s.status("VmRSS")); kb > peak.Load() {
				peak.Store(kb)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	tr := &http.Transport{MaxIdleConnsPerHost: conns, DisableKeepAlives: true}
	codes := map[int]int{}
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(time.Now().Unix(), 10))
			req.Header.Set("X-Slack-Signature", forged)
			code := 0
			res, err := tr.RoundTrip(req)
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				code = res.StatusCode
			}
			mu.Lock()
			codes[code]++
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	took := time.Since(start)
	close(stop)
	<-sampled
	hwm := s.status("VmHWM")
	peakKB := max(int(peak.Load()), hwm)
	// Settled: how soon the memory goes back, sampled each second for 30 s.
	settled, under := 0, time.Duration(-1)
	settleStart := time.Now()
	for time.Since(settleStart) < 30*time.Second {
		time.Sleep(time.Second)
		settled = s.status("VmRSS")
		if settled < 64*1024 && under < 0 {
			under = time.Since(settleStart)
		}
	}
	fmt.Printf("     (%d posts of %d MiB with a forged Slack signature in %s; answers %v (0: no answer); idle before %s)\n",
		conns, size>>20, took.Round(time.Millisecond), codes, mb(idle))
	if firstErr != nil {
		fmt.Printf("     (a post without an answer: %v)\n", firstErr)
	}
	report(fmt.Sprintf("flood %dx%d MiB: peak RSS / 300 MB", conns, size>>20), float64(peakKB)/(300*1024), 1, true,
		fmt.Sprintf("peak %s (VmHWM %s)", mb(peakKB), mb(hwm)))
	underS := "never within 30 s"
	if under >= 0 {
		underS = "under 64 MB after " + under.Round(time.Second).String()
	}
	report(fmt.Sprintf("flood %dx%d MiB: RSS 30 s later / 64 MB", conns, size>>20), float64(settled)/(64*1024), 1, true,
		fmt.Sprintf("%s at 30 s, %s", mb(settled), underS))
}

// benchSlowloris holds conns connections that send their request headers
// a byte at a time, as a slowloris does, reconnecting when the server
// drops one, and times a normal call meanwhile.
func benchSlowloris(bin string, conns int) {
	s := startServe(bin)
	defer s.close()
	s.api("POST", "/api/w/local/scripts/create", `{"path":"u/bench/hi","language":"bash","content":"echo hi\n"}`)
	addr := strings.TrimPrefix(s.base, "http://")
	normal := func() time.Duration {
		req, _ := http.NewRequest("POST", s.base+"/api/w/local/jobs/run_wait_result/p/u/bench/hi", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+s.token)
		req.Header.Set("Content-Type", "application/json")
		tr := &http.Transport{DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		start := time.Now()
		res, err := (&http.Client{Transport: tr, Timeout: 60 * time.Second}).Do(req)
		took := time.Since(start)
		if err != nil {
			fmt.Printf("     normal call failed after %s: %v\n", took.Round(time.Millisecond), err)
			return took
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), "hi") {
			fmt.Printf("     normal call answered %d %q after %s\n", res.StatusCode, b, took.Round(time.Millisecond))
		}
		return took
	}
	var quiet []time.Duration
	for range 5 {
		quiet = append(quiet, normal())
	}
	var held, dials atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * time.Millisecond) // ramp up as a tool would
			for {
				select {
				case <-done:
					return
				default:
				}
				dials.Add(1)
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				held.Add(1)
				req := "POST /api/r/slack/cmd HTTP/1.1\r\nHost: " + addr + "\r\nX-A: "
				_, err = io.WriteString(c, req)
				for err == nil {
					select {
					case <-done:
						err = io.EOF
					case <-time.After(time.Second):
						_, err = c.Write([]byte("a"))
					}
				}
				held.Add(-1)
				c.Close()
			}
		}()
	}
	time.Sleep(time.Duration(conns)*time.Millisecond + 2*time.Second)
	var under []time.Duration
	for range 5 {
		under = append(under, normal())
		time.Sleep(500 * time.Millisecond)
	}
	h := held.Load()
	close(done)
	wg.Wait()
	q, u := percentile(quiet, 0.5), percentile(under, 1)
	limit := "the machine's file descriptor limit"
	if nofile > 0 {
		limit = fmt.Sprintf("%d file descriptors", nofile)
	}
	fmt.Printf("     (%d slowloris connections against serve with %s: %d open at the end, %d dials; server RSS %s)\n",
		conns, limit, h, dials.Load(), mb(s.status("VmRSS")))
	report(fmt.Sprintf("normal sync call during a %d-connection slowloris / 1 s", conns), float64(u)/float64(time.Second), 1, true,
		fmt.Sprintf("slowest of 5 %s, median quiet %s", ms(u), ms(q)))
}
