package engine

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/store"
)

// raceMode is one way a job can start: a language on the fork server,
// spawned, or on a warm worker.
type raceMode struct {
	name string
	f    *fixture
	path string
	warm bool // runs on a warm worker: an idle one is made ready first
}

// raceFixtures builds the modes of a job's start that a cancel or a
// timeout can meet: Python and Bash forked (their servers ready, an
// earlier Python job run) and spawned, TypeScript, and Python and
// TypeScript on warm workers; each engine runs workers jobs at once.
func raceFixtures(t *testing.T, timeoutS, workers int) []raceMode {
	t.Helper()
	forked := setup(t, func(c *Config) { c.Workers = workers })
	spawned := setup(t, func(c *Config) { c.Workers = workers; c.NoForkServer = true })
	for _, f := range []*fixture{forked, spawned} {
		f.e.limiter.SetRate(0, 1) // hundreds of runs a second, all from one token
	}
	forkReady(t, forked)
	bashForkReady(t, forked)
	extra := []string{}
	if timeoutS > 0 {
		extra = append(extra, "timeout", fmt.Sprint(timeoutS))
	}
	py := "import time\ndef main(s: float = 20):\n    time.sleep(s)\n"
	sh := "sleep 20\n"
	ts := "export async function main(s: number = 20) {\n  await new Promise((r) => setTimeout(r, s * 1000))\n}\n"
	modes := []raceMode{
		{name: "python forked", f: forked, path: "u/me/race_py"},
		{name: "python spawned", f: spawned, path: "u/me/race_py"},
		{name: "bash forked", f: forked, path: "u/me/race_sh"},
		{name: "bash spawned", f: spawned, path: "u/me/race_sh"},
		{name: "typescript", f: forked, path: "u/me/race_ts"},
		{name: "python warm", f: forked, path: "u/me/race_py_warm", warm: true},
		{name: "typescript warm", f: forked, path: "u/me/race_ts_warm", warm: true},
	}
	for _, f := range []*fixture{forked, spawned} {
		f.createScript("u/me/race_py", "python3", py, extra...)
		f.createScript("u/me/race_sh", "bash", sh, extra...)
	}
	forked.createScript("u/me/race_ts", "bun", ts, extra...)
	forked.createScript("u/me/race_py_warm", "python3", py, append([]string{"dedicated_worker", "true"}, extra...)...)
	forked.createScript("u/me/race_ts_warm", "bun", ts, append([]string{"dedicated_worker", "true"}, extra...)...)
	// A version is compiled on its first run: that run is not one of
	// those measured.
	if r := forked.syncRun("u/me/race_ts", `{"s": 0}`); r.status != 200 {
		t.Fatalf("TypeScript: %d %s", r.status, r.body)
	}
	return modes
}

// call is an HTTP call from any goroutine (the fixture's helpers stop
// the test, which only the test's goroutine may do).
func (f *fixture) call(method, path, body string) (int, string, error) {
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// startJob enqueues an async run of m and subscribes to its end; at is
// when the enqueue was sent.
func (m raceMode) startJob() (id string, ended chan *store.Job, at time.Time, err error) {
	if m.warm {
		// An idle warm worker, so that the job measured takes it.
		if status, body, err := m.f.call("POST", "/api/w/local/jobs/run_wait_result/p/"+m.path, `{"s": 0}`); err != nil || status != 200 {
			return "", nil, at, fmt.Errorf("%s: warm-up run: %d %s %v", m.name, status, body, err)
		}
	}
	at = time.Now()
	status, id, err := m.f.call("POST", "/api/w/local/jobs/run/p/"+m.path, "{}")
	if err != nil || status != 201 {
		return "", nil, at, fmt.Errorf("%s: enqueue: %d %s %v", m.name, status, id, err)
	}
	// A 20 s job cannot have ended yet.
	return id, m.f.e.queue.Subscribe(id), at, nil
}

// untilRunning waits until the job shows as running, as a caller polling
// it would see it.
func (m raceMode) untilRunning(id string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if j, ok := m.f.e.queue.Live(id); ok && j.Status != store.StatusQueued {
			return true
		}
		time.Sleep(100 * time.Microsecond)
	}
	return false
}

type raceResult struct {
	mode    string
	when    string
	offset  time.Duration
	latency time.Duration // from the answer of the cancel (or the timeout) to the job's end
	status  string
	err     string
}

func summarize(t *testing.T, what string, results []raceResult, bound time.Duration) {
	t.Helper()
	byMode := map[string][]raceResult{}
	var order []string
	for _, r := range results {
		if _, ok := byMode[r.mode]; !ok {
			order = append(order, r.mode)
		}
		byMode[r.mode] = append(byMode[r.mode], r)
	}
	missed := 0
	for _, mode := range order {
		rs := byMode[mode]
		lat := make([]time.Duration, 0, len(rs))
		late := 0
		for _, r := range rs {
			lat = append(lat, r.latency)
			if r.err != "" || r.latency > bound {
				late++
			}
		}
		slices.Sort(lat)
		missed += late
		t.Logf("%s, %-16s %3d jobs: %d missed; latency p50 %v, p90 %v, worst %v", what, mode, len(rs), late,
			lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*9/10].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	}
	t.Logf("%s: %d of %d missed (bound %v)", what, missed, len(results), bound)
	for _, r := range results {
		if r.err != "" || r.latency > bound {
			t.Errorf("%s, %s, %s %v: %s after %v (%s)", what, r.mode, r.when, r.offset.Round(time.Microsecond), r.status, r.latency.Round(time.Millisecond), r.err)
		}
	}
}

// A cancel stops a job whatever moment of its start it arrives at:
// before a worker claims it, while its process starts (spawned, on a fork
// server, on a warm worker), right after it shows as running. Each job
// sleeps 20 s and must end canceled within 1 s of the cancel's answer.
func TestCancelWinsAtAnyMomentOfAStart(t *testing.T) {
	t.Parallel()
	// Three callers on engines of two workers: a job may also wait
	// queued, and be claimed at any moment around its cancel.
	const jobs, workers = 200, 3
	modes := raceFixtures(t, 0, 2)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	var (
		mu      sync.Mutex
		results []raceResult
		next    = make(chan int)
		wg      sync.WaitGroup
	)
	for w := range workers {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() {
			for i := range next {
				m := modes[i%len(modes)]
				res := raceResult{mode: m.name}
				id, ended, _, err := m.startJob()
				if err != nil {
					res.err = err.Error()
					mu.Lock()
					results = append(results, res)
					mu.Unlock()
					continue
				}
				// Half the cancels fall anywhere in the first 50 ms after
				// the enqueue's answer, half within 20 ms of the job
				// showing as running.
				if i%2 == 0 {
					res.when, res.offset = "after enqueue", time.Duration(rng.Int64N(int64(50*time.Millisecond)))
				} else {
					res.when, res.offset = "after running", time.Duration(rng.Int64N(int64(20*time.Millisecond)))
					if !m.untilRunning(id, 10*time.Second) {
						res.err = "never showed as running"
					}
				}
				time.Sleep(res.offset)
				status, body, err := m.f.call("POST", "/api/w/local/jobs_u/queue/cancel/"+id, `{"reason": "race"}`)
				answered := time.Now()
				if err != nil || status != 200 || body != id {
					res.err = fmt.Sprintf("cancel answered %d %q %v", status, body, err)
				}
				select {
				case j := <-ended:
					res.latency, res.status = time.Since(answered), j.Status
					if j.Status != store.StatusCanceled && res.err == "" {
						res.err = "ended " + j.Status + ": " + j.Result
					}
				case <-time.After(25 * time.Second):
					res.latency, res.status = time.Since(answered), "still running"
					res.err = "did not end"
				}
				m.f.e.queue.Unsubscribe(id, ended)
				mu.Lock()
				results = append(results, res)
				mu.Unlock()
			}
		})
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	summarize(t, "cancel", results, time.Second)
}

// A job's timeout, like a cancel, stops it at whatever moment of its
// start it comes: jobs with a 1 s timeout, started at random moments
// against each other, end failed with TimeoutError within 1 s of it.
func TestTimeoutWinsAtAnyMomentOfAStart(t *testing.T) {
	t.Parallel()
	const rounds, workers = 4, 4
	modes := raceFixtures(t, 1, workers)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	var (
		mu      sync.Mutex
		results []raceResult
		next    = make(chan int)
		wg      sync.WaitGroup
	)
	for w := range workers {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() {
			for i := range next {
				m := modes[i%len(modes)]
				res := raceResult{mode: m.name, when: "started", offset: time.Duration(rng.Int64N(int64(50 * time.Millisecond)))}
				time.Sleep(res.offset)
				id, ended, enqueued, err := m.startJob()
				if err == nil {
					select {
					case j := <-ended:
						// The timeout counts from the job's start.
						res.latency, res.status = j.CompletedAt.Sub(j.StartedAt)-time.Second, j.Status
						var out struct{ Error struct{ Name string } }
						_ = json.Unmarshal([]byte(j.Result), &out)
						if j.Status != store.StatusFailure || out.Error.Name != "TimeoutError" {
							err = fmt.Errorf("ended %s: %s", j.Status, j.Result)
						}
					case <-time.After(25 * time.Second):
						res.latency, res.status = time.Since(enqueued)-time.Second, "still running"
						err = fmt.Errorf("did not end")
					}
					m.f.e.queue.Unsubscribe(id, ended)
				}
				if err != nil {
					res.err = err.Error()
				}
				mu.Lock()
				results = append(results, res)
				mu.Unlock()
			}
		})
	}
	for i := range rounds * len(modes) {
		next <- i
	}
	close(next)
	wg.Wait()
	summarize(t, "timeout", results, time.Second)
}
