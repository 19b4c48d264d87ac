package inspector

import "time"

// The inspector's answers; the frontend's types for them are generated
// from this file (make types). The fields are in the order of their JSON
// names, as the maps these were before wrote them.

// ReceivedRequest is a request as the inspector shows it: what it sent
// and what it got.
type ReceivedRequest struct {
	AuthOK        bool              `json:"auth_ok"`
	AuthReason    string            `json:"auth_reason"`
	Body          *string           `json:"body,omitempty"`        // one request's, when it is text
	BodyBase64    *string           `json:"body_base64,omitempty"` // one request's, when it is not text
	BodyTruncated bool              `json:"body_truncated"`
	BodyUnread    bool              `json:"body_unread"` // refused on its headers before its body was read: nothing to replay
	CallerIP      string            `json:"caller_ip"`
	DurationMS    int64             `json:"duration_ms"`
	Headers       map[string]string `json:"headers"`
	ID            int64             `json:"id"`
	JobID         string            `json:"job_id"`
	Method        string            `json:"method"`
	Note          string            `json:"note"` // answered by millrun itself (a handshake)
	ReceivedAt    time.Time         `json:"received_at"`
	ReplayOf      int64             `json:"replay_of,omitempty"`
	Response      *string           `json:"response,omitempty"` // the start of millrun's answer (in lists: for 400 and up)
	Route         string            `json:"route"`
	RunFailed     bool              `json:"run_failed"`
	Status        int               `json:"status"`
	URL           string            `json:"url"`
}

// ReplayResult is what a replayed request got.
type ReplayResult struct {
	Body   string `json:"body"` // the start of the answer
	JobID  string `json:"job_id"`
	Status int    `json:"status"`
}
