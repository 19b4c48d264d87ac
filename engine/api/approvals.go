package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/millrun/millrun/engine/api/answers"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/flows"
	"github.com/millrun/millrun/engine/guard"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/inspector"
	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/tunnel"
	"github.com/millrun/millrun/engine/webhook"
)

// Approval links are Windmill's: a flow step with a suspend waits for
// answers, and GET or POST on
//
//	/api/w/{ws}/jobs_u/resume/{job_id}/{resume_id}/{signature}[?approver=]
//	/api/w/{ws}/jobs_u/cancel/{job_id}/{resume_id}/{signature}[?approver=]
//
// gives one. job_id is the suspended step's job, resume_id a nonce of the
// link's maker, and the signature Windmill's: hex HMAC-SHA256 of the job
// id's 16 bytes, resume_id as 4 big-endian bytes and the approver when
// the link names one, under a key of this installation and workspace
// (resources.Store.Subkey). So a link answers one wait of one run, once,
// as the approver it names; nobody without the key makes another. The
// links need no token (they are sent to people, through Slack or mail)
// and the tunnel serves them, like webhooks.

// RegisterApprovalLinks mounts the resume and cancel links: routes that
// check their own signature before reading a body.
func (s *Server) RegisterApprovalLinks(m Mux) {
	mux := s.group(m)
	for _, op := range []string{"resume", "cancel"} {
		h := s.approvalLink(op == "resume")
		mux.HandleFunc("GET /api/w/{ws}/jobs_u/"+op+"/{job}/{resume_id}/{signature}", h)
		mux.HandleFunc("POST /api/w/{ws}/jobs_u/"+op+"/{job}/{resume_id}/{signature}", h)
	}
}

func (s *Server) registerApprovals(mux routes) {
	mux.full("GET /api/w/{ws}/jobs/resume_urls/{job}/{resume_id}", "jobs:resume_urls", s.resumeURLs)
	// Windmill's resume as the flow's owner (its UI's "Resume" button).
	mux.full("POST /api/w/{ws}/jobs/flow/resume/{job}", "jobs:resume", s.resumeAsOwner)
	mux.full("GET /api/millrun/jobs/{job}/approval", "jobs:read", s.approvalState)
	mux.full("POST /api/millrun/jobs/{job}/approval", "jobs:resume", s.approvalAnswer)
}

// signature is Windmill's (create_signature in its jobs.rs).
func signature(key []byte, job uuid.UUID, resumeID uint32, approver *string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(job[:])
	mac.Write(binary.BigEndian.AppendUint32(nil, resumeID))
	if approver != nil {
		mac.Write([]byte(*approver))
	}
	return mac.Sum(nil)
}

// approverOf is the ?approver= of a link: nil when absent, which is not
// the same link as an empty one in Windmill's scheme (it signs "" too).
func approverOf(q url.Values) *string {
	if vs, ok := q["approver"]; ok && len(vs) > 0 {
		return &vs[0]
	}
	return nil
}

func parseLink(r *http.Request) (uuid.UUID, uint32, error) {
	id, err := uuid.Parse(r.PathValue("job"))
	if err != nil {
		return uuid.UUID{}, 0, apierr.BadRequest("%q is not a job id (a UUID)", r.PathValue("job"))
	}
	rid, err := strconv.ParseUint(r.PathValue("resume_id"), 10, 32)
	if err != nil {
		return uuid.UUID{}, 0, apierr.BadRequest("resume_id %q is not a number from 0 to 4294967295", r.PathValue("resume_id"))
	}
	return id, uint32(rid), nil
}

// limitKey gives each run's links a rate-limit bucket of their own,
// apart from tokens' (positive ids); links with a bad signature share
// one, so a flood of forgeries cannot slow a real answer.
func limitKey(what string) int64 {
	h := fnv.New64a()
	h.Write([]byte("approval link " + what))
	return -int64(h.Sum64() >> 1)
}

func (s *Server) approvalLink(approve bool) handlerFunc {
	route, verb := "approval link: resume", "resume"
	if !approve {
		route, verb = "approval link: cancel", "cancel"
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		if o := inspector.OutcomeOf(ctx); o != nil {
			// The signature is the link's credential: kept out of the
			// request log as tokens are.
			o.Path = strings.TrimSuffix(r.URL.Path, r.PathValue("signature")) + "[redacted]"
		}
		// The link's group leaves the workspace to it: a link naming
		// another one is refused only once its signature is redacted.
		if err := guard.CheckWorkspace(r, s.Workspace); err != nil {
			return err
		}
		job, rid, err := parseLink(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		approver := approverOf(q)
		// DecodeString returns what it decoded before a bad character: a
		// valid signature with anything after it must not pass.
		given, err := hex.DecodeString(r.PathValue("signature"))
		if err != nil {
			given = nil
		}
		replayed, _ := reqctx.IsReplay(ctx)
		if !replayed && !hmac.Equal(given, signature(s.ApprovalKey, job, rid, approver)) {
			inspector.ReportRoute(ctx, route, false, "invalid signature")
			if s.Limiter != nil {
				if ok, wait := s.Limiter.Allow(limitKey("forged")); !ok {
					return apierr.TooManyRequests(wait, "too many requests with invalid signatures; retry in %d s", wait)
				}
			}
			e := apierr.NotAuthorized("Invalid signature")
			e.Hint = "this link was not made by this millrun for this job, resume_id and approver (changed or mistyped?); ask for new links with wmill.get_resume_urls()"
			return e
		}
		inspector.ReportRoute(ctx, route, true, "signed link for job "+job.String())
		if s.Limiter != nil {
			if ok, wait := s.Limiter.Allow(limitKey(job.String())); !ok {
				return apierr.TooManyRequests(wait, "too many requests for this run's approval links; retry in %d s", wait)
			}
		}
		value, err := s.linkPayload(r, q)
		if err != nil {
			return err
		}
		name := "anonymous"
		if approver != nil && *approver != "" {
			name = *approver
		}
		ans, err := s.answer(ctx, job.String(), flows.Resume{ResumeID: int(rid), Approver: name, Approved: approve, Value: value})
		if err != nil {
			return err
		}
		writeText(w, http.StatusCreated, answeredText(verb, name, ans))
		return nil
	}
}

// answer records an answer and wakes the flow it is for.
func (s *Server) answer(ctx context.Context, jobID string, r flows.Resume) (*flows.Answered, error) {
	ans, err := s.Flows.Answer(ctx, s.Workspace, jobID, r)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apierr.NotFound("%s", err)
	}
	if err != nil {
		return nil, err
	}
	s.Queue.Wake(ans.FlowJob)
	return ans, nil
}

// answeredText tells whoever used a link what it did, in words (a
// person who clicked it reads this page).
func answeredText(verb, name string, a *flows.Answered) string {
	if verb == "cancel" {
		return fmt.Sprintf("Canceled by %s: flow %s stops waiting at step %s.\n", name, a.FlowPath, a.Step)
	}
	n := 0
	for _, r := range a.Resumes {
		if r.Approved {
			n++
		}
	}
	if n >= a.Required {
		return fmt.Sprintf("Approved by %s: step %s of flow %s has %d of %d approvals; the flow goes on.\n", name, a.Step, a.FlowPath, n, a.Required)
	}
	return fmt.Sprintf("Approved by %s: step %s of flow %s has %d of %d approvals; it waits for %d more.\n", name, a.Step, a.FlowPath, n, a.Required, a.Required-n)
}

// linkPayload is the answer's value, the next step's resume: on GET
// Windmill's ?payload= (base64 of JSON), else the link's other query
// arguments as an object (a link can carry a choice: ...&choice=b),
// else null; on POST the JSON body (a form's fields as an object), an
// empty body null.
func (s *Server) linkPayload(r *http.Request, q url.Values) (json.RawMessage, error) {
	if r.Method == http.MethodGet {
		if p := q.Get("payload"); p != "" {
			norm := strings.NewReplacer("-", "+", "_", "/").Replace(strings.TrimRight(strings.TrimSpace(p), "="))
			raw, err := base64.RawStdEncoding.DecodeString(norm)
			if err != nil || !json.Valid(raw) {
				return nil, apierr.BadRequest("payload must be base64 of JSON, e.g. encodeURIComponent(btoa(JSON.stringify({ok: true})))")
			}
			return compactJSON(raw), nil
		}
		args := map[string]string{}
		for k, vs := range q {
			if k != "approver" && k != "token" && k != "flow_level" && len(vs) > 0 {
				args[k] = vs[0]
			}
		}
		if len(args) == 0 {
			return json.RawMessage("null"), nil
		}
		b, _ := json.Marshal(args)
		return b, nil
	}
	body, err := webhook.ReadBody(r, s.maxBody())
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return json.RawMessage("null"), nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "", "application/json":
		if !json.Valid(body) {
			return nil, apierr.BadRequest("the body is not JSON: send the value the next step gets as resume, e.g. {\"ok\": true}")
		}
		return compactJSON(body), nil // a copy: the body's buffer goes back to the budget
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, apierr.BadRequest("the form body does not parse: %s", err)
		}
		args := map[string]string{}
		for k, vs := range form {
			args[k] = vs[0]
		}
		b, _ := json.Marshal(args)
		return b, nil
	}
	return nil, apierr.UnsupportedMediaType("send the resume value as application/json (or a form)")
}

func compactJSON(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return append(json.RawMessage(nil), b...)
	}
	return buf.Bytes()
}

// resumeURLs makes a step's links (wmill.get_resume_urls() calls it with
// the step's WM_JOB_ID). They name the tunnel's address when it is
// online, for the people they are sent to; else this millrun's.
func (s *Server) resumeURLs(w http.ResponseWriter, r *http.Request) error {
	job, rid, err := parseLink(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	j, err := s.Queue.Get(r.Context(), s.Workspace, job.String())
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("job %s", job)
	}
	if err != nil {
		return err
	}
	if q.Get("flow_level") == "true" && j.ParentJob != "" {
		// Windmill's flow-level links name the flow: they answer
		// whichever step of it waits.
		if job, err = uuid.Parse(j.ParentJob); err != nil {
			return err
		}
	}
	approver := approverOf(q)
	sig := hex.EncodeToString(signature(s.ApprovalKey, job, rid, approver))
	query := ""
	if approver != nil {
		query = "?approver=" + url.QueryEscape(*approver)
	}
	link := func(op string) string {
		return fmt.Sprintf("%s/api/w/%s/jobs_u/%s/%s/%d/%s%s", s.publicRoot(), s.Workspace, op, job, rid, sig, query)
	}
	// Windmill's approval page is its UI's; millrun's is the run's page,
	// where the Approve and Cancel buttons are (on this machine only).
	root := j.ID
	if chain, err := s.rootOf(r.Context(), j); err == nil {
		root = chain
	}
	httpx.JSON(w, http.StatusOK, answers.ResumeURLs{ApprovalPage: s.RootURL + "/#/runs/" + root, Resume: link("resume"), Cancel: link("cancel")})
	return nil
}

func (s *Server) rootOf(ctx context.Context, j *store.Job) (string, error) {
	for range 64 {
		if j.ParentJob == "" {
			return j.ID, nil
		}
		var err error
		if j, err = s.Queue.Get(ctx, s.Workspace, j.ParentJob); err != nil {
			return "", err
		}
	}
	return "", errors.New("flow jobs nest too deep")
}

// publicRoot is where people reach this millrun's links: the tunnel's
// address while it is online, else this millrun's own.
func (s *Server) publicRoot() string {
	if s.Tunnel != nil {
		if st := s.Tunnel.Status(); st.State == tunnel.Online && st.URL != "" {
			return strings.TrimSuffix(st.URL, "/")
		}
	}
	return s.RootURL
}

func newResumeID() int {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return int(binary.BigEndian.Uint32(b[:]))
}

// resumeAsOwner is Windmill's flow/resume: the owner approves the flow's
// open wait, the body its resume value.
func (s *Server) resumeAsOwner(w http.ResponseWriter, r *http.Request) error {
	body, err := webhook.ReadBody(r, s.maxBody())
	if err != nil {
		return err
	}
	value := json.RawMessage("null")
	if len(bytes.TrimSpace(body)) > 0 {
		if !json.Valid(body) {
			return apierr.BadRequest("the body is not JSON: send the value the next step gets as resume")
		}
		value = compactJSON(body)
	}
	ans, err := s.Flows.AnswerWait(r.Context(), s.Workspace, r.PathValue("job"), "",
		flows.Resume{ResumeID: newResumeID(), Approver: s.User, Approved: true, Value: value})
	if errors.Is(err, store.ErrNotFound) {
		err = apierr.NotFound("job %s", r.PathValue("job"))
	}
	if err != nil {
		return err
	}
	s.Queue.Wake(ans.FlowJob)
	w.WriteHeader(http.StatusCreated)
	return nil
}

// approvalState is the run page's view of a flow's open waits.
func (s *Server) approvalState(w http.ResponseWriter, r *http.Request) error {
	waits, err := s.Flows.Waits(r.Context(), s.Workspace, r.PathValue("job"))
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("job %s", r.PathValue("job"))
	}
	if err != nil {
		return err
	}
	out := answers.ApprovalWaits{Waits: []answers.ApprovalWait{}}
	for _, wt := range waits {
		v := answers.ApprovalWait{Step: wt.Step, StepJob: wt.StepJob, FrameJob: wt.FrameJob, Required: wt.Required,
			Until: wt.Until.UTC().Format(time.RFC3339), Answers: []answers.ApprovalAnswer{}}
		for _, a := range wt.Resumes {
			if a.Approved {
				v.Approved++
			}
			v.Answers = append(v.Answers, answers.ApprovalAnswer{Approver: a.Approver, Approved: a.Approved, At: a.At.UTC().Format(time.RFC3339)})
		}
		out.Waits = append(out.Waits, v)
	}
	httpx.JSON(w, http.StatusOK, out)
	return nil
}

// approvalAnswer is the run page's Approve or Cancel: the owner's answer
// to one open wait (step_job, from approvalState), or to the first.
func (s *Server) approvalAnswer(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Approved bool            `json:"approved"`
		StepJob  string          `json:"step_job"`
		Value    json.RawMessage `json:"value"`
	}
	if err := s.decodeBody(r, &req); err != nil {
		return err
	}
	value := req.Value
	if len(value) == 0 {
		value = json.RawMessage("null")
	}
	ans, err := s.Flows.AnswerWait(r.Context(), s.Workspace, r.PathValue("job"), req.StepJob,
		flows.Resume{ResumeID: newResumeID(), Approver: s.User, Approved: req.Approved, Value: value})
	if errors.Is(err, store.ErrNotFound) {
		err = apierr.NotFound("job %s", r.PathValue("job"))
	}
	if err != nil {
		return err
	}
	s.Queue.Wake(ans.FlowJob)
	verb := "resume"
	if !req.Approved {
		verb = "cancel"
	}
	writeText(w, http.StatusOK, answeredText(verb, s.User, ans))
	return nil
}
