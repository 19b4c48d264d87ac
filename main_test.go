package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/millrun/millrun/engine/testkit"
)

// The test binary doubles as millrun: with MILLRUN_TEST_MAIN set it runs
// main, so tests can start, kill -9 and restart a real `millrun serve`.
func TestMain(m *testing.M) {
	if os.Getenv("MILLRUN_TEST_MAIN") == "1" {
		limitFiles()
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

// startServe starts `millrun serve`; env adds to its environment.
func startServe(t *testing.T, data, addr string, env ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--data", data, "--listen", addr, "--grace", "2s")
	cmd.Env = append(append(os.Environ(), "MILLRUN_TEST_MAIN=1"), env...)
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

// post reports a transport failure as an error: the kill -9 campaign
// sends from goroutines, to a server it kills.
func post(url, token, body string) (int, string, error) {
	r, err := testkit.Client{URL: url, Token: token}.Send("POST", "", "application/json", body)
	return r.Status, r.Body, err
}

// kill -9 at random moments while callers keep sending: no accepted job is
// lost, none runs twice, and nothing a killed millrun left running goes on
// to finish its side effects. MILLRUN_KILL_ROUNDS sets the rounds (make
// soak runs more).
func TestKill9LosesNoAcceptedJob(t *testing.T) {
	t.Parallel()
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("MILLRUN_KILL_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	data, marks := t.TempDir(), t.TempDir()
	addr := freeAddr(t)
	p := startServe(t, data, addr)
	if p.login == "" {
		t.Fatalf("first start printed no login URL:\n%s", p.output())
	}
	tok := cliToken(t, data)
	started, finished := filepath.Join(marks, "started"), filepath.Join(marks, "finished")
	stepMarks := filepath.Join(marks, "steps")
	for path, content := range map[string]string{
		"u/me/hook": "echo \"$WM_JOB_ID\" >> " + started + "\necho ok\n",
		"u/me/slow": "sleep 3\necho \"$WM_JOB_ID\" >> " + finished + "\n",
	} {
		testkit.Client{URL: p.base, Token: tok}.CreateScript(t, path, "bash", content)
	}
	// Flows: each step marks its (flow, step) when it completes.
	mark := func(name string) string {
		return "sleep 0.$((RANDOM % 3))\necho \"$WM_ROOT_FLOW_JOB_ID " + name + "\" >> " + stepMarks + "\n"
	}
	threeSteps := `{"modules":[`
	for i, name := range []string{"s1", "s2", "s3"} {
		if i > 0 {
			threeSteps += ","
		}
		c, _ := json.Marshal(mark(name))
		threeSteps += `{"id":"` + name + `","value":{"type":"rawscript","language":"bash","content":` + string(c) + `,"input_transforms":{}}}`
	}
	threeSteps += `]}`
	body, _ := json.Marshal(mark("it$i"))
	loop := `{"modules":[{"id":"loop","value":{"type":"forloopflow","iterator":{"type":"static","value":[0,1,2]},"skip_failures":false,"modules":[` +
		`{"id":"each","value":{"type":"rawscript","language":"bash","content":` + strings.Replace(string(body), `sleep`, `i=\"$1\"\nsleep`, 1) +
		`,"input_transforms":{"i":{"type":"javascript","expr":"flow_input.iter.value"}}}}]}}]}`
	for path, value := range map[string]string{"u/me/three": threeSteps, "u/me/loop": loop} {
		if code, out, err := post(p.base+"/api/w/local/flows/create", tok, `{"path":"`+path+`","summary":"soak","value":`+value+`}`); err != nil || code != 201 {
			t.Fatalf("create flow %s: %d %s %v", path, code, out, err)
		}
	}
	flowSteps := map[string][]string{}
	var accepted, slow []string
	for round := 1; round <= rounds; round++ {
		for range 2 { // running when the kill comes
			if code, id, err := post(p.base+"/api/w/local/jobs/run/p/u/me/slow", tok, `{}`); err == nil && code == 201 {
				slow = append(slow, id)
			}
		}
		for path, steps := range map[string][]string{"u/me/three": {"s1", "s2", "s3"}, "u/me/loop": {"it0", "it1", "it2"}} {
			if code, id, err := post(p.base+"/api/w/local/jobs/run/f/"+path, tok, `{}`); err == nil && code == 201 {
				flowSteps[id] = steps
			}
		}
		var mu sync.Mutex
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				route := "/api/w/local/jobs/run/p/u/me/hook"
				if i%4 == 0 {
					route = "/api/w/local/jobs/run_wait_result/p/u/me/hook?job_id=" + uuid.NewString()
				}
				for ctx.Err() == nil {
					code, body, err := post(p.base+route, tok, `{}`)
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
		time.Sleep(time.Duration(300+mrand.IntN(600)) * time.Millisecond)
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
		cancel()
		wg.Wait()
		p = startServe(t, data, addr)
		if p.login != "" {
			t.Fatal("a restart printed a new login token; only the first start should")
		}
	}
	if len(accepted) < 20*rounds {
		t.Fatalf("only %d jobs accepted in %d rounds; the bursts were too small to prove anything", len(accepted), rounds)
	}
	missing := 0
	for _, id := range accepted {
		deadline := time.Now().Add(60 * time.Second)
		for {
			j := getJob(t, p.base, tok, id)
			if j["id"] != id {
				missing++
				break
			}
			if j["type"] == "CompletedJob" || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	time.Sleep(3500 * time.Millisecond) // what a killed millrun left running would finish by now
	runs := map[string]int{}
	b, _ := os.ReadFile(started)
	for _, id := range strings.Fields(string(b)) {
		runs[id]++
	}
	twice := 0
	for _, n := range runs {
		if n > 1 {
			twice++
		}
	}
	fin, _ := os.ReadFile(finished)
	survivors := 0
	for _, id := range slow {
		if j := getJob(t, p.base, tok, id); j["success"] != true && strings.Contains(string(fin), id) {
			survivors++ // recorded as failed, yet its process went on to finish
		}
	}
	t.Logf("kill -9 campaign: %d rounds, %d accepted jobs, %d lost, %d ran twice, %d killed jobs finished anyway", rounds, len(accepted), missing, twice, survivors)
	if missing > 0 || twice > 0 || survivors > 0 {
		t.Fatalf("after %d kill -9 rounds: %d of %d accepted jobs lost, %d ran twice, %d killed jobs' processes finished their work", rounds, missing, len(accepted), twice, survivors)
	}
	// Every flow ends, each of its steps completed once: twice only when
	// its status says the kill interrupted it (it then ran again).
	stepRuns := map[string]int{}
	b, _ = os.ReadFile(stepMarks)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		stepRuns[line]++
	}
	unfinished, lostSteps, extra, resumed, reran := 0, 0, 0, 0, 0
	for id, steps := range flowSteps {
		deadline := time.Now().Add(60 * time.Second)
		j := getJob(t, p.base, tok, id)
		for j["type"] != "CompletedJob" && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			j = getJob(t, p.base, tok, id)
		}
		if j["success"] != true {
			unfinished++
			t.Logf("flow %s: %v", id, j["result"])
			continue
		}
		allowed := interruptions(t, p.base, tok, j)
		reran += allowed
		if logs, _ := j["logs"].(string); strings.Contains(logs, "resumes from its recorded progress") {
			resumed++
		}
		for _, s := range steps {
			n := stepRuns[id+" "+s]
			if n == 0 {
				lostSteps++
			}
			if n > 1 {
				allowed -= n - 1
			}
		}
		if allowed < 0 {
			extra++
			t.Logf("flow %s ran steps again that no kill interrupted: %v", id, stepRuns)
		}
	}
	t.Logf("flows: %d started, %d resumed after a kill, %d interrupted steps run again; %d did not end well, %d steps lost, %d flows with a step completed twice uninterrupted",
		len(flowSteps), resumed, reran, unfinished, lostSteps, extra)
	if len(flowSteps) == 0 || unfinished > 0 || lostSteps > 0 || extra > 0 {
		t.Fatalf("after %d kill -9 rounds, of %d flows: %d did not end well, %d steps lost, %d completed a step twice", rounds, len(flowSteps), unfinished, lostSteps, extra)
	}
}

// interruptions counts the steps of a flow (its loop iterations' too)
// that a kill interrupted and that ran again.
func interruptions(t *testing.T, base, tok string, j map[string]any) int {
	fs, _ := j["flow_status"].(map[string]any)
	mods, _ := fs["modules"].([]any)
	n := 0
	for _, m := range mods {
		m, _ := m.(map[string]any)
		list, _ := m["interrupted"].([]any)
		n += len(list)
		for _, id := range asList(m["flow_jobs"]) {
			n += interruptions(t, base, tok, getJob(t, base, tok, id))
		}
	}
	return n
}

func asList(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// getJob reads a job as JSON; an unknown job reads as an empty map.
func getJob(t *testing.T, base, tok, id string) map[string]any {
	t.Helper()
	r := testkit.Client{URL: base, Token: tok}.Do(t, "GET", "/api/w/local/jobs_u/get/"+id, "", "")
	j := map[string]any{}
	if r.Status == 200 {
		json.Unmarshal([]byte(r.Body), &j)
	}
	return j
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

// On the holder's own address (the default port, as a user types it),
// serve names the running instance (its pid, address and program)
// instead of only saying the port is taken.
func TestServeOnAHeldFolderNamesTheHolderWhateverThePort(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	addr := freeAddr(t)
	first := startServe(t, data, addr)
	cmd := exec.Command(os.Args[0], "serve", "--data", data, "--listen", addr)
	cmd.Env = append(os.Environ(), "MILLRUN_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("second serve started:\n%s", out)
	}
	for _, want := range []string{"millrun serve at " + first.base, fmt.Sprintf("pid %d", first.cmd.Process.Pid), os.Args[0]} {
		if !strings.Contains(string(out), want) {
			t.Errorf("second serve said:\n%s\nwant it to name %q", out, want)
		}
	}
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

// Windmill's INCLUDE_HEADERS reaches the engine's default settings, read
// here in main and nowhere else.
func TestIncludeHeadersFromTheEnvironment(t *testing.T) {
	t.Setenv("INCLUDE_HEADERS", " X-Request-Id , ,x-github-event")
	if got := includeHeadersEnv(); strings.Join(got, "|") != "X-Request-Id|x-github-event" {
		t.Fatalf("INCLUDE_HEADERS gave %q", got)
	}
	t.Setenv("INCLUDE_HEADERS", "")
	if got := includeHeadersEnv(); len(got) != 0 {
		t.Fatalf("empty INCLUDE_HEADERS gave %q", got)
	}
}

// `millrun quit` stops the serve holding the folder gracefully (what the
// Windows installer runs before it replaces millrun.exe); with nothing
// running it says so and succeeds.
func TestQuitStopsTheHolder(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	p := startServe(t, data, freeAddr(t))
	cmd := exec.Command(os.Args[0], "quit", "--data", data, "--wait", "20s")
	cmd.Env = append(os.Environ(), "MILLRUN_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Stopped millrun serve at "+p.base) {
		t.Fatalf("quit: %v\n%s", err, out)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("serve did not stop cleanly: %v", err)
	}
	if !strings.Contains(p.output(), "millrun stopped cleanly") {
		t.Fatalf("serve's output: %s", p.output())
	}
	cmd = exec.Command(os.Args[0], "quit", "--data", data)
	cmd.Env = append(os.Environ(), "MILLRUN_TEST_MAIN=1")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "No millrun is using") {
		t.Fatalf("quit with nothing running: %v\n%s", err, out)
	}
}
