package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as millrun: with MILLRUN_TEST_MAIN set it runs
// main, so tests can start, kill -9 and restart a real `millrun serve`.
func TestMain(m *testing.M) {
	if os.Getenv("MILLRUN_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type serveProc struct {
	cmd    *exec.Cmd
	base   string
	stdout *bytes.Buffer
	mu     *sync.Mutex
	login  string
}

func startServe(t *testing.T, data, addr string) *serveProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--data", data, "--listen", addr, "--grace", "2s")
	cmd.Env = append(os.Environ(), "MILLRUN_TEST_MAIN=1")
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, base: "http://" + addr, stdout: &bytes.Buffer{}, mu: &sync.Mutex{}}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			if m := regexp.MustCompile(`token=([A-Za-z0-9]{32})`).FindStringSubmatch(sc.Text()); m != nil {
				p.login = m[1]
			}
			p.mu.Unlock()
			// The last line of the start banner: the login URL on a first
			// start, the "Open ..." hint after that.
			if strings.HasPrefix(sc.Text(), "For curl") || strings.HasPrefix(sc.Text(), "Open ") {
				once.Do(func() { close(ready) })
			}
		}
		once.Do(func() { close(ready) })
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("serve did not start")
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return p
}

func (p *serveProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

func post(url, token, body string) (int, string, error) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), nil
}

func TestKill9LosesNoAcceptedJob(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	addr := freeAddr(t)
	p := startServe(t, data, addr)
	if p.login == "" {
		t.Fatalf("first start printed no login URL:\n%s", p.output())
	}
	tok := cliToken(t, data)
	if code, body, err := post(p.base+"/api/w/local/scripts/create", tok, `{"path":"u/me/hook","language":"bash","content":"sleep 0.05\necho ok\n"}`); err != nil || code != 201 {
		t.Fatalf("create: %d %s %v", code, body, err)
	}
	var mu sync.Mutex
	var accepted []string
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				code, body, err := post(p.base+"/api/w/local/jobs/run/p/u/me/hook", tok, `{}`)
				if err != nil {
					return // the server died mid-request: that job was never acknowledged
				}
				if code == 201 {
					mu.Lock()
					accepted = append(accepted, body)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	cancel()
	wg.Wait()
	if len(accepted) < 20 {
		t.Fatalf("only %d jobs accepted before the kill; the burst was too small to prove anything", len(accepted))
	}

	p2 := startServe(t, data, addr)
	if p2.login != "" {
		t.Fatal("a restart printed a new login token; only the first start should")
	}
	missing := 0
	for _, id := range accepted {
		req, _ := http.NewRequest("GET", p2.base+"/api/w/local/jobs_u/get/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var j map[string]any
		json.NewDecoder(res.Body).Decode(&j)
		res.Body.Close()
		if res.StatusCode != 200 || j["id"] != id {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d accepted jobs are missing after kill -9", missing, len(accepted))
	}
	t.Logf("%d accepted jobs all present after kill -9", len(accepted))
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	p := startServe(t, data, freeAddr(t))
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop after Ctrl-C")
	}
	time.Sleep(50 * time.Millisecond)
	if !strings.Contains(p.output(), "stopped cleanly") {
		t.Fatalf("no clean stop message:\n%s", p.output())
	}
}

func TestCLI(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"token", "create", "--data", data, "--label", "ci", "--scope", "jobs:run:scripts:u/me/hook"}, &out, &errb); code != 0 {
		t.Fatalf("token create exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	secret := lines[len(lines)-1]
	if !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(secret) {
		t.Fatalf("last line is not a token: %q", secret)
	}
	db, _ := os.ReadFile(data + "/millrun.db")
	wal, _ := os.ReadFile(data + "/millrun.db-wal")
	if bytes.Contains(append(db, wal...), []byte(secret)) {
		t.Fatal("the token secret is stored in clear text")
	}
	out.Reset()
	if code := run([]string{"token", "list", "--data", data}, &out, &errb); code != 0 || !strings.Contains(out.String(), secret[:10]) || strings.Contains(out.String(), secret) {
		t.Fatalf("token list: %d %s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"token", "revoke", "--data", data, secret[:10]}, &out, &errb); code != 0 {
		t.Fatalf("revoke: %d %s", code, errb.String())
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bogus"}, 2, "unknown command"},
		{[]string{"token"}, 2, "needs a command"},
		{[]string{"token", "create", "--data", data, "--scope", "admin"}, 2, "unknown scope"},
		{[]string{"token", "create", "--data", data, "--expires", "soon"}, 2, "--expires"},
		{[]string{"token", "revoke", "--data", data, "nope"}, 1, "no token has the prefix"},
		{[]string{"serve", "--listen", "0.0.0.0:0", "--data", data}, 2, "--allow-remote"},
		{[]string{"serve", "--nope"}, 2, "see --help"},
	} {
		errb.Reset()
		out.Reset()
		if code := run(c.args, &out, &errb); code != c.code || !strings.Contains(errb.String()+out.String(), c.want) {
			t.Errorf("%v: exit %d %q, want %d containing %q", c.args, code, errb.String(), c.code, c.want)
		}
	}
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"token", "--help"}, {"token", "create", "--help"}, {"token", "list", "--help"}, {"token", "revoke", "--help"}} {
		out.Reset()
		errb.Reset()
		if code := run(args, &out, &errb); code != 0 || !strings.Contains(out.String()+errb.String(), "Usage") {
			t.Errorf("%v: exit %d, no usage text", args, code)
		}
	}
}

// cliToken makes a full-access API token the way a user would.
func cliToken(t *testing.T, data string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run([]string{"token", "create", "--data", data, "--label", "test"}, &out, &errb); code != 0 {
		t.Fatalf("token create: %s", errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return lines[len(lines)-1]
}

func TestLoginURLWorksOnce(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	p := startServe(t, data, freeAddr(t))
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(p.base + "/login?token=" + p.login)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "token" {
			session = c
		}
	}
	if res.StatusCode != 303 || session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Value == p.login {
		t.Fatalf("login: %d cookie %+v", res.StatusCode, session)
	}
	req, _ := http.NewRequest("GET", p.base+"/api/millrun/whoami", nil)
	req.AddCookie(session)
	req.Header.Set("Sec-Fetch-Site", "same-origin") // as the UI's fetch sends it
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `"full_access":true`) {
		t.Fatalf("session cookie does not authenticate: %d %s", res.StatusCode, b)
	}
	res, _ = client.Get(p.base + "/login?token=" + p.login)
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("the login URL worked twice: %d", res.StatusCode)
	}
	if code, _, _ := post(p.base+"/api/w/local/scripts/create", p.login, `{}`); code != 401 {
		t.Fatalf("a one-time login token authorized an API call: %d", code)
	}
}

// A second serve on the same data directory (on another port) must stop
// with a message naming the first, and leave the first running.
func TestSecondServeOnSameDataRefused(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	first := startServe(t, data, freeAddr(t))
	cmd := exec.Command(os.Args[0], "serve", "--data", data, "--listen", freeAddr(t))
	cmd.Env = append(os.Environ(), "MILLRUN_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("second serve started:\n%s", out)
	}
	if want := "millrun serve at " + first.base; !strings.Contains(string(out), want) || strings.Contains(string(out), "goroutine") {
		t.Fatalf("second serve said:\n%s\nwant it to name %q", out, want)
	}
	res, err := http.Get(first.base + "/api/version")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("first serve after the refused second: %v %v", res, err)
	}
	res.Body.Close()
}

// In a desktop build, `millrun --data DIR` opens the window with that
// directory rather than calling --data an unknown command.
func TestTopLevelFlagsGoToTheWindow(t *testing.T) {
	saved := desktopCommand
	defer func() { desktopCommand = saved }()
	var got []string
	desktopCommand = func(args []string, _ io.Writer) int { got = args; return 0 }
	if code := run([]string{"--data", "/tmp/x"}, io.Discard, io.Discard); code != 0 || strings.Join(got, " ") != "--data /tmp/x" {
		t.Fatalf("run(--data): code %d, window got %v", code, got)
	}
	got = nil
	var out strings.Builder
	if run([]string{"--help"}, &out, io.Discard); got != nil || !strings.Contains(out.String(), "Usage:") {
		t.Fatalf("--help went to the window (%v) or printed no usage", got)
	}
}
