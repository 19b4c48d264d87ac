package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/audit"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/flows"
	"github.com/millrun/millrun/engine/folders"
	"github.com/millrun/millrun/engine/guard"
	"github.com/millrun/millrun/engine/jobs"
	"github.com/millrun/millrun/engine/kept"
	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/resources"
	"github.com/millrun/millrun/engine/runnable"
	"github.com/millrun/millrun/engine/schedules"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/testkit"
	"github.com/millrun/millrun/engine/triggers"
)

// echoExecutor finishes every job at once with its arguments as the
// result: the API's tests are about the API, not about running scripts.
// A job whose script path ends in "/gated" first reports it started and
// waits for the gate.
type echoExecutor struct {
	started chan struct{}
	gate    chan struct{}
}

func (e echoExecutor) Execute(_ context.Context, x *jobs.Execution) jobs.Outcome {
	if strings.HasSuffix(x.Job.ScriptPath, "/gated") {
		e.started <- struct{}{}
		<-e.gate
	}
	return jobs.Outcome{Result: json.RawMessage(x.Job.Args), Success: true}
}

type fixture struct {
	t      *testing.T
	dbPath string
	db     *store.DB
	exec   echoExecutor
	srv    *testkit.Server
	queue  *jobs.Queue
	as     *auth.Identity // who the requests act as
	events []string       // actions the server reported as changes
}

// newFixture serves the management routes on a real database, acting as
// the identity f.as (full access unless a test narrows it).
func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := resources.Open(db, dir)
	if err != nil {
		t.Fatal(err)
	}
	sc := scripts.NewCatalog(db)
	exec := echoExecutor{started: make(chan struct{}, 1), gate: make(chan struct{})}
	q := jobs.New(db, exec, jobs.Config{Workers: 1})
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	sched := schedules.New(schedules.Config{DB: db, Enqueue: func(context.Context, *store.Schedule, time.Time, string) error { return nil }})
	f := &fixture{t: t, exec: exec, dbPath: filepath.Join(dir, "millrun.db"), db: db, queue: q, as: &auth.Identity{Label: "test"}}
	tr := &triggers.Service{DB: db, Resources: res}
	if err := tr.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	fc := flows.NewCatalog(db, sc)
	rules := &schedules.Service{DB: db, Targets: runnable.Resolver{Scripts: sc, Flows: fc}, Queue: q, Scheduler: sched}
	changed := func(_ context.Context, actor, action, target, detail string, event map[string]any) {
		f.events = append(f.events, actor+":"+action+":"+target)
	}
	tokens := auth.New(db)
	tokens.Changed = changed
	items := &kept.Items{DB: db}
	s := &Server{Workspace: "local", Catalog: sc, Flows: fc, Queue: q, Tokens: tokens,
		Triggers: tr, Resources: res, Schedules: rules, User: "me", Kept: items, Audit: &audit.Log{DB: db},
		Folders: folders.New(db, sc, fc, res, items),
		MaxBody: func() int64 { return 1 << 20 },
		Changed: changed}
	mux := http.NewServeMux()
	s.RegisterPublic(mux)
	s.Register(management{mux}, inWorkspace{mux, func(h http.Handler) http.Handler { return h }})
	s.RegisterJobReads(mux)
	t.Cleanup(func() { // after the server's own cleanup: no request in flight
		q.Close(context.Background())
		db.Close()
	})
	// Requests carry no token: the identity comes from f.as.
	f.srv = testkit.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(reqctx.WithIdentity(r.Context(), f.as)))
	}), "")
	return f
}

// management and inWorkspace mount routes with the engine's route
// table's checks of the workspace and of full access (the fixture sets
// the identity itself, so there is no authentication).
type management struct{ mux *http.ServeMux }

func (m management) Scope(scope string) Mux { return inWorkspace{m.mux, guard.FullAccess(nil, scope)} }

type inWorkspace struct {
	mux    *http.ServeMux
	access func(http.Handler) http.Handler
}

func (m inWorkspace) Handle(pattern string, h http.Handler) {
	h = m.access(h)
	if strings.Contains(pattern, "/api/w/{ws}/") {
		h = guard.Workspace(nil, "local")(h)
	}
	m.mux.Handle(pattern, h)
}

func (m inWorkspace) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

func (f *fixture) do(method, path, body string) (int, string) {
	f.t.Helper()
	r := f.srv.API.Do(f.t, method, path, "application/json", body)
	return r.Status, r.Body
}

// Windmill's script lifecycle: create, read back, a new version must name
// the latest as its parent, the same content twice is refused in
// Windmill's words; each change is reported for the audit log.
func TestScriptLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	code, hash := f.do("POST", "/api/w/local/scripts/create", `{"path":"u/me/hi","language":"python3","content":"def main(name: str):\n    return name\n"}`)
	if code != 201 || len(hash) != 16 {
		t.Fatalf("create: %d %s", code, hash)
	}
	code, body := f.do("GET", "/api/w/local/scripts/get/p/u/me/hi", "")
	var got map[string]any
	json.Unmarshal([]byte(body), &got)
	if code != 200 || got["hash"] != hash || got["language"] != "python3" || !strings.Contains(body, `"name"`) {
		t.Fatalf("get: %d %s", code, body)
	}
	if code, body := f.do("POST", "/api/w/local/scripts/create", `{"path":"u/me/hi","language":"python3","content":"def main():\n    return 2\n"}`); code != 400 || !strings.Contains(body, "Path conflict for u/me/hi with non-archived hash "+hash) {
		t.Fatalf("a new version without its parent: %d %s", code, body)
	}
	if code, body := f.do("POST", "/api/w/local/scripts/create", `{"path":"u/me/hi","language":"python3","parent_hash":"`+hash+`","content":"def main():\n    return 2\n"}`); code != 201 || body == hash {
		t.Fatalf("a new version naming its parent: %d %s", code, body)
	}
	if code, body := f.do("GET", "/api/w/local/scripts/exists/p/u/me/hi", ""); code != 200 || body != "true" {
		t.Fatalf("exists: %d %q", code, body)
	}
	if strings.Join(f.events, ",") != "test:script.save:u/me/hi,test:script.save:u/me/hi" {
		t.Fatalf("reported changes: %v", f.events)
	}
}

// A secret variable's value is never listed or read back; only get_value
// gives it.
func TestSecretVariablesStaySecret(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if code, body := f.do("POST", "/api/w/local/variables/create", `{"path":"u/me/slack_token","value":"xoxb-secret","is_secret":true,"description":""}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	for _, path := range []string{"/api/w/local/variables/list", "/api/w/local/variables/get/u/me/slack_token"} {
		if code, body := f.do("GET", path, ""); code != 200 || strings.Contains(body, "xoxb-secret") {
			t.Fatalf("%s showed the secret: %d %s", path, code, body)
		}
	}
	if code, body := f.do("GET", "/api/w/local/variables/get_value/u/me/slack_token", ""); code != 200 || body != `"xoxb-secret"` {
		t.Fatalf("get_value: %d %q", code, body)
	}
}

// Jobs the queue ran read back in Windmill's shapes; a scoped token sees
// only its own.
func TestJobsAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	job := &store.Job{Workspace: "local", Kind: "script", ScriptPath: "u/me/echo", Language: "bash", Args: `{"x":1}`, TokenID: 1}
	if err := f.queue.Enqueue(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	id := job.ID
	var code int
	var body string
	testkit.WaitUntil(t, "the job to complete", 10*time.Second, func() bool {
		code, body = f.do("GET", "/api/w/local/jobs_u/completed/get_result_maybe/"+id, "")
		return strings.Contains(body, `"completed":true`)
	})
	if code != 200 || !strings.Contains(body, `"result":{"x":1}`) || !strings.Contains(body, `"success":true`) {
		t.Fatalf("result: %d %s", code, body)
	}
	if code, body := f.do("GET", "/api/w/local/jobs/completed/list", ""); code != 200 || !strings.Contains(body, id) {
		t.Fatalf("completed list: %d %s", code, body)
	}
	f.as = &auth.Identity{Label: "hook", TokenID: 99, Scopes: []string{auth.RunScope(auth.KindScript, "u/me/echo")}}
	if code, _ := f.do("GET", "/api/w/local/jobs_u/get/"+id, ""); code != 404 {
		t.Fatalf("a scoped token read another caller's job: %d", code)
	}
	if code, _ := f.do("GET", "/api/w/local/scripts/list", ""); code != 401 {
		t.Fatalf("a scoped token listed scripts: %d", code)
	}
}

// A job a caller has seen finish is in the completed list, even while its
// final write still waits for the database (here: another process holds
// the write lock, as a backup tool or a second reader might).
func TestFinishedJobIsListedAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	job := &store.Job{Workspace: "local", Kind: "script", ScriptPath: "u/me/gated", Language: "bash", Args: `{"x":2}`, TokenID: 1}
	if err := f.queue.Enqueue(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	ch := f.queue.Subscribe(job.ID) // before the gate opens, so the finish is not missed
	defer f.queue.Unsubscribe(job.ID, ch)
	<-f.exec.started // its running mark is committed
	release := testkit.HoldWriteLock(t, f.dbPath)
	close(f.exec.gate)
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not finish")
	}
	if code, body := f.do("GET", "/api/w/local/jobs_u/completed/get_result_maybe/"+job.ID, ""); !strings.Contains(body, `"completed":true`) {
		t.Fatalf("result: %d %s", code, body)
	}
	listed := make(chan string, 1)
	go func() {
		_, body := f.do("GET", "/api/w/local/jobs/completed/list", "")
		listed <- body
	}()
	time.Sleep(200 * time.Millisecond)
	release()
	if body := <-listed; !strings.Contains(body, job.ID) {
		t.Fatalf("a job seen finished is missing from the completed list: %s", body)
	}
}

// Another workspace's routes say which one this millrun serves.
func TestWrongWorkspaceIsNamed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if code, body := f.do("GET", "/api/w/prod/scripts/list", ""); code != 404 || !strings.Contains(body, "this millrun serves workspace local") {
		t.Fatalf("%d %s", code, body)
	}
	if code, body := f.do("GET", "/api/version", ""); code != 200 || !strings.HasPrefix(body, "millrun v") {
		t.Fatalf("version: %d %s", code, body)
	}
}

// Bodies are read one way: the size limit, an empty body, bad JSON, a
// wrong type and (for settings) a misspelt field each get a message that
// names the problem.
func TestBodyRules(t *testing.T) {
	t.Parallel()
	read := func(body string, rules bodyRules) error {
		var v struct {
			Workers int `json:"workers"`
		}
		return decodeJSON(httptest.NewRequest("POST", "/", strings.NewReader(body)), &v, rules)
	}
	for body, want := range map[string]string{
		strings.Repeat(" ", 100): "larger than the limit of 64 bytes",
		"":                       "the request body is empty",
		`{"workers": `:           "not valid JSON",
		`{"workers": "many"}`:    `field "workers" should be int, not string`,
		`{"workerz": 2}`:         `unknown field "workerz"`,
	} {
		if err := read(body, bodyRules{limit: 64, strict: true}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want %q, got %v", body, want, err)
		}
	}
	if err := read("", bodyRules{limit: 64, optional: true}); err != nil {
		t.Errorf("an optional empty body: %v", err)
	}
	if err := read(`{"workerz": 2}`, bodyRules{limit: 64}); err != nil {
		t.Errorf("an unknown field where fields are not strict: %v", err)
	}
}
