package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/testkit"
)

// Approval steps end to end: the links a flow's suspended step makes,
// used by people without a token, through the tunnel's handler too.

// approvalFlow saves a flow whose step ask waits for required approvals
// and whose step act returns what it was given as resume (with the
// approvers).
func (f *fixture) approvalFlow(path, ask string, required, timeout int) {
	f.t.Helper()
	f.createFlow(path, `{"modules":[
		{"id":"ask","value":`+ask+`,"suspend":{"required_events":`+fmt.Sprint(required)+`,"timeout":`+fmt.Sprint(timeout)+`}},
		{"id":"act","value":`+raw("python3", "def main(r, who):\n    return {'resume': r, 'who': who}\n", `{"r":{"type":"javascript","expr":"resume"},"who":{"type":"javascript","expr":"approvers"}}`)+`}
	]}`)
}

// waitingStep polls until the flow run id waits for approvals and
// returns the suspended step's job id.
func (f *fixture) waitingStep(id string) string {
	f.t.Helper()
	var step string
	testkit.WaitUntil(f.t, "flow "+id+" to wait for an approval", 30*time.Second, func() bool {
		var view struct {
			Waits []struct {
				StepJob string `json:"step_job"`
			} `json:"waits"`
		}
		json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/millrun/jobs/"+id+"/approval", "", "").body), &view)
		if len(view.Waits) > 0 {
			step = view.Waits[0].StepJob
		}
		return step != ""
	})
	return step
}

type links struct {
	ApprovalPage string `json:"approvalPage"`
	Resume       string `json:"resume"`
	Cancel       string `json:"cancel"`
}

func (f *fixture) resumeURLs(job string, nonce int, query string) links {
	f.t.Helper()
	var l links
	r := f.mustDo(200, "GET", fmt.Sprintf("/api/w/local/jobs/resume_urls/%s/%d%s", job, nonce, query), "", "")
	if err := json.Unmarshal([]byte(r.body), &l); err != nil {
		f.t.Fatalf("resume_urls: %s", r.body)
	}
	return l
}

// anon calls a URL as anyone would: no token, no cookie.
func anon(t *testing.T, method, url, contentType, body string) (int, string) {
	t.Helper()
	r := testkit.Client{URL: url}.Do(t, method, "", contentType, body)
	return r.Status, r.Body
}

// A Python step makes its links with wmill.get_resume_urls() (its own
// WM_TOKEN asks for them) and returns them; a POST on the resume link,
// without a token, with a JSON body, resumes the flow and the body is
// the next step's resume. Changed links are refused; the used one, once
// the flow has moved on, is refused in words.
func TestApprovalLinksFromPython(t *testing.T) {
	t.Parallel()
	f := wmillFixture(t)
	f.approvalFlow("u/me/deploy", raw("python3", "import wmill\n\ndef main():\n    return wmill.get_resume_urls()\n", `{}`), 1, 600)
	id := f.do("POST", "/api/w/local/jobs/run/f/u/me/deploy", "application/json", `{}`).body
	step := f.waitingStep(id)
	var l links
	json.Unmarshal([]byte(mustJSON(f.waitJob(step)["result"])), &l)
	link := regexp.MustCompile(`^` + regexp.QuoteMeta(f.srv.URL) + `/api/w/local/jobs_u/(resume|cancel)/` + step + `/(\d+)/([0-9a-f]{64})$`)
	m := link.FindStringSubmatch(l.Resume)
	if m == nil || m[1] != "resume" || !link.MatchString(l.Cancel) || !strings.Contains(l.Cancel, "/cancel/") || l.ApprovalPage != f.srv.URL+"/#/runs/"+id {
		t.Fatalf("links: %+v", l)
	}
	rid, sig := m[2], m[3]
	flip := map[byte]byte{'0': '1'}
	forged := []byte(sig)
	if c, ok := flip[forged[0]]; ok {
		forged[0] = c
	} else {
		forged[0] = '0'
	}
	base := f.srv.URL + "/api/w/local/jobs_u/resume/"
	for what, u := range map[string]string{
		"a forged signature":      base + step + "/" + rid + "/" + string(forged),
		"another job's":           base + id + "/" + rid + "/" + sig,
		"another resume_id's":     base + step + "/1" + rid + "/" + sig,
		"an approver added":       l.Resume + "?approver=mallory",
		"a signature that is not": base + step + "/" + rid + "/zz",
		"the signature and more":  l.Resume + "00",
	} {
		if code, body := anon(t, "POST", u, "application/json", `{"ok":"forged"}`); code != 401 || body != "Not authorized: Invalid signature" {
			t.Errorf("%s: %d %s", what, code, body)
		}
	}
	if j := f.do("GET", "/api/w/local/jobs_u/get/"+id, "", "").body; !strings.Contains(j, `"QueuedJob"`) {
		t.Fatalf("a refused link moved the flow: %s", j)
	}
	code, body := anon(t, "POST", l.Resume, "application/json", `{"ok":true,"note":"ship it"}`)
	if code != 201 || body != "Approved by anonymous: step ask of flow u/me/deploy has 1 of 1 approvals; the flow goes on.\n" {
		t.Fatalf("resume: %d %q", code, body)
	}
	j := f.waitJob(id)
	if j["success"] != true || compactJSON(mustJSON(j["result"])) != `{"resume":{"note":"ship it","ok":true},"who":["anonymous"]}` {
		t.Fatalf("the flow after its approval: %v", j)
	}
	code, body = anon(t, "GET", l.Resume, "", "")
	// The run's end may not be on disk yet (jobs_u/get reads it from
	// memory): then the wait's end, which is, answers.
	if code != 409 || !strings.Contains(body, "the flow u/me/deploy (run "+id+") has ended (success): this link no longer does anything") &&
		!strings.Contains(body, "step ask's wait for approvals ended (approved) at") {
		t.Fatalf("the link used again: %d %s", code, body)
	}
	// The request log has each call, the signature redacted.
	var all string
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if all = mustJSON(f.requests("")); strings.Count(all, `"route":"approval link: resume"`) == 8 {
			break
		}
	}
	if strings.Contains(all, sig) || !strings.Contains(all, "/jobs_u/resume/"+step+"/"+rid+"/[redacted]") || !strings.Contains(all, "invalid signature") {
		t.Fatalf("the request log: %s", all)
	}
}

// A GET on a resume link with Windmill's ?payload= resumes; the cancel
// link ends the wait with a refusal naming the approver the link names;
// N approvals need N links.
func TestApprovalLinksGETCancelAndN(t *testing.T) {
	t.Parallel()
	f := setup(t, served)
	f.approvalFlow("u/me/two", raw("bash", "echo asking\n", `{}`), 2, 600)
	id := f.do("POST", "/api/w/local/jobs/run/f/u/me/two", "application/json", `{}`).body
	step := f.waitingStep(id)
	first, second := f.resumeURLs(step, 1, "?approver=ann"), f.resumeURLs(step, 2, "?approver=bo")
	if !strings.HasSuffix(first.Resume, "?approver=ann") {
		t.Fatalf("links: %+v", first)
	}
	payload := base64.StdEncoding.EncodeToString([]byte(`{"env":"prod"}`))
	code, body := anon(t, "GET", first.Resume+"&payload="+payload, "", "")
	if code != 201 || !strings.Contains(body, "Approved by ann: step ask of flow u/me/two has 1 of 2 approvals; it waits for 1 more") {
		t.Fatalf("first approval: %d %s", code, body)
	}
	var view struct {
		Waits []struct {
			Required, Approved int
			Until              string
			Answers            []struct{ Approver string }
		} `json:"waits"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/millrun/jobs/"+id+"/approval", "", "").body), &view)
		if len(view.Waits) == 1 && view.Waits[0].Approved == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if w := view.Waits; len(w) != 1 || w[0].Required != 2 || w[0].Approved != 1 || w[0].Answers[0].Approver != "ann" || w[0].Until == "" {
		t.Fatalf("the run page's view after one approval: %+v", view)
	}
	code, body = anon(t, "GET", second.Resume+"&choice=b", "", "")
	if code != 201 || !strings.Contains(body, "the flow goes on") {
		t.Fatalf("second approval: %d %s", code, body)
	}
	j := f.waitJob(id)
	if j["success"] != true || compactJSON(mustJSON(j["result"])) != `{"resume":{"choice":"b"},"who":["ann","bo"]}` {
		t.Fatalf("the flow after two approvals: %v", j)
	}

	// Cancel, by a link that names its approver.
	id = f.do("POST", "/api/w/local/jobs/run/f/u/me/two", "application/json", `{}`).body
	step = f.waitingStep(id)
	l := f.resumeURLs(step, 9, "?approver=cy")
	if code, body := anon(t, "GET", l.Cancel, "", ""); code != 201 || !strings.Contains(body, "Canceled by cy") {
		t.Fatalf("cancel: %d %s", code, body)
	}
	j = f.waitJob(id)
	if j["success"] != false || !strings.Contains(mustJSON(j["result"]), "Disapproved by cy") {
		t.Fatalf("a canceled flow: %v", j)
	}
}

// A wait ends at its timeout; a link used after it is refused, saying so.
func TestApprovalTimeout(t *testing.T) {
	t.Parallel()
	f := setup(t, served)
	f.approvalFlow("u/me/late", raw("bash", "echo asking\n", `{}`), 1, 1)
	id := f.do("POST", "/api/w/local/jobs/run/f/u/me/late", "application/json", `{}`).body
	l := f.resumeURLs(f.waitingStep(id), 5, "")
	j := f.waitJob(id)
	if j["success"] != false || !strings.Contains(mustJSON(j["result"]), "Timed out waiting to be resumed") {
		t.Fatalf("a timed out wait: %v", j)
	}
	// The run's end may not be on disk yet: the wait's end is.
	if code, body := anon(t, "POST", l.Resume, "", ""); code != 409 || !strings.Contains(body, "has ended (failure)") && !strings.Contains(body, "ended (timed out)") {
		t.Fatalf("a link after the timeout: %d %s", code, body)
	}
}

// The wait and its links outlive millrun: closed and opened again on the
// same data folder, the flow still waits and the link made before
// resumes it (its key comes from the data folder).
func TestApprovalAcrossARestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := setup(t, served, func(c *Config) { c.DataDir = dir })
	f.approvalFlow("u/me/overnight", raw("bash", "echo asking\n", `{}`), 1, 3600)
	id := f.do("POST", "/api/w/local/jobs/run/f/u/me/overnight", "application/json", `{}`).body
	l := f.resumeURLs(f.waitingStep(id), 77, "?approver=dee")
	f.srv.Close()
	if err := f.e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	g := setup(t, served, func(c *Config) { c.DataDir = dir })
	g.waitingStep(id)
	resume := g.srv.URL + l.Resume[len(f.srv.URL):] // the same link at the new address
	if code, body := anon(t, "POST", resume, "application/json", `"morning"`); code != 201 {
		t.Fatalf("resume after the restart: %d %s", code, body)
	}
	j := g.waitJob(id)
	if j["success"] != true || compactJSON(mustJSON(j["result"])) != `{"resume":"morning","who":["dee"]}` {
		t.Fatalf("the flow after the restart: %v", j)
	}
}

// The tunnel serves the links to anyone and refuses nothing of them it
// should not, but resume_urls (which signs) is not there at all; on the
// local handler it needs a full-access token.
func TestApprovalRoutesThroughTheTunnel(t *testing.T) {
	t.Parallel()
	f := setup(t, served)
	f.approvalFlow("u/me/remote", raw("bash", "echo asking\n", `{}`), 1, 600)
	id := f.do("POST", "/api/w/local/jobs/run/f/u/me/remote", "application/json", `{}`).body
	step := f.waitingStep(id)
	l := f.resumeURLs(step, 3, "")
	pub := httptest.NewServer(f.e.WebhookHandler())
	defer pub.Close()
	path := l.Resume[len(f.srv.URL):]
	if code, body := anon(t, "GET", pub.URL+"/api/w/local/jobs/resume_urls/"+step+"/4", "", ""); code != 404 {
		t.Errorf("resume_urls through the tunnel: %d %s", code, body)
	}
	if code, _ := anon(t, "GET", f.srv.URL+"/api/w/local/jobs/resume_urls/"+step+"/4", "", ""); code != 401 {
		t.Errorf("resume_urls without a token: %d", code)
	}
	scoped, err := f.e.CreateToken(t.Context(), "hook", []string{"jobs:run:flows:u/me/remote"}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if r := f.do("GET", "/api/w/local/jobs/resume_urls/"+step+"/4", "", "", "Authorization", "Bearer "+scoped); r.status != 401 {
		t.Errorf("resume_urls with a webhook-scoped token: %d %s", r.status, r.body)
	}
	if code, body := anon(t, "POST", pub.URL+strings.Replace(path, "/resume/", "/cancel/", 1)+"0", "", ""); code != 401 {
		t.Errorf("a bad cancel link through the tunnel: %d %s", code, body)
	}
	if code, body := anon(t, "POST", pub.URL+path, "application/json", `{"via":"tunnel"}`); code != 201 {
		t.Fatalf("resume through the tunnel: %d %s", code, body)
	}
	if j := f.waitJob(id); compactJSON(mustJSON(j["result"])) != `{"resume":{"via":"tunnel"},"who":["anonymous"]}` {
		t.Fatalf("the flow: %v", j)
	}
}

// The run page's Approve and Cancel (the owner's answers, by the
// management route), and Windmill's flow/resume.
func TestApprovalFromTheRunPage(t *testing.T) {
	t.Parallel()
	f := setup(t, served)
	f.approvalFlow("u/me/page", raw("bash", "echo asking\n", `{}`), 1, 600)
	id := f.do("POST", "/api/w/local/jobs/run/f/u/me/page", "application/json", `{}`).body
	step := f.waitingStep(id)
	r := f.mustDo(200, "POST", "/api/millrun/jobs/"+id+"/approval", "application/json", `{"approved":true,"step_job":"`+step+`","value":{"from":"page"}}`)
	if !strings.Contains(r.body, "the flow goes on") {
		t.Fatalf("approve: %s", r.body)
	}
	if j := f.waitJob(id); j["success"] != true || !strings.Contains(mustJSON(j["result"]), `"resume":{"from":"page"}`) {
		t.Fatalf("approved from the page: %v", j)
	}
	f.mustDo(409, "POST", "/api/millrun/jobs/"+id+"/approval", "application/json", `{"approved":true}`)

	id = f.do("POST", "/api/w/local/jobs/run/f/u/me/page", "application/json", `{}`).body
	f.waitingStep(id)
	f.mustDo(200, "POST", "/api/millrun/jobs/"+id+"/approval", "application/json", `{"approved":false}`)
	if j := f.waitJob(id); j["success"] != false || !strings.Contains(mustJSON(j["result"]), "Disapproved by") {
		t.Fatalf("canceled from the page: %v", j)
	}

	id = f.do("POST", "/api/w/local/jobs/run/f/u/me/page", "application/json", `{}`).body
	f.waitingStep(id)
	f.mustDo(201, "POST", "/api/w/local/jobs/flow/resume/"+id, "application/json", `{"by":"owner"}`)
	if j := f.waitJob(id); j["success"] != true || !strings.Contains(mustJSON(j["result"]), `"resume":{"by":"owner"}`) {
		t.Fatalf("Windmill's flow/resume: %v", j)
	}
	f.mustDo(404, "GET", "/api/millrun/jobs/00000000-0000-0000-0000-000000000000/approval", "", "")
}

// The built-in windmill-client's getResumeUrls, from a TypeScript step,
// gives links in Windmill's shape that resume the flow.
func TestApprovalLinksFromTypeScript(t *testing.T) {
	t.Parallel()
	f := setup(t, served) // npm's registry is a closed port: the built-in client
	f.approvalFlow("u/me/tsask", raw("bun", "import * as wmill from \"windmill-client\";\nexport async function main() {\n  return await wmill.getResumeUrls(\"ann\");\n}\n", `{}`), 1, 600)
	id := f.do("POST", "/api/w/local/jobs/run/f/u/me/tsask", "application/json", `{}`).body
	step := f.waitingStep(id)
	var l links
	json.Unmarshal([]byte(mustJSON(f.waitJob(step)["result"])), &l)
	if !strings.HasPrefix(l.Resume, f.srv.URL+"/api/w/local/jobs_u/resume/"+step+"/") || !strings.HasSuffix(l.Cancel, "?approver=ann") || l.ApprovalPage == "" {
		t.Fatalf("links: %+v", l)
	}
	if code, body := anon(t, "POST", l.Resume, "application/json", `{"ts":1}`); code != 201 {
		t.Fatalf("resume: %d %s", code, body)
	}
	if j := f.waitJob(id); compactJSON(mustJSON(j["result"])) != `{"resume":{"ts":1},"who":["ann"]}` {
		t.Fatalf("the flow: %v", j)
	}
}

// Approval links are rate-limited like webhooks: a run's links share a
// bucket, forged ones another, so a flood of forgeries does not hold up
// a real answer.
func TestApprovalLinksRateLimited(t *testing.T) {
	t.Parallel()
	f := setup(t, served)
	s := f.e.Settings()
	s.RateLimitPerSecond, s.RateLimitBurst = 0.1, 3
	if err := f.e.UpdateSettings(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	f.approvalFlow("u/me/busy", raw("bash", "echo asking\n", `{}`), 1, 600)
	id := f.do("POST", "/api/w/local/jobs/run/f/u/me/busy", "application/json", `{}`).body
	step := f.waitingStep(id)
	l := f.resumeURLs(step, 1, "")
	limited := 0
	for range 8 {
		code, _ := anon(t, "GET", l.Resume[:len(l.Resume)-1]+"x", "", "")
		if code == 429 {
			limited++
		}
	}
	if limited < 4 {
		t.Fatalf("only %d of 8 forged requests were limited (burst 3)", limited)
	}
	if code, body := anon(t, "GET", l.Resume, "", ""); code != 201 {
		t.Fatalf("a real answer after the flood: %d %s", code, body)
	}
	for range 3 {
		anon(t, "GET", l.Cancel, "", "") // refused: used; still counted
	}
	if code, _ := anon(t, "GET", l.Cancel, "", ""); code != 429 {
		t.Fatalf("the run's links past their burst: %d", code)
	}
}
