// Command bench measures millrun against baselines taken in the same run,
// and prints ratios: the machines it runs on are shared and noisy, so only
// ratios are compared with the targets. Run it with `make bench`.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite"

	"github.com/millrun/millrun/engine"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/store"
)

var failed bool

func report(name string, ratio, target float64, lessIsBetter bool, detail string) {
	ok := ratio <= target
	cmp := "<="
	if !lessIsBetter {
		ok = ratio >= target
		cmp = ">="
	}
	status := "PASS"
	if !ok {
		status = "FAIL"
		failed = true
	}
	fmt.Printf("%-4s %-44s ratio %7.2f (target %s %.2f)  %s\n", status, name, ratio, cmp, target, detail)
}

func main() {
	only := flag.String("only", "", "run only benchmarks whose name contains this (peers, sync, warm, accept, list, rss, flood, slowloris, packages)")
	floodConns := flag.Int("flood-conns", 64, "callers posting at once in the flood benchmark")
	floodMiB := flag.Int("flood-mib", 10, "MiB each flood caller posts")
	lorisConns := flag.Int("slowloris-conns", 800, "connections the slowloris benchmark holds")
	flag.IntVar(&nofile, "nofile", 0, "file descriptor limit for the serve processes of the flood and slowloris benchmarks (0: the machine's)")
	pkgReps := flag.Int("package-reps", 9, "fresh-cache repetitions of each first-install and resolution measurement")
	n := flag.Int("n", 300, "samples per latency measurement")
	rows := flag.Int("rows", 1000000, "jobs in the large database of the listing benchmark")
	millrunBin := flag.String("millrun", "build/bin/millrun", "millrun binary for the idle-memory check")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		must(err)
		must(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	run := func(name string) bool { return *only == "" || strings.Contains(name, *only) }
	if run("peers") {
		benchPeers(*n)
	}
	if run("sync") {
		benchSync(*n)
	}
	if run("warm") {
		benchWarm(*n)
	}
	if run("accept") {
		benchAccept()
	}
	if run("list") {
		benchList(*rows)
	}
	if run("rss") {
		benchRSS(*millrunBin)
	}
	if run("flood") {
		benchFlood(*millrunBin, *floodConns, *floodMiB<<20)
	}
	if run("slowloris") {
		benchSlowloris(*millrunBin, *lorisConns)
	}
	// packages-cached, packages-first, packages-resolve run one of them.
	if run("packages") || strings.HasPrefix(*only, "packages-") {
		benchPackages(*n, *pkgReps, strings.TrimPrefix(*only, "packages-"))
	}
	if failed {
		fmt.Println("some targets were missed")
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

type harness struct {
	e     *engine.Engine
	srv   *httptest.Server
	token string
}

func newHarness(dir string, workers int) *harness {
	return newHarnessWith(engine.Config{DataDir: dir, Workers: workers})
}

func newHarnessWith(cfg engine.Config) *harness {
	e, err := engine.Open(cfg)
	must(err)
	tok, err := e.CreateToken(context.Background(), "bench", nil, time.Time{})
	must(err)
	// The runners compared have no rate limit; millrun's would refuse the
	// samples after its burst.
	set := e.Settings()
	set.RateLimitPerSecond = 0
	must(e.UpdateSettings(context.Background(), set))
	return &harness{e: e, srv: httptest.NewServer(e.Handler()), token: tok}
}

func (h *harness) close() {
	h.srv.Close()
	h.e.Close(context.Background())
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func (h *harness) post(path, body string) (int, string) {
	req, _ := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	must(err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func timeIt(n int, f func()) []time.Duration {
	out := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		f()
		out = append(out, time.Since(start))
	}
	return out
}

const syncRounds = 3

// benchSync compares a sync webhook round trip with starting the same
// script directly, interleaving the two so drift hits both alike.
func benchSync(n int) {
	dir, _ := os.MkdirTemp("", "millrun-bench-")
	defer os.RemoveAll(dir)
	h := newHarness(filepath.Join(dir, "data"), 2)
	defer h.close()
	in := runtime.Resolve(context.Background())
	cases := []struct {
		name, lang, content, file string
		direct                    []string
		target                    float64
	}{
		{"sync bash p50 vs bash script.sh", "bash", "echo hello\n", "s.sh", []string{in.Bash, "s.sh"}, 1.5},
		{"sync python p50 vs python3 script.py", "python3", "def main():\n    return 'hello'\n", "s.py", []string{in.Python, "s.py"}, 1.3},
	}
	for _, c := range cases {
		code, body := h.post("/api/w/local/scripts/create", fmt.Sprintf(`{"path":"u/bench/%s","language":"%s","content":%q}`, c.lang, c.lang, c.content))
		if code != 201 {
			must(fmt.Errorf("create: %d %s", code, body))
		}
		script := c.content
		if c.lang == "python3" {
			script += "\nprint(main())\n"
		}
		must(os.WriteFile(filepath.Join(dir, c.file), []byte(script), 0o600))
		for range 10 { // warm both paths: page cache, interpreter files
			exec.Command(c.direct[0], c.direct[1:]...).Run()
			h.post("/api/w/local/jobs/run_wait_result/p/u/bench/"+c.lang, "{}")
		}
		// Rounds of n interleaved samples; the reported ratio is the median
		// round's, so one burst of load on a shared machine moves nothing.
		type round struct {
			ratio         float64
			d50, h50, h99 time.Duration
		}
		var rounds []round
		for range syncRounds {
			var direct, hook []time.Duration
			for range n {
				direct = append(direct, timeIt(1, func() {
					cmd := exec.Command(c.direct[0], c.direct[1:]...)
					cmd.Dir = dir
					out, err := cmd.Output()
					must(err)
					if !strings.Contains(string(out), "hello") {
						must(fmt.Errorf("direct run printed %q", out))
					}
				})...)
				hook = append(hook, timeIt(1, func() {
					code, body := h.post("/api/w/local/jobs/run_wait_result/p/u/bench/"+c.lang, "{}")
					if code != 200 || !strings.Contains(body, "hello") {
						must(fmt.Errorf("webhook answered %d %s", code, body))
					}
				})...)
			}
			d50, h50 := percentile(direct, 0.5), percentile(hook, 0.5)
			rounds = append(rounds, round{float64(h50) / float64(d50), d50, h50, percentile(hook, 0.99)})
		}
		sort.Slice(rounds, func(i, j int) bool { return rounds[i].ratio < rounds[j].ratio })
		all := make([]string, len(rounds))
		for i, r := range rounds {
			all[i] = fmt.Sprintf("%.2f", r.ratio)
		}
		m := rounds[len(rounds)/2]
		report(c.name, m.ratio, c.target, true, fmt.Sprintf("webhook p50 %s, direct p50 %s, webhook p99 %s; rounds %s",
			ms(m.h50), ms(m.d50), ms(m.h99), strings.Join(all, " ")))
	}
}

// benchAccept compares durable async accepts from 32 concurrent clients
// with a baseline that commits each job in its own synchronous=FULL
// transaction.
func benchAccept() {
	const clients = 32
	const dur = 3 * time.Second
	dir, _ := os.MkdirTemp("", "millrun-bench-")
	defer os.RemoveAll(dir)

	base, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "baseline.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	must(err)
	base.SetMaxOpenConns(1)
	_, err = base.Exec(`CREATE TABLE jobs (id TEXT PRIMARY KEY, path TEXT, args TEXT, status TEXT, created_at INTEGER)`)
	must(err)
	baseN, _ := load(clients, dur, func() {
		tx, err := base.Begin()
		must(err)
		_, err = tx.Exec(`INSERT INTO jobs VALUES (?, ?, ?, 'queued', ?)`, uuid.NewString(), "u/bench/x", "{}", time.Now().UnixMicro())
		must(err)
		must(tx.Commit())
	})
	base.Close()

	h := newHarness(filepath.Join(dir, "data"), 1)
	defer h.close()
	s := h.e.Settings()
	s.MaxQueued = 10000000
	s.RateLimitPerSecond = 0 // one token sends everything here; the per-token limit is not what is measured
	must(h.e.UpdateSettings(context.Background(), s))
	code, body := h.post("/api/w/local/scripts/create", `{"path":"u/bench/x","language":"bash","content":"true\n"}`)
	if code != 201 {
		must(fmt.Errorf("create: %d %s", code, body))
	}
	hookN, lat := load(clients, dur, func() {
		code, body := h.post("/api/w/local/jobs/run/p/u/bench/x", `{"a":1}`)
		if code != 201 {
			must(fmt.Errorf("accept answered %d %s", code, body))
		}
	})
	// Scheduled an hour out, the jobs stay queued: this isolates the cost
	// of accepting from the cost of running what was accepted.
	queuedN, _ := load(clients, dur, func() {
		code, body := h.post("/api/w/local/jobs/run/p/u/bench/x?scheduled_in_secs=3600", `{"a":1}`)
		if code != 201 {
			must(fmt.Errorf("accept answered %d %s", code, body))
		}
	})
	noop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(201)
		io.WriteString(w, uuid.NewString())
	}))
	defer noop.Close()
	noopN, _ := load(clients, dur, func() {
		res, err := client.Post(noop.URL, "application/json", strings.NewReader(`{"a":1}`))
		must(err)
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	})
	fmt.Printf("     (same run: accepts with no job running %.0f/s; an HTTP server doing nothing answers %.0f req/s)\n",
		float64(queuedN)/dur.Seconds(), float64(noopN)/dur.Seconds())
	// The durable write path alone: the same store and group committer the
	// webhook uses, without HTTP in front.
	direct, err := store.Open(filepath.Join(dir, "direct.db"))
	must(err)
	defer direct.Close()
	now := time.Now()
	storeN, _ := load(clients, dur, func() {
		must(direct.InsertJob(context.Background(), &store.Job{ID: uuid.NewString(), Workspace: "local", Kind: "script", ScriptPath: "u/bench/x",
			Args: `{"a":1}`, Status: store.StatusQueued, CreatedAt: now, ScheduledFor: now}))
	})
	report("durable insert throughput (group commit), 32", float64(storeN)/float64(baseN), 20, false,
		fmt.Sprintf("%.0f jobs/s in-process vs baseline %.0f commits/s", float64(storeN)/dur.Seconds(), float64(baseN)/dur.Seconds()))
	bt, ht := float64(baseN)/dur.Seconds(), float64(hookN)/dur.Seconds()
	report("async accept throughput, 32 clients", ht/bt, 20, false, fmt.Sprintf("millrun %.0f jobs/s over HTTP, baseline %.0f commits/s", ht, bt))
	p99 := percentile(lat, 0.99)
	report("async accept p99 latency / 50ms", float64(p99)/float64(50*time.Millisecond), 1, true, fmt.Sprintf("p99 %s, p50 %s", ms(p99), ms(percentile(lat, 0.5))))
}

func load(clients int, dur time.Duration, op func()) (int, []time.Duration) {
	var mu sync.Mutex
	var lat []time.Duration
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				start := time.Now()
				op()
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return len(lat), lat
}

// benchList pages through a small and a large job table the way the Runs
// page does (keyset cursors), with and without filters.
func benchList(rows int) {
	dir, _ := os.MkdirTemp("", "millrun-bench-")
	defer os.RemoveAll(dir)
	small := fill(filepath.Join(dir, "small.db"), 1000)
	defer small.Close()
	start := time.Now()
	large := fill(filepath.Join(dir, "large.db"), rows)
	defer large.Close()
	fmt.Printf("     (filled %d jobs in %s)\n", rows, time.Since(start).Round(time.Millisecond))
	filters := []struct {
		name string
		f    store.JobFilter
	}{
		{"all", store.JobFilter{}},
		{"by path", store.JobFilter{Path: "u/bench/s1"}},
		{"by part of a path", store.JobFilter{PathContains: "ench/S1"}},
		{"by status", store.JobFilter{Statuses: []string{store.StatusFailure}}},
		{"finished", store.JobFilter{Statuses: []string{store.StatusSuccess, store.StatusFailure, store.StatusCanceled}}},
	}
	for _, fl := range filters {
		measure := func(db *store.DB) time.Duration {
			var samples []time.Duration
			for range 40 {
				f := fl.f
				f.Workspace, f.Limit = "local", 50
				t0 := time.Now()
				// First page, then four pages deeper by cursor.
				pages := 0
				for range 5 {
					page, err := db.ListJobs(context.Background(), f)
					must(err)
					if len(page) < f.Limit {
						must(fmt.Errorf("filter %s: a page came back short (%d rows); the fixture is too small", fl.name, len(page)))
					}
					pages++
					last := page[len(page)-1]
					f.Before, f.BeforeID = last.CreatedAt, last.ID
				}
				samples = append(samples, time.Since(t0)/time.Duration(pages))
			}
			return percentile(samples, 0.5)
		}
		measure(small)
		measure(large)
		s, l := measure(small), measure(large)
		report("runs page on "+fmt.Sprint(rows)+" vs 1000 jobs ("+fl.name+")", float64(l)/float64(s), 2, true, fmt.Sprintf("large %s, small %s per page", ms(l), ms(s)))
	}
}

func fill(path string, n int) *store.DB {
	db, err := store.Open(path)
	must(err)
	t0 := time.Now().Add(-time.Duration(n) * time.Second)
	const chunk = 50000
	for i := 0; i < n; i += chunk {
		batch := make([]*store.Job, 0, chunk)
		for k := i; k < min(n, i+chunk); k++ {
			at := t0.Add(time.Duration(k) * time.Second)
			status := store.StatusSuccess
			if k%4 == 0 {
				status = store.StatusFailure
			}
			batch = append(batch, &store.Job{ID: uuid.NewString(), Workspace: "local", Kind: "script", ScriptPath: fmt.Sprintf("u/bench/s%d", k%2),
				ScriptHash: "0123456789abcdef", Language: "bash", Args: `{"a":1}`, Status: status, Result: `"ok"`, Logs: "ok\n",
				CreatedAt: at, ScheduledFor: at, StartedAt: at, CompletedAt: at.Add(5 * time.Millisecond), DurationMs: 5, Trigger: "webhook", CreatedBy: "bench"})
		}
		must(db.ImportJobs(context.Background(), batch))
	}
	return db
}

// benchRSS starts the real binary and reads its resident memory once idle.
func benchRSS(bin string) {
	if _, err := os.Stat(bin); err != nil {
		must(fmt.Errorf("%s not found: run make build first", bin))
	}
	dir, _ := os.MkdirTemp("", "millrun-bench-")
	defer os.RemoveAll(dir)
	cmd := exec.Command(bin, "serve", "--data", dir, "--listen", "127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	must(cmd.Start())
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(3 * time.Second)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	must(err)
	var kb int
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			fmt.Sscanf(strings.TrimPrefix(line, "VmRSS:"), "%d", &kb)
		}
	}
	report("idle serve RSS / 40 MB", float64(kb)/(40*1024), 1, true, fmt.Sprintf("%.1f MB", float64(kb)/1024))
}

// benchWarm compares warm workers with cold runs of the same script.
func benchWarm(n int) {
	dir, _ := os.MkdirTemp("", "millrun-bench-")
	defer os.RemoveAll(dir)
	h := newHarness(filepath.Join(dir, "data"), 2)
	defer h.close()
	s := h.e.Settings()
	s.RateLimitPerSecond = 0
	must(h.e.UpdateSettings(context.Background(), s))
	cases := []struct {
		lang, content string
		p50Target     float64
	}{
		{"python3", "def main(x: int = 1):\n    return {'x': x}\n", 0.1},
		{"bun", "export async function main(x: number = 1) { return { x } }\n", 0.05},
	}
	for _, c := range cases {
		for _, mode := range []string{"cold", "warm"} {
			body := fmt.Sprintf(`{"path":"u/bench/%s-%s","language":"%s","content":%q,"dedicated_worker":%v}`, c.lang, mode, c.lang, c.content, mode == "warm")
			if code, b := h.post("/api/w/local/scripts/create", body); code != 201 {
				must(fmt.Errorf("create: %d %s", code, b))
			}
		}
		call := func(mode string) {
			code, body := h.post("/api/w/local/jobs/run_wait_result/p/u/bench/"+c.lang+"-"+mode, `{"x": 2}`)
			if code != 200 || !strings.Contains(body, `"x":2`) {
				must(fmt.Errorf("%s %s answered %d %s", c.lang, mode, code, body))
			}
		}
		for range 5 {
			call("cold")
			call("warm")
		}
		var cold, warm []time.Duration
		for range n / 3 {
			cold = append(cold, timeIt(1, func() { call("cold") })...)
			warm = append(warm, timeIt(3, func() { call("warm") })...)
		}
		c50, w50 := percentile(cold, 0.5), percentile(warm, 0.5)
		report(fmt.Sprintf("warm %s sync p50 vs cold", c.lang), float64(w50)/float64(c50), c.p50Target, true,
			fmt.Sprintf("warm p50 %s, cold p50 %s", ms(w50), ms(c50)))
		if c.lang == "python3" {
			coldN, _ := load(8, 3*time.Second, func() { call("cold") })
			warmN, _ := load(8, 3*time.Second, func() { call("warm") })
			report("warm python3 throughput, 8 clients, vs cold", float64(warmN)/float64(coldN), 10, false,
				fmt.Sprintf("warm %.0f req/s, cold %.0f req/s", float64(warmN)/3, float64(coldN)/3))
		}
	}
}
