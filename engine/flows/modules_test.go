//go:build linux || darwin

package flows

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/store"
)

// Each OpenFlow module type and step option, run for real, against the
// shapes Windmill's job JSON gives them (windmill-types' FlowStatus).

// step is a module whose value is an inline script.
func step(id, lang, content, transforms string, extra ...string) string {
	c, _ := json.Marshal(content)
	if transforms == "" {
		transforms = "{}"
	}
	opts := ""
	for _, e := range extra {
		opts += "," + e
	}
	return fmt.Sprintf(`{"id":%q,"value":{"type":"rawscript","language":%q,"content":%s,"input_transforms":%s}%s}`, id, lang, c, transforms, opts)
}

func js(pairs ...string) string {
	var parts []string
	for i := 0; i+1 < len(pairs); i += 2 {
		e, _ := json.Marshal(pairs[i+1])
		parts = append(parts, fmt.Sprintf(`%q:{"type":"javascript","expr":%s}`, pairs[i], e))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func flowValue(modules ...string) string {
	return `{"modules":[` + strings.Join(modules, ",") + `]}`
}

func statusOf(t *testing.T, j *store.Job) Status {
	t.Helper()
	var s Status
	if err := json.Unmarshal([]byte(j.FlowStatus), &s); err != nil {
		t.Fatalf("flow_status %q: %v", j.FlowStatus, err)
	}
	return s
}

// rawStatus is the flow_status as readers see it, untyped.
func rawStatus(t *testing.T, j *store.Job) map[string]any {
	t.Helper()
	var s map[string]any
	if err := json.Unmarshal([]byte(j.FlowStatus), &s); err != nil {
		t.Fatalf("flow_status %q: %v", j.FlowStatus, err)
	}
	return s
}

func rawModule(t *testing.T, j *store.Job, i int) map[string]any {
	t.Helper()
	return rawStatus(t, j)["modules"].([]any)[i].(map[string]any)
}

func compact(s string) string {
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (f *fixture) job(id string) *store.Job {
	f.t.Helper()
	j, err := f.db.GetJob(context.Background(), "local", id)
	if err != nil {
		f.t.Fatalf("job %s: %v", id, err)
	}
	return j
}

func mustSucceed(t *testing.T, j *store.Job) {
	t.Helper()
	if j.Status != store.StatusSuccess {
		t.Fatalf("flow ended %s: %s\n%s\nlogs:\n%s", j.Status, j.Result, j.FlowStatus, j.Logs)
	}
}

// A Windmill-shaped status even before anything ran: failure_module
// waits as "failure", preprocessor_module is null, cleanup_module {}.
func TestStatusShapes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hash := f.save("f/test/shapes", flowValue(step("a", "bash", "echo hi\n", ""), step("b", "bash", "exit 3\n", "")))
	_, final := f.run(hash, `{}`)
	s := rawStatus(t, final)
	if s["step"] != 1.0 || s["preprocessor_module"] != nil || compact(mustJSON(s["cleanup_module"])) != `{}` ||
		compact(mustJSON(s["failure_module"])) != `{"id":"failure","type":"WaitingForPriorSteps"}` {
		t.Errorf("top-level status: %s", final.FlowStatus)
	}
	a, b := rawModule(t, final, 0), rawModule(t, final, 1)
	if a["type"] != "Success" || a["skipped"] != false || a["job"] == nil || a["id"] != "a" {
		t.Errorf("a Success module: %v", a)
	}
	if b["type"] != "Failure" || b["job"] == nil || b["skipped"] != nil {
		t.Errorf("a Failure module: %v", b)
	}
	child := f.job(a["job"].(string))
	if child.Kind != "flowscript" || child.ParentJob != final.ID || child.ScriptPath != "f/test/shapes/a" {
		t.Errorf("an inline step's job: kind %s parent %s path %s", child.Kind, child.ParentJob, child.ScriptPath)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A for loop runs its body once per item of its iterator, in order; each
// iteration is a sub-flow job with flow_input.iter = {index, value} and
// the enclosing flow's results in reach; the loop's result is the list
// of its iterations' results.
func TestForLoop(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hash := f.save("f/test/loop", flowValue(
		step("a", "bash", "echo ten\n", ""),
		`{"id":"loop","value":{"type":"forloopflow","iterator":{"type":"javascript","expr":"flow_input.items"},"skip_failures":false,"parallel":false,"modules":[`+
			step("each", "bash", "n=\"$1\"\nidx=\"$2\"\nbase=\"$3\"\necho \"$((n*2))-$idx-$base\"\n", js("n", "flow_input.iter.value", "idx", "flow_input.iter.index", "base", "results.a"))+`]}}`,
		step("after", "python3", "def main(xs):\n    return len(xs)\n", js("xs", "results.loop")),
	))
	_, final := f.run(hash, `{"items":[1,2,3]}`)
	mustSucceed(t, final)
	if final.Result != "3" {
		t.Fatalf("flow result %s", final.Result)
	}
	loop := rawModule(t, final, 1)
	jobsList, _ := loop["flow_jobs"].([]any)
	if loop["type"] != "Success" || len(jobsList) != 3 || compact(mustJSON(loop["flow_jobs_success"])) != `[true,true,true]` || loop["iterator"] != nil {
		t.Fatalf("loop status: %v", loop)
	}
	timing := loop["flow_jobs_duration"].(map[string]any)
	if len(timing["started_at"].([]any)) != 3 || len(timing["duration_ms"].([]any)) != 3 {
		t.Errorf("flow_jobs_duration: %v", timing)
	}
	var results []string
	for i, id := range jobsList {
		it := f.job(id.(string))
		if it.Kind != "flownode" || it.ParentJob != final.ID || it.ScriptPath != fmt.Sprintf("f/test/loop/loop-%d", i) || it.Status != store.StatusSuccess {
			t.Fatalf("iteration %d's job: %+v", i, it)
		}
		var args map[string]any
		json.Unmarshal([]byte(it.Args), &args)
		if compact(mustJSON(args["iter"])) != fmt.Sprintf(`{"index":%d,"value":%d}`, i, i+1) {
			t.Errorf("iteration %d's input: %s", i, it.Args)
		}
		inner := rawModule(t, it, 0)
		st := f.job(inner["job"].(string))
		if st.ParentJob != it.ID || st.ScriptPath != fmt.Sprintf("f/test/loop/loop-%d/each", i) {
			t.Errorf("a step inside iteration %d: parent %s path %s", i, st.ParentJob, st.ScriptPath)
		}
		results = append(results, it.Result)
	}
	if strings.Join(results, ",") != `"2-0-ten","4-1-ten","6-2-ten"` {
		t.Errorf("iteration results: %v", results)
	}
	// results.loop as the next step saw it is the list of results.
	afterJob := f.job(rawModule(t, final, 2)["job"].(string))
	if compact(afterJob.Args) != `{"xs":["2-0-ten","4-1-ten","6-2-ten"]}` {
		t.Errorf("results.loop: %s", afterJob.Args)
	}
}

// skip_failures keeps a loop going past a failed iteration, whose result
// is its error; without it the first failure ends the loop and the flow.
func TestForLoopFailures(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	loop := func(skip bool) string {
		return fmt.Sprintf(`{"id":"loop","value":{"type":"forloopflow","iterator":{"type":"static","value":[1,0,4]},"skip_failures":%v,"modules":[`, skip) +
			step("inv", "python3", "def main(n):\n    return 1 / n\n", js("n", "flow_input.iter.value")) + `]}}`
	}
	_, final := f.run(f.save("f/test/skip", flowValue(loop(true))), `{}`)
	mustSucceed(t, final)
	var out []any
	json.Unmarshal([]byte(final.Result), &out)
	if len(out) != 3 || out[0] != 1.0 || out[2] != 0.25 || !strings.Contains(mustJSON(out[1]), "ZeroDivisionError") {
		t.Fatalf("loop with skip_failures: %s", final.Result)
	}
	if m := rawModule(t, final, 0); compact(mustJSON(m["flow_jobs_success"])) != `[true,false,true]` || m["type"] != "Success" {
		t.Errorf("loop status: %v", m)
	}

	_, final = f.run(f.save("f/test/noskip", flowValue(loop(false), step("never", "bash", "echo no\n", ""))), `{}`)
	if final.Status != store.StatusFailure || !strings.Contains(final.Result, "step inv failed: division by zero") {
		t.Fatalf("loop without skip_failures: %s %s", final.Status, final.Result)
	}
	m := rawModule(t, final, 0)
	if m["type"] != "Failure" || len(m["flow_jobs"].([]any)) != 2 || compact(mustJSON(m["flow_jobs_success"])) != `[true,false]` {
		t.Errorf("a failed loop's status: %v", m)
	}
	if rawModule(t, final, 1)["type"] != "WaitingForPriorSteps" {
		t.Error("the step after a failed loop ran")
	}
}

// concurrency reads the intervals iterations logged and returns the most
// that overlapped.
func concurrency(t *testing.T, log string) int {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	type ev struct {
		at    int64
		delta int
	}
	var evs []ev
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		kind, at, _ := strings.Cut(line, " ")
		n, _ := strconv.ParseInt(at, 10, 64)
		if kind == "start" {
			evs = append(evs, ev{n, 1})
		} else {
			evs = append(evs, ev{n, -1})
		}
	}
	sort.Slice(evs, func(i, j int) bool {
		return evs[i].at < evs[j].at || evs[i].at == evs[j].at && evs[i].delta < evs[j].delta
	})
	most, now := 0, 0
	for _, e := range evs {
		now += e.delta
		most = max(most, now)
	}
	return most
}

// A parallel loop runs iterations at once, no more than its parallelism
// and never more than the worker count (the flow's own slot and those it
// borrows), and its result keeps the iterator's order.
func TestParallelLoopBounds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		workers     int
		parallelism string
		want        int
	}{
		{workers: 2, parallelism: "", want: 2},
		{workers: 4, parallelism: `,"parallelism":2`, want: 2},
		{workers: 4, parallelism: `,"parallelism":{"type":"javascript","expr":"flow_input.p"}`, want: 3},
	} {
		t.Run(fmt.Sprintf("workers %d%s", c.workers, c.parallelism), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, func(o *fixtureOpts) { o.workers = c.workers })
			log := filepath.Join(t.TempDir(), "log")
			body := step("work", "bash", "i=\"$1\"\necho \"start $(date +%s%N)\" >> "+log+"\nsleep 0.4\necho \"end $(date +%s%N)\" >> "+log+"\necho \"$i\"\n",
				js("i", "flow_input.iter.value"))
			hash := f.save("f/test/par", flowValue(`{"id":"loop","value":{"type":"forloopflow","iterator":{"type":"static","value":["a","b","c","d","e","f"]},"skip_failures":false,"parallel":true`+
				c.parallelism+`,"modules":[`+body+`]}}`))
			_, final := f.run(hash, `{"p":3}`)
			mustSucceed(t, final)
			if final.Result != `["a","b","c","d","e","f"]` {
				t.Fatalf("result %s", final.Result)
			}
			if got := concurrency(t, log); got != c.want {
				t.Fatalf("%d iterations ran at once, want %d", got, c.want)
			}
			m := rawModule(t, final, 0)
			if len(m["flow_jobs"].([]any)) != 6 || compact(mustJSON(m["flow_jobs_success"])) != `[true,true,true,true,true,true]` {
				t.Errorf("parallel loop status: %v", m)
			}
			it := f.job(m["flow_jobs"].([]any)[5].(string))
			if it.ScriptPath != "f/test/par/forloop-5" {
				t.Errorf("a parallel iteration's path: %s", it.ScriptPath)
			}
		})
	}
}

// A while loop runs its body until its stop_after_if holds of an
// iteration's result; iter.index and iter.value count iterations.
func TestWhileLoop(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hash := f.save("f/test/while", flowValue(`{"id":"w","stop_after_if":{"expr":"result >= 3","skip_if_stopped":false},"value":{"type":"whileloopflow","skip_failures":false,"modules":[`+
		step("count", "python3", "def main(i, v):\n    assert i == v\n    return i\n", js("i", "flow_input.iter.index", "v", "flow_input.iter.value"))+`]}}`,
		step("next", "bash", "echo after\n", "")))
	_, final := f.run(hash, `{}`)
	mustSucceed(t, final)
	if final.Result != `"after"` {
		t.Fatalf("flow result %s (a while loop's stop_after_if breaks the loop, not the flow)", final.Result)
	}
	w := rawModule(t, final, 0)
	if w["type"] != "Success" || len(w["flow_jobs"].([]any)) != 4 {
		t.Fatalf("while loop status: %v", w)
	}
	res, _ := json.Marshal(f.wait(w["flow_jobs"].([]any)[3].(string)).Result)
	if string(res) != `"3"` {
		t.Errorf("the last iteration's result: %s", res)
	}
}

// A branchone runs the first branch whose expression holds, else its
// default; an empty branch gives []; branch_chosen says which ran.
func TestBranchOne(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pick := func(def string) string {
		return `{"id":"pick","value":{"type":"branchone","branches":[` +
			`{"summary":"big","expr":"flow_input.n > 10","modules":[` + step("big", "bash", "echo big\n", "") + `]},` +
			`{"summary":"medium","expr":"previous_result.n > 5","modules":[` + step("medium", "bash", "echo medium\n", "") + `]}],` +
			`"default":[` + def + `]}}`
	}
	hash := f.save("f/test/branch", flowValue(pick(step("small", "bash", "echo small\n", ""))))
	for n, want := range map[int]string{20: `"big"`, 7: `"medium"`, 1: `"small"`} {
		_, final := f.run(hash, fmt.Sprintf(`{"n":%d}`, n))
		mustSucceed(t, final)
		m := rawModule(t, final, 0)
		chosen := compact(mustJSON(m["branch_chosen"]))
		wantChosen := map[int]string{20: `{"branch":0,"type":"branch"}`, 7: `{"branch":1,"type":"branch"}`, 1: `{"type":"default"}`}[n]
		if final.Result != want || chosen != wantChosen || m["type"] != "Success" {
			t.Errorf("n=%d: %s, branch_chosen %s (want %s)", n, final.Result, chosen, wantChosen)
		}
		if sub := f.job(m["job"].(string)); sub.Kind != "flownode" || sub.ParentJob != final.ID {
			t.Errorf("the branch's job: %+v", sub)
		}
	}
	_, final := f.run(f.save("f/test/emptydefault", flowValue(pick(""))), `{"n":0}`)
	mustSucceed(t, final)
	if m := rawModule(t, final, 0); final.Result != "[]" || m["job"] != NilJob || compact(mustJSON(m["flow_jobs"])) != `[]` {
		t.Errorf("an empty default branch: %s %v", final.Result, m)
	}
}

// A branch expression that throws fails the flow, naming the step, the
// branch and the expression.
func TestBranchExpressionThrows(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hash := f.save("f/test/throws", flowValue(`{"id":"pick","value":{"type":"branchone","branches":[{"expr":"flow_input.missing.deeper","modules":[`+
		step("x", "bash", "echo x\n", "")+`]}],"default":[]}}`))
	_, final := f.run(hash, `{}`)
	if final.Status != store.StatusFailure || !strings.Contains(final.Result, "step pick, branch 0 (flow_input.missing.deeper): TypeError") {
		t.Fatalf("%s %s", final.Status, final.Result)
	}
}

// A branchall runs every branch (in parallel by default, or in turn) and
// gives the list of their results; a failed branch with skip_failure
// gives its error in its place, without it fails the flow.
func TestBranchAll(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	all := func(parallel string, skip bool) string {
		return `{"id":"all","value":{"type":"branchall"` + parallel + `,"branches":[` +
			`{"summary":"one","modules":[` + step("one", "bash", "echo one\n", "") + `]},` +
			fmt.Sprintf(`{"summary":"two","skip_failure":%v,"modules":[`, skip) + step("two", "python3", "def main():\n    raise RuntimeError('nope')\n", "") + `]},` +
			`{"summary":"three","modules":[` + step("three", "bash", "echo three\n", "") + `]}]}}`
	}
	for _, parallel := range []string{"", `,"parallel":false`} {
		_, final := f.run(f.save("f/test/all"+strconv.Itoa(len(parallel)), flowValue(all(parallel, true))), `{}`)
		mustSucceed(t, final)
		var out []any
		json.Unmarshal([]byte(final.Result), &out)
		if len(out) != 3 || out[0] != "one" || out[2] != "three" || !strings.Contains(mustJSON(out[1]), "nope") {
			t.Fatalf("branchall%s: %s", parallel, final.Result)
		}
		m := rawModule(t, final, 0)
		if compact(mustJSON(m["flow_jobs_success"])) != `[true,false,true]` || len(m["flow_jobs"].([]any)) != 3 {
			t.Errorf("branchall%s status: %v", parallel, m)
		}
		if p := f.job(m["flow_jobs"].([]any)[2].(string)).ScriptPath; p != "f/test/all"+strconv.Itoa(len(parallel))+"/branchall-2" {
			t.Errorf("a branch's path: %s", p)
		}
	}
	_, final := f.run(f.save("f/test/allfail", flowValue(all(`,"parallel":false`, false))), `{}`)
	if final.Status != store.StatusFailure || !strings.Contains(final.Result, "step two failed: nope") {
		t.Fatalf("branchall without skip_failure: %s", final.Result)
	}
	if m := rawModule(t, final, 0); len(m["flow_jobs"].([]any)) != 2 || m["type"] != "Failure" {
		t.Errorf("a sequential branchall stops at its failed branch: %v", m)
	}
}

// identity passes its previous result on; a flow step runs a saved flow
// (its schema defaults applied) as a child flow job.
func TestIdentityAndFlowStep(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, _, err := f.flows.Save(context.Background(), "local", CreateRequest{Path: "f/test/child",
		Schema: json.RawMessage(`{"type":"object","properties":{"greeting":{"type":"string","default":"hello"}}}`),
		Value:  json.RawMessage(flowValue(step("say", "bash", "g=\"$1\"\nw=\"$2\"\necho \"$g $w\"\n", js("g", "flow_input.greeting", "w", "flow_input.who"))))})
	if err != nil {
		t.Fatal(err)
	}
	hash := f.save("f/test/parent", flowValue(
		step("a", "bash", "echo ann\n", ""),
		`{"id":"same","value":{"type":"identity"}}`,
		`{"id":"sub","value":{"type":"flow","path":"f/test/child","input_transforms":`+js("who", "previous_result")+`}}`,
	))
	_, final := f.run(hash, `{}`)
	mustSucceed(t, final)
	if final.Result != `"hello ann"` {
		t.Fatalf("result %s", final.Result)
	}
	same := f.job(rawModule(t, final, 1)["job"].(string))
	if same.Kind != "identity" || same.Result != `"ann"` {
		t.Errorf("identity step: %+v", same)
	}
	sub := f.job(rawModule(t, final, 2)["job"].(string))
	if sub.Kind != "flow" || sub.ScriptPath != "f/test/child" || sub.ParentJob != final.ID || compact(sub.Args) != `{"greeting":"hello","who":"ann"}` || sub.FlowStatus == "" {
		t.Errorf("the flow step's job: %+v", sub)
	}
}

// stop_after_if ends the flow with the step's result (skipped when
// skip_if_stopped), or fails it when it carries an error_message.
func TestStopAfterIf(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	flow := func(opts string) string {
		return flowValue(step("a", "python3", "def main(n):\n    return {'n': n}\n", js("n", "flow_input.n"), `"stop_after_if":{"expr":"result.n > 1"`+opts+`}`),
			step("b", "bash", "echo b\n", ""))
	}
	_, final := f.run(f.save("f/test/stop", flow(`,"skip_if_stopped":false`)), `{"n":5}`)
	mustSucceed(t, final)
	s := statusOf(t, final)
	if compact(final.Result) != `{"n":5}` || s.Modules[1].Type != WaitingForPriorSteps || s.StoppedEarly == nil || s.StoppedEarly.Skipped {
		t.Fatalf("stopped flow: %s %s", final.Result, final.FlowStatus)
	}
	_, final = f.run(f.save("f/test/stop", flow(`,"skip_if_stopped":false`)), `{"n":0}`)
	if final.Result != `"b"` {
		t.Fatalf("not stopped: %s", final.Result)
	}
	_, final = f.run(f.save("f/test/skipstop", flow(`,"skip_if_stopped":true`)), `{"n":5}`)
	if s := statusOf(t, final); s.StoppedEarly == nil || !s.StoppedEarly.Skipped {
		t.Errorf("skip_if_stopped: %s", final.FlowStatus)
	}
	_, final = f.run(f.save("f/test/errstop", flow(`,"skip_if_stopped":false,"error_message":"nothing to do"`)), `{"n":5}`)
	if final.Status != store.StatusFailure || final.Result != `"Flow early stop: nothing to do"` {
		t.Errorf("stop with an error message: %s %s", final.Status, final.Result)
	}
}

// skip_if skips a step: it records an identity job passing the previous
// result on, and its status says skipped.
func TestSkipIf(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	marker := filepath.Join(t.TempDir(), "ran")
	hash := f.save("f/test/skipif", flowValue(
		step("a", "bash", "echo first\n", ""),
		step("b", "bash", "touch "+marker+"\necho second\n", "", `"skip_if":{"expr":"flow_input.skip"}`),
		step("c", "bash", "p=\"$1\"\necho \"got $p\"\n", js("p", "previous_result")),
	))
	_, final := f.run(hash, `{"skip":true}`)
	mustSucceed(t, final)
	b := rawModule(t, final, 1)
	if final.Result != `"got first"` || b["skipped"] != true || b["type"] != "Success" || f.job(b["job"].(string)).Kind != "identity" {
		t.Fatalf("skipped step: %s %v", final.Result, b)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the skipped step ran")
	}
	_, final = f.run(hash, `{"skip":false}`)
	if final.Result != `"got second"` || rawModule(t, final, 1)["skipped"] != false {
		t.Errorf("not skipped: %s", final.Result)
	}
}

// fakeClock records every wait and lets it pass at once.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// A failed step runs again as its retry says: constant attempts first,
// then exponential ones, multiplier * seconds^(attempt+1) apart
// (Windmill's Retry.interval); failed_retries lists the failed jobs.
func TestRetryTiming(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := newFixture(t, func(o *fixtureOpts) { o.clock = clock; o.waitInline = time.Hour })
	count := filepath.Join(t.TempDir(), "count")
	flaky := "echo x >> " + count + "\nif [ \"$(wc -l < " + count + ")\" -le \"$1\" ]; then echo failing; exit 1; fi\necho fine\n"
	hash := f.save("f/test/retry", flowValue(step("flaky", "bash", "fails=\"$1\"\n"+strings.ReplaceAll(flaky, "$1", "$fails"), js("fails", "flow_input.fails"),
		`"retry":{"constant":{"attempts":1,"seconds":3},"exponential":{"attempts":2,"multiplier":2,"seconds":3}}`)))
	_, final := f.run(hash, `{"fails":3}`)
	mustSucceed(t, final)
	if fmt.Sprint(clock.waits) != "[3s 18s 54s]" {
		t.Fatalf("waits between attempts: %v, want [3s 18s 54s]", clock.waits)
	}
	m := statusOf(t, final).Modules[0]
	if len(m.FailedRetries) != 3 || m.Type != Success || strings.Contains(final.FlowStatus, `"retry"`) {
		t.Errorf("status after the retries: %s", final.FlowStatus)
	}
	for _, id := range m.FailedRetries {
		if j := f.job(id); j.Status != store.StatusFailure {
			t.Errorf("failed attempt %s: %s", id, j.Status)
		}
	}

	// Exponential alone, every attempt failing: 2^1, 2^2, 2^3 seconds.
	clock.mu.Lock()
	clock.waits = nil
	clock.mu.Unlock()
	os.Remove(count)
	hash = f.save("f/test/retryexp", flowValue(step("flaky", "bash", "fails=\"$1\"\n"+strings.ReplaceAll(flaky, "$1", "$fails"), js("fails", "flow_input.fails"),
		`"retry":{"exponential":{"attempts":3,"multiplier":1,"seconds":2}}`)))
	_, final = f.run(hash, `{"fails":10}`)
	if final.Status != store.StatusFailure || fmt.Sprint(clock.waits) != "[2s 4s 8s]" {
		t.Fatalf("exponential retries: %s, waits %v", final.Status, clock.waits)
	}
	if m := statusOf(t, final).Modules[0]; len(m.FailedRetries) != 3 || m.Type != Failure {
		t.Errorf("status after the last attempt: %s", final.FlowStatus)
	}
}

// A step's timeout kills it and fails the step.
func TestStepTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	start := time.Now()
	_, final := f.run(f.save("f/test/timeout", flowValue(step("slow", "bash", "sleep 20\n", "", `"timeout":1`))), `{}`)
	if final.Status != store.StatusFailure || !strings.Contains(final.Result, "TimeoutError") || time.Since(start) > 10*time.Second {
		t.Fatalf("%s %s after %s", final.Status, final.Result, time.Since(start))
	}
}

// continue_on_error: the failed step's error is its result and the next
// step gets it.
func TestContinueOnError(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hash := f.save("f/test/cont", flowValue(
		step("a", "python3", "def main():\n    raise ValueError('bad input')\n", "", `"continue_on_error":true`),
		step("b", "python3", "def main(msg):\n    return 'handled: ' + msg\n", js("msg", "previous_result.error.message")),
	))
	_, final := f.run(hash, `{}`)
	mustSucceed(t, final)
	if final.Result != `"handled: bad input"` || statusOf(t, final).Modules[0].Type != Failure {
		t.Fatalf("%s %s", final.Result, final.FlowStatus)
	}
}

// cache_ttl: a step (or a flow) run again with the same arguments within
// it takes the cached result instead of running.
func TestCacheTTL(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	marker := filepath.Join(t.TempDir(), "runs")
	hash := f.save("f/test/cache", flowValue(step("slow", "bash", "x=\"$1\"\necho run >> "+marker+"\necho \"v$x\"\n", js("x", "flow_input.x"), `"cache_ttl":60`)))
	for _, x := range []string{"1", "1", "2"} {
		_, final := f.run(hash, `{"x":`+x+`}`)
		if final.Result != `"v`+x+`"` {
			t.Fatalf("x=%s: %s", x, final.Result)
		}
	}
	if b, _ := os.ReadFile(marker); string(b) != "run\nrun\n" {
		t.Fatalf("the step ran %q; the second x=1 run should take the cache", b)
	}
	flowMarker := filepath.Join(t.TempDir(), "flowruns")
	v := `{"cache_ttl":60,"modules":[` + step("a", "bash", "echo run >> "+flowMarker+"\necho done\n", "") + `]}`
	hash = f.save("f/test/flowcache", v)
	f.run(hash, `{"k":1}`)
	_, final := f.run(hash, `{"k":1}`)
	if b, _ := os.ReadFile(flowMarker); string(b) != "run\n" || final.Result != `"done"` {
		t.Errorf("flow cache_ttl: ran %q, result %s", b, final.Result)
	}
}

// The failure module gets the failed step's error (name, message,
// step_id); its result is the flow's, which fails unless it recovers.
func TestFailureModule(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	flow := func(recover bool) string {
		return `{"modules":[` + step("a", "bash", "echo ok\n", "") + `,` + step("b", "python3", "def main():\n    raise ValueError('boom')\n", "") + `,` +
			step("c", "bash", "echo never\n", "") + `],"failure_module":` +
			step("failure", "python3", fmt.Sprintf("def main(message, name, step_id, prev):\n    return {'handled': message, 'name': name, 'step': step_id, 'recover': %v, 'had_error': 'error' in prev}\n",
				map[bool]string{true: "True", false: "False"}[recover]),
				js("message", "error.message", "name", "error.name", "step_id", "error.step_id", "prev", "previous_result")) + `}`
	}
	_, final := f.run(f.save("f/test/onfail", flow(false)), `{}`)
	if final.Status != store.StatusFailure || compact(final.Result) != `{"had_error":true,"handled":"boom","name":"ValueError","recover":false,"step":"b"}` {
		t.Fatalf("failure module: %s %s", final.Status, final.Result)
	}
	fm := rawStatus(t, final)["failure_module"].(map[string]any)
	if fm["type"] != "Success" || fm["id"] != "failure" || fm["parent_module"] != "b" || fm["job"] == nil {
		t.Errorf("failure_module status: %v", fm)
	}
	if rawModule(t, final, 2)["type"] != "WaitingForPriorSteps" {
		t.Error("a step after the failure ran")
	}
	_, final = f.run(f.save("f/test/recover", flow(true)), `{}`)
	if final.Status != store.StatusSuccess {
		t.Errorf("a failure module returning recover: true: %s %s", final.Status, final.Result)
	}
}

// The preprocessor runs first with the flow's input as it came (as
// Windmill's event); its result is the input of the steps.
func TestPreprocessor(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hash := f.save("f/test/pre", `{"preprocessor_module":`+step("preprocessor", "python3", "def preprocessor(event):\n    return {'who': event['body']['name'].upper(), 'kind': event['kind']}\n", "")+
		`,"modules":[`+step("a", "bash", "w=\"$1\"\nk=\"$2\"\necho \"hi $w via $k\"\n", js("w", "flow_input.who", "k", "flow_input.kind"))+`]}`)
	_, final := f.run(hash, `{"name":"ann"}`)
	mustSucceed(t, final)
	if final.Result != `"hi ANN via webhook"` {
		t.Fatalf("result %s", final.Result)
	}
	if p := rawStatus(t, final)["preprocessor_module"].(map[string]any); p["type"] != "Success" || compact(final.Args) != `{"kind":"webhook","who":"ANN"}` {
		t.Errorf("preprocessor status %v, flow args %s", p, final.Args)
	}
}

// A mocked step does not run: its mock value is its result.
func TestMock(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	marker := filepath.Join(t.TempDir(), "ran")
	hash := f.save("f/test/mock", flowValue(step("a", "bash", "touch "+marker+"\necho real\n", "", `"mock":{"enabled":true,"return_value":{"pinned":1}}`)))
	_, final := f.run(hash, `{}`)
	if compact(final.Result) != `{"pinned":1}` {
		t.Fatalf("result %s", final.Result)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the mocked step ran")
	}
}

type fakeSecrets map[string]any

func (s fakeSecrets) Variable(_ context.Context, _, path string) (string, error) {
	if v, ok := s["var:"+path].(string); ok {
		return v, nil
	}
	return "", fmt.Errorf("variable %s not found", path)
}

func (s fakeSecrets) Resource(_ context.Context, _, path string) (any, error) {
	if v, ok := s["res:"+path]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("resource %s not found", path)
}

// Transforms see variable('path') and resource('path'), params (the
// step's arguments so far), and at step 0 the flow's input as
// previous_result; one that throws names the step, the argument and the
// expression.
func TestTransformHelpers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *fixtureOpts) {
		o.secrets = fakeSecrets{"var:u/me/token": "s3cret", "res:u/me/db": map[string]any{"host": "db.local", "port": 5432}}
	})
	hash := f.save("f/test/helpers", flowValue(step("a", "python3", "def main(tok, host, port, unit, label, first):\n    return [tok, host, port, label, first]\n",
		`{"unit":{"type":"static","value":"ms"},`+strings.TrimPrefix(js("tok", "variable('u/me/token')", "host", "resource('u/me/db').host",
			"port", "(await resource('u/me/db')).port", "label", "params.unit + '!'", "first", "previous_result.n"), "{"))))
	_, final := f.run(hash, `{"n":7}`)
	mustSucceed(t, final)
	if compact(final.Result) != `["s3cret","db.local",5432,"ms!",7]` {
		t.Fatalf("result %s", final.Result)
	}
	_, final = f.run(f.save("f/test/badvar", flowValue(step("a", "bash", "x=\"$1\"\necho \"$x\"\n", js("x", "variable('u/me/nope')")))), `{}`)
	if final.Status != store.StatusFailure || !strings.Contains(final.Result, `step a, input x (variable('u/me/nope')): Error: variable(\"u/me/nope\"): variable u/me/nope not found`) {
		t.Fatalf("a missing variable: %s", final.Result)
	}
}

// A sleep longer than WaitInline gives the worker back: the flow is
// queued again until it is due (another job runs meanwhile on the only
// worker), then goes on.
func TestSleepFreesTheWorker(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *fixtureOpts) { o.workers = 1; o.waitInline = 100 * time.Millisecond })
	hash := f.save("f/test/sleepy", flowValue(step("a", "bash", "echo a\n", "", `"sleep":{"type":"javascript","expr":"flow_input.secs"}`), step("b", "bash", "echo b\n", "")))
	start := time.Now()
	id := f.start(hash, `{"secs":1.5}`)
	waiting := f.waitFor(id, "the sleeping flow queued again", func(j *store.Job) bool {
		return j.Status == store.StatusQueued && strings.Contains(j.FlowStatus, `"WaitingForExecutor"`)
	})
	if waiting.StartedAt.IsZero() {
		t.Fatalf("the sleeping flow was queued again as never started: %+v", waiting)
	}
	b := statusOf(t, waiting).Modules[1]
	if b.Job == "" || parseTime(b.ScheduledFor).Sub(start) < time.Second {
		t.Errorf("the waiting step's status: %+v", b)
	}
	other := f.start(f.save("f/test/quick", flowValue(step("q", "bash", "echo q\n", ""))), `{}`)
	if q := f.wait(other); q.Status != store.StatusSuccess || !f.job(id).StartedAt.Equal(waiting.StartedAt) || f.job(id).Finished() {
		t.Fatalf("another flow while the first slept: %s", q.Status)
	}
	final := f.wait(id)
	mustSucceed(t, final)
	if final.Result != `"b"` || final.CompletedAt.Sub(start) < 1500*time.Millisecond || !strings.Contains(final.Logs, "the flow waits until") {
		t.Fatalf("after the sleep: %s after %s\n%s", final.Result, final.CompletedAt.Sub(start), final.Logs)
	}
	if bj := f.job(statusOf(t, final).Modules[1].Job); bj.Result != `"b"` {
		t.Errorf("step b's job is the one its status reserved: %+v", bj)
	}
}

// A flow with a concurrent_limit runs that many at once.
func TestConcurrentLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *fixtureOpts) { o.workers = 4 })
	log := filepath.Join(t.TempDir(), "log")
	hash := f.save("f/test/limited", `{"concurrent_limit":1,"modules":[`+step("a", "bash", "echo \"start $(date +%s%N)\" >> "+log+"\nsleep 0.3\necho \"end $(date +%s%N)\" >> "+log+"\n", "")+`]}`)
	ids := []string{f.start(hash, `{}`), f.start(hash, `{}`), f.start(hash, `{}`)}
	for _, id := range ids {
		mustSucceed(t, f.wait(id))
	}
	if got := concurrency(t, log); got != 1 {
		t.Fatalf("%d runs at once, want 1", got)
	}
}

// A stop_after_if on a step inside a loop breaks the loop (the flow goes
// on); inside a branchone it stops the flow; inside a flow run as a step
// it ends that flow only.
func TestStopInsideLoopsAndBranches(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	inner := step("each", "python3", "def main(n):\n    return n\n", js("n", "flow_input.iter.value"), `"stop_after_if":{"expr":"result >= 2","skip_if_stopped":false}`)
	hash := f.save("f/test/innerstop", flowValue(`{"id":"loop","value":{"type":"forloopflow","iterator":{"type":"static","value":[1,2,3,4]},"skip_failures":false,"modules":[`+inner+`]}}`,
		step("after", "bash", "echo after\n", "")))
	_, final := f.run(hash, `{}`)
	mustSucceed(t, final)
	if final.Result != `"after"` || len(rawModule(t, final, 0)["flow_jobs"].([]any)) != 2 {
		t.Fatalf("a stop inside a loop: %s %v", final.Result, rawModule(t, final, 0))
	}
	hash = f.save("f/test/branchstop", flowValue(`{"id":"b","value":{"type":"branchone","branches":[],"default":[`+
		step("d", "bash", "echo stop\n", "", `"stop_after_if":{"expr":"true","skip_if_stopped":true}`)+`]}}`, step("after", "bash", "echo after\n", "")))
	_, final = f.run(hash, `{}`)
	if final.Result != `"stop"` || statusOf(t, final).StoppedEarly == nil || rawModule(t, final, 1)["type"] != "WaitingForPriorSteps" {
		t.Fatalf("a stop inside a branch: %s %s", final.Result, final.FlowStatus)
	}
}
