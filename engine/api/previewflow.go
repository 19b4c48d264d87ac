package api

import (
	"encoding/json"
	"net/http"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/flows"
	"github.com/millrun/millrun/engine/store"
)

// runFlowPreview runs a flow that is not saved (Windmill's FlowPreview
// body: value, args, path): a flowpreview job, 201 with its id. The draft
// is checked as a save would check it, so a mistake is a 400 now rather
// than a failed run.
func (s *Server) runFlowPreview(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Value json.RawMessage `json:"value"`
		Path  string          `json:"path"`
		Args  json.RawMessage `json:"args"`
		Tag   string          `json:"tag"`
		// RestartedFrom reruns a flow from one of its steps, reusing the
		// results of an earlier run: millrun does not keep those apart.
		RestartedFrom json.RawMessage `json:"restarted_from"`
	}
	if err := s.decodeBody(r, &body); err != nil {
		return err
	}
	if len(body.RestartedFrom) > 0 && string(body.RestartedFrom) != "null" {
		return apierr.BadRequest("millrun cannot restart a preview from a step (restarted_from): run the whole flow")
	}
	if len(body.Args) > 0 && string(body.Args) != "null" && body.Args[0] != '{' {
		return apierr.BadRequest("args must be a JSON object")
	}
	path := codePath(body.Path)
	draft, err := s.Flows.Draft(r.Context(), s.Workspace, path, body.Value)
	if err != nil {
		return err
	}
	job := newCodeJob(r, s.Workspace, flows.KindPreview, path, "", body.Args)
	if err := s.queueCode(r, job, store.JobCode{Language: FlowCode, Content: draft.Value}); err != nil {
		return err
	}
	writeText(w, http.StatusCreated, job.ID)
	return nil
}

// inferredSchema answers the schema millrun gives a flow saved without
// one ({"value": ...} in, the schema out). The editor compares it with a
// flow's own: a schema that is only the inferred one is left out when the
// flow is saved again, so the inputs follow the steps; any other (pushed
// by wmill, written by hand) is kept as it is.
func (s *Server) inferredSchema(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Value json.RawMessage `json:"value"`
		Path  string          `json:"path"`
	}
	if err := s.decodeBody(r, &body); err != nil {
		return err
	}
	draft, err := s.Flows.Draft(r.Context(), s.Workspace, codePath(body.Path), body.Value)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(draft.Schema))
	return nil
}
