package flows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/millrun/millrun/engine/store"
)

// ErrNotWaiting is AddResume's answer for a flow that waits for no
// approval (it never did, it timed out, or it goes on already).
var ErrNotWaiting = errors.New("the flow is not waiting for an approval")

// AddResume records an answer (an approval or a refusal, with its
// payload) to a flow waiting for approvals after a suspended step. The
// flow waits queued, its worker free, its progress on disk: the answer
// joins that progress, so it holds across restarts, and the flow reads it
// when it runs again (wake it: jobs.Queue.Wake). The write lands only on
// the status it was read from; a flow that moved meanwhile is asked again.
func AddResume(ctx context.Context, db *store.DB, workspace, flowID string, r Resume) error {
	for range 5 {
		j, err := db.GetJob(ctx, workspace, flowID)
		if err != nil {
			return err
		}
		if j.Status != store.StatusQueued || j.FlowStatus == "" {
			return ErrNotWaiting
		}
		var s Status
		if err := json.Unmarshal([]byte(j.FlowStatus), &s); err != nil {
			return fmt.Errorf("flow %s's status: %w", flowID, err)
		}
		i := s.Step
		if i < 0 || i >= len(s.Modules) || s.Modules[i].Type != WaitingForEvents {
			return ErrNotWaiting
		}
		if len(r.Value) == 0 {
			r.Value = json.RawMessage("null")
		}
		s.Modules[i].Resumes = append(s.Modules[i].Resumes, r)
		next, _ := json.Marshal(&s)
		ok, err := db.SwapFlowStatus(ctx, flowID, j.FlowStatus, string(next))
		if err != nil || ok {
			return err
		}
	}
	return fmt.Errorf("flow %s kept changing while an answer was recorded", flowID)
}
