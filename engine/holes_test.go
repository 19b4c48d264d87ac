package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/testkit"
)

// A revoked token's id is never handed to a new token, so the new token
// cannot read the jobs the revoked one started.
func TestRevokedTokenJobsStayPrivate(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/alice/payroll", "bash", "echo salary-42\n")
	f.createScript("u/bob/hook", "bash", "echo hi\n")
	s1, err := f.e.CreateToken(context.Background(), "alice", []string{"jobs:run:scripts:u/alice/payroll"}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	r := f.do("POST", "/api/w/local/jobs/run/p/u/alice/payroll", "application/json", "{}", "Authorization", "Bearer "+s1)
	if r.status != 201 {
		t.Fatalf("run: %d %s", r.status, r.body)
	}
	job := r.body
	f.waitJob(job)
	if r := f.do("DELETE", "/api/users/tokens/delete/"+s1[:10], "", ""); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	s2, err := f.e.CreateToken(context.Background(), "bob", []string{"jobs:run:scripts:u/bob/hook"}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/w/local/jobs_u/get/", "/api/w/local/jobs_u/completed/get_result/", "/api/w/local/jobs_u/completed/get_result_maybe/"} {
		r := f.do("GET", path+job, "", "", "Authorization", "Bearer "+s2)
		// get_result_maybe answers "not completed" for jobs the caller may not see.
		if strings.Contains(r.body, "salary") || strings.Contains(r.body, `"completed":true`) || (r.status != 404 && !strings.Contains(path, "maybe")) {
			t.Errorf("a new scoped token read the revoked token's job through %s: %d %s", path, r.status, r.body)
		}
	}
	// A full-access token still reads it.
	if r := f.do("GET", "/api/w/local/jobs_u/completed/get_result/"+job, "", ""); r.status != 200 || !strings.Contains(r.body, "salary-42") {
		t.Errorf("full access reading a revoked token's job: %d %s", r.status, r.body)
	}
	// Ids survive a restart of the engine too: reopen and try again.
	var ids []int64
	rows, err := f.e.db.ListTokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range rows {
		ids = append(ids, tok.ID)
	}
	for _, id := range ids {
		if id == 2 { // s1 was the second token made in this data folder
			t.Errorf("token id 2 was given out again after its token was revoked: %v", ids)
		}
	}
}

// Of many simultaneous uses of one login link exactly one logs in.
func TestLoginLinkWorksExactlyOnce(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for trial := 0; trial < 8; trial++ {
		secret, err := f.e.CreateLoginToken(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		cookies := 0
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := client.Get(f.srv.URL + "/login?token=" + secret)
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				for _, c := range res.Cookies() {
					if c.Name == "token" && c.Value != "" {
						mu.Lock()
						cookies++
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		if cookies != 1 {
			t.Fatalf("trial %d: 20 simultaneous uses of one login link gave %d sessions, want exactly 1", trial, cookies)
		}
	}
}

// Database files are readable by their owner only, even in a data folder
// another program made with looser permissions.
func TestDataFilesPrivate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e, err := Open(Config{DataDir: dir, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateToken(context.Background(), "x", nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("data folder mode %v (%v), want 0700", st.Mode().Perm(), err)
		}
		entries, _ := os.ReadDir(dir)
		for _, ent := range entries {
			st, err := os.Stat(filepath.Join(dir, ent.Name()))
			if err != nil || st.IsDir() {
				continue
			}
			if st.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s is mode %v: other users can read it", ent.Name(), st.Mode().Perm())
			}
		}
	}
	check()
	e.Close(context.Background())
	// A database left world-readable by an older millrun is tightened.
	os.Chmod(filepath.Join(dir, "millrun.db"), 0o644)
	os.Chmod(dir, 0o755)
	e, err = Open(Config{DataDir: dir, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	check()
	e.Close(context.Background())
}

// A token in a query that does not parse is still redacted, and such a
// query is refused instead of running the script with arguments dropped.
func TestUnparseableQueryRefusedAndRedacted(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/a", "bash", "echo ran\n")
	for _, q := range []string{"?token=" + f.token + ";x=1", "?payload=%%%x", "?a=1&b=%zz"} {
		req, _ := http.NewRequest("POST", f.srv.URL+"/api/w/local/jobs/run_wait_result/p/u/me/a"+q, strings.NewReader("{}"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 400 {
			t.Errorf("query %s: %d, want 400", q, res.StatusCode)
		}
	}
	many := "?" + strings.Repeat("a=1&", 10001) + "token=" + f.token
	req, _ := http.NewRequest("POST", f.srv.URL+"/api/w/local/jobs/run_wait_result/p/u/me/a"+many, strings.NewReader("{}"))
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}
	var rows []map[string]any
	testkit.WaitUntil(t, "the four refused requests recorded", 5*time.Second, func() bool {
		rows = f.requests("?limit=50")
		return len(rows) >= 4
	})
	if b, _ := json.Marshal(rows); strings.Contains(string(b), f.token) {
		t.Errorf("a token is stored in clear in the request log")
	}
}

// rawPost sends a request's head and the start of its body, then stalls:
// a slow or huge upload as an anonymous caller would send it.
func rawPost(t *testing.T, srvURL, path string, hdrs []string, declared int, sent string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(srvURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	head := "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(declared) + "\r\n"
	for _, h := range hdrs {
		head += h + "\r\n"
	}
	if _, err := io.WriteString(c, head+"\r\n"+sent); err != nil {
		t.Fatal(err)
	}
	return c
}

// A caller without a token is answered before its body is read: a 10 MiB
// upload that never finishes gets its 401 at once, the connection is
// closed rather than drained, and the inspector keeps no body of it.
func TestRefusedBeforeBodyIsRead(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/a", "bash", "echo ran\n")
	for _, path := range []string{"/api/w/local/jobs/run_wait_result/p/u/me/a", "/api/w/local/jobs/run/p/u/me/a"} {
		c := rawPost(t, f.srv.URL, path, nil, 10<<20, strings.Repeat("x", 1000))
		c.SetDeadline(time.Now().Add(3 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s: no answer while the body was still coming: %v", path, err)
		}
		if res.StatusCode != 401 {
			t.Fatalf("%s: %d, want 401", path, res.StatusCode)
		}
		io.Copy(io.Discard, res.Body)
		// The server closes the connection instead of waiting for the rest.
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: the connection stayed open after the refusal: %v", path, err)
		}
	}
	rows := f.requests("")
	for len(rows) < 2 {
		time.Sleep(20 * time.Millisecond)
		rows = f.requests("")
	}
	for _, row := range rows {
		full := f.mustDo(200, "GET", "/api/millrun/requests/"+fmt.Sprint(row["id"]), "", "")
		var req map[string]any
		json.Unmarshal([]byte(full.body), &req)
		if b, _ := req["body"].(string); len(b) > 4<<10 { // what the inspector keeps of a refused body
			t.Errorf("a refused request's body was kept: %d bytes", len(b))
		}
	}
}

// A caller with a token who sends the body too slowly is cut off.
func TestSlowBodyTimesOut(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *Config) { c.BodyReadTimeout = 500 * time.Millisecond })
	f.createScript("u/me/a", "bash", "echo ran\n")
	c := rawPost(t, f.srv.URL, "/api/w/local/jobs/run_wait_result/p/u/me/a", []string{"Authorization: Bearer " + f.token}, 1000, `{"a":`)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		res.Body.Close()
	}
	if err == nil && res.StatusCode < 400 {
		t.Fatalf("a stalled body ran the script: %d", res.StatusCode)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Fatalf("a stalled body held the connection for %s (%v)", time.Since(start), err)
	}
}

// Refused requests have their own budget in the request history: a flood
// of them does not push the user's own requests out.
func TestRefusedRequestsDoNotEvictHistory(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/a", "bash", "echo ran\n")
	f.mustDo(200, "POST", "/api/millrun/settings", "application/json", `{"retention_max_jobs":100}`)
	legit := f.syncRun("u/me/a", "{}").header.Get("X-Millrun-Job-Id")
	for range 150 {
		f.anon("POST", "/api/w/local/jobs/run/p/u/me/a", "application/json", "{}")
	}
	for end := time.Now().Add(5 * time.Second); len(f.requests("?limit=500")) < 151 && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	if err := f.e.requests.PruneNow(); err != nil {
		t.Fatal(err)
	}
	if kept := f.requests("?job_id=" + legit); len(kept) != 1 {
		t.Fatalf("150 refused requests evicted the user's own request (%d left)", len(kept))
	}
}

// A page on another localhost port cannot use the logged-in browser's
// session cookie to run scripts or cancel jobs; millrun's own pages can.
func TestSessionCookieOnlyFromOwnOrigin(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/a", "bash", "sleep 5; echo ran\n")
	login := f.do("POST", "/api/millrun/login", "application/json", `{"token":"`+f.token+`"}`, "Authorization", "", "Origin", f.srv.URL)
	var session string
	for _, c := range (&http.Response{Header: login.header}).Cookies() {
		if c.Name == "token" {
			session = c.Value
		}
	}
	if session == "" {
		t.Fatalf("login gave no cookie: %d %s", login.status, login.body)
	}
	cookie := "token=" + session
	run := "/api/w/local/jobs/run/p/u/me/a"
	own := f.do("POST", run, "application/json", "{}", "Authorization", "", "Cookie", cookie, "Sec-Fetch-Site", "same-origin")
	if own.status != 201 {
		t.Fatalf("millrun's own page with its session: %d %s", own.status, own.body)
	}
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "same-site"},          // a page on 127.0.0.1:<another port>
		{"Origin", "http://127.0.0.1:1"},         // the same, from a browser without Sec-Fetch-*
		{"Origin", "http://evil.com"},            // curl pretending
		{"Sec-Fetch-Site", "cross-site"},         // another site altogether
		{"Referer", "http://127.0.0.1:1/attack"}, // no Origin, no Sec-Fetch-Site
	} {
		for _, c := range []struct{ method, path string }{
			{"POST", run}, {"GET", "/api/w/local/jobs/run_wait_result/p/u/me/a"},
			{"POST", "/api/w/local/jobs_u/queue/cancel/" + own.body}, {"GET", "/api/w/local/jobs_u/get/" + own.body},
		} {
			r := f.do(c.method, c.path, "application/json", `{"reason":"x"}`, "Authorization", "", "Cookie", cookie, hdr[0], hdr[1])
			if r.status != 401 && r.status != 403 {
				t.Errorf("%s %s with the session cookie and %s: %s: %d %s", c.method, c.path, hdr[0], hdr[1], r.status, r.body)
			}
		}
	}
}

// On shutdown a sync caller whose job has not started hears so at once,
// with the job's id, and the job runs at the next start.
func TestShutdownAnswersQueuedSyncCallers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := setup(t, func(c *Config) { c.DataDir = dir; c.Workers = 1; c.ShutdownGrace = 3 * time.Second })
	f.createScript("u/me/busy", "bash", "sleep 1\necho busy\n")
	f.createScript("u/me/later", "bash", "echo later\n")
	f.do("POST", "/api/w/local/jobs/run/p/u/me/busy", "application/json", "{}") // holds the only worker
	type answer struct {
		r    resp
		took time.Duration
	}
	got := make(chan answer, 1)
	go func() {
		start := time.Now()
		r := f.do("POST", "/api/w/local/jobs/run_wait_result/p/u/me/later", "application/json", "{}")
		got <- answer{r, time.Since(start)}
	}()
	time.Sleep(300 * time.Millisecond)
	closed := make(chan struct{})
	go func() { f.e.Close(context.Background()); close(closed) }()
	var a answer
	select {
	case a = <-got:
	case <-time.After(2 * time.Second):
		t.Fatal("a sync caller waiting on a queued job got no answer when millrun began shutting down")
	}
	if a.r.status != 503 || !strings.Contains(a.r.body, "runs at the next start") || a.r.header.Get("Retry-After") == "" {
		t.Fatalf("answer on shutdown: %d %s", a.r.status, a.r.body)
	}
	<-closed
	id := regexp.MustCompile(`job ([0-9a-f-]{36})`).FindStringSubmatch(a.r.body)
	if id == nil {
		t.Fatalf("the answer names no job: %s", a.r.body)
	}
	g := setup(t, func(c *Config) { c.DataDir = dir })
	if j := g.waitJob(id[1]); j["result"] != "later" {
		t.Fatalf("the queued job after the restart: %v", j)
	}
}

// A result over the cap fails the job with the limit named instead of
// filling memory; lists of jobs with large arguments stay small.
func TestLargeResultsAndArgumentsBounded(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mustDo(200, "POST", "/api/millrun/settings", "application/json", `{"max_result_bytes":1048576}`)
	f.createScript("u/me/big", "python3", "def main():\n    return 'x' * (3 * 1024 * 1024)\n")
	f.createScript("u/me/bigsh", "bash", "head -c 3000000 /dev/zero | tr '\\\\0' x > result.out\n")
	for _, path := range []string{"u/me/big", "u/me/bigsh"} {
		r := f.syncRun(path, "{}")
		if r.header.Get("X-Millrun-Job-Success") != "false" || !strings.Contains(r.body, "ResultTooLarge") || !strings.Contains(r.body, "1.0 MiB") || len(r.body) > 4096 {
			t.Errorf("%s: a 3 MB result over a 1 MiB cap: %.300s", path, r.body)
		}
	}
	f.createScript("u/me/echo", "python3", "def main(blob: str = ''):\n    return len(blob)\n")
	blob := strings.Repeat("y", 200<<10)
	for range 10 {
		if r := f.syncRun("u/me/echo", `{"blob":"`+blob+`"}`); r.body != "204800" {
			t.Fatalf("echo: %.200s", r.body)
		}
	}
	list := f.mustDo(200, "GET", "/api/w/local/jobs/completed/list?script_path_exact=u/me/echo", "", "")
	if len(list.body) > 64<<10 || !strings.Contains(list.body, `"args_truncated":true`) {
		t.Errorf("a list of 10 jobs with 200 KiB arguments is %d bytes", len(list.body))
	}
}
