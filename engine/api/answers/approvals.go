package answers

// ApprovalWaits is the run page's view of a flow's open waits for
// approval.
type ApprovalWaits struct {
	Waits []ApprovalWait `json:"waits"`
}

// ApprovalWait is one step waiting for approvals. It was a struct
// before answers were typed: its fields keep the order they were written
// in (unsorted: see the package's order test).
type ApprovalWait struct {
	Step     string           `json:"step"`
	StepJob  string           `json:"step_job"`  // the job to answer
	FrameJob string           `json:"frame_job"` // the flow (or loop iteration) it waits in
	Required int              `json:"required"`  // approvals needed
	Approved int              `json:"approved"`  // approvals so far
	Until    string           `json:"until"`     // when the wait times out, RFC 3339
	Answers  []ApprovalAnswer `json:"answers"`
}

// ApprovalAnswer is one answer to a wait, in the order given.
type ApprovalAnswer struct {
	Approver string `json:"approver"`
	Approved bool   `json:"approved"`
	At       string `json:"at"`
}

// ResumeURLs is Windmill's answer to resume_urls: the links that answer a
// step's wait (wmill.get_resume_urls()). A struct before answers were
// typed: its fields keep their order.
type ResumeURLs struct {
	ApprovalPage string `json:"approvalPage"`
	Resume       string `json:"resume"`
	Cancel       string `json:"cancel"`
}
