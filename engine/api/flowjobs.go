package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/millrun/millrun/engine/store"
)

// Flow steps in job lists and logs, Windmill's way, so `wmill job list
// --parent` and `--all` and `wmill job logs` read them.

// flowStepFilters reads Windmill's list filters for flow steps:
// parent_job (one flow's children), is_flow_step, has_null_parent (top
// level only) and job_kinds. Given job kinds without has_null_parent,
// Windmill lists steps too (`wmill job list --all`); with neither, the
// Runs page's list, they stay hidden unless include_flow_steps.
func flowStepFilters(q url.Values, f *store.JobFilter) {
	f.ParentJob = q.Get("parent_job")
	if v := q.Get("job_kinds"); v != "" {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				f.Kinds = append(f.Kinds, k)
			}
		}
		f.WithFlowSteps = true
	}
	switch q.Get("is_flow_step") {
	case "true":
		f.OnlyFlowSteps = true
	case "false":
		f.WithFlowSteps = false
	}
	if q.Get("has_null_parent") == "true" {
		f.WithFlowSteps, f.OnlyFlowSteps = false, false
	}
}

// skippedFlow is Windmill's is_skipped: a flow a stop predicate with
// skip_if_stopped (or its skip_expr) ended.
func skippedFlow(j *store.Job) bool {
	if j.FlowStatus == "" || !strings.Contains(j.FlowStatus, `"stopped_early"`) {
		return false
	}
	var fs struct {
		StoppedEarly *struct {
			Skipped bool `json:"skipped"`
		} `json:"stopped_early"`
	}
	return json.Unmarshal([]byte(j.FlowStatus), &fs) == nil && fs.StoppedEarly != nil && fs.StoppedEarly.Skipped
}

// flowLike is a job whose steps are jobs: a flow, a loop iteration or a
// branch.
func flowLike(j *store.Job) bool {
	return j.Kind == "flow" || j.Kind == "flownode" || j.Kind == "flowpreview"
}

// getLogs is jobs_u/get_logs/{id}: a job's log as text. A flow's is its
// steps' logs, each under the header `wmill job logs` prints
// ("====== <step> ======", "====== <step> (iteration N) ======"), loops
// and branches included.
func (s *Server) getLogs(w http.ResponseWriter, r *http.Request) error {
	job, err := s.loadJob(r)
	if err != nil {
		return err
	}
	text := job.Logs
	if flowLike(job) && job.FlowStatus != "" {
		var b strings.Builder
		s.flowLogs(r.Context(), &b, job, 0)
		text = b.String()
	}
	writeText(w, http.StatusOK, text)
	return nil
}

// maxFlowLogs bounds what one get_logs answer gathers from a flow's
// steps (a loop of thousands of iterations).
const maxFlowLogs = 8 << 20

func (s *Server) flowLogs(ctx context.Context, b *strings.Builder, flow *store.Job, depth int) {
	var fs struct {
		Modules []struct {
			ID       string   `json:"id"`
			Job      string   `json:"job"`
			FlowJobs []string `json:"flow_jobs"`
		} `json:"modules"`
		FailureModule struct {
			ID  string `json:"id"`
			Job string `json:"job"`
		} `json:"failure_module"`
	}
	if json.Unmarshal([]byte(flow.FlowStatus), &fs) != nil || depth > 10 {
		return
	}
	step := func(label, id string) {
		if id == "" || b.Len() > maxFlowLogs {
			return
		}
		j, err := s.Queue.Get(ctx, flow.Workspace, id)
		if err != nil {
			return
		}
		fmt.Fprintf(b, "\n====== %s ======\n", label)
		if flowLike(j) && j.FlowStatus != "" {
			s.flowLogs(ctx, b, j, depth+1)
			return
		}
		b.WriteString(j.Logs)
	}
	for _, m := range fs.Modules {
		if len(m.FlowJobs) > 0 {
			for i, id := range m.FlowJobs {
				step(fmt.Sprintf("%s (iteration %d)", m.ID, i), id)
			}
			continue
		}
		step(m.ID, m.Job)
	}
	if fs.FailureModule.Job != "" {
		step(fs.FailureModule.ID, fs.FailureModule.Job)
	}
}
