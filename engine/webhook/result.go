package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/millrun/millrun/engine/apierr"
)

// Shaped is the HTTP answer for a sync result.
type Shaped struct {
	Status      int
	ContentType string
	Header      http.Header
	Body        []byte
}

// ShapeResult applies Windmill's result shaping: a result object carrying
// windmill_status_code, windmill_content_type or windmill_headers sets the
// status, content type and headers, and its "result" becomes the body.
// Anything else is the body as JSON.
func ShapeResult(result json.RawMessage) (*Shaped, error) {
	if len(result) == 0 {
		result = json.RawMessage("null")
	}
	plain := &Shaped{Status: http.StatusOK, ContentType: "application/json", Body: result}
	trimmed := bytes.TrimSpace(result)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return plain, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return plain, nil
	}
	// wm_status_code and wm_content_type are Windmill's aliases (serde).
	code, hasCode := firstKey(obj, "windmill_status_code", "wm_status_code")
	ctype, hasType := firstKey(obj, "windmill_content_type", "wm_content_type")
	hdrs, hasHeaders := obj["windmill_headers"]
	if !hasCode && !hasType && !hasHeaders {
		return plain, nil
	}
	if hasCode && (len(code) == 0 || (code[0] != '-' && (code[0] < '0' || code[0] > '9'))) && string(code) != "null" {
		// Windmill's serde does not read a status that is not a JSON
		// number (such as "201"), so the object is not shaped at all.
		return plain, nil
	}
	if string(code) == "null" {
		hasCode = false
	}
	body, hasResult := obj["result"]
	s := &Shaped{Status: http.StatusOK, ContentType: "application/json", Header: http.Header{}}
	if !hasResult {
		s.Status = http.StatusNoContent
	}
	if hasCode {
		var n json.Number
		// Windmill's answer is these words alone; which code it was goes
		// in the hint.
		if err := json.Unmarshal(code, &n); err != nil {
			return nil, invalidStatus(string(code))
		}
		v, err := strconv.Atoi(n.String())
		if err != nil || v < 100 || v > 599 {
			return nil, invalidStatus(n.String())
		}
		s.Status = v
	}
	if hasHeaders && string(hdrs) != "null" {
		var hm map[string]json.RawMessage
		if err := json.Unmarshal(hdrs, &hm); err != nil {
			return nil, apierr.Internal("Invalid headers: windmill_headers must be an object of strings")
		}
		for k, raw := range hm {
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				v = string(raw)
			}
			if !validHeaderName(k) || !validHeaderValue(v) {
				return nil, apierr.Internal("Invalid header %q in windmill_headers", k)
			}
			s.Header.Set(k, v)
		}
	}
	if hasResult {
		s.Body = body
	}
	if hasType && string(ctype) != "null" {
		var ct string
		if err := json.Unmarshal(ctype, &ct); err != nil || !validHeaderValue(ct) {
			return nil, apierr.Internal("Invalid content type in windmill_content_type")
		}
		s.ContentType = ct
		// A JSON string is the body text itself, not a quoted JSON value.
		var str string
		if hasResult && json.Unmarshal(body, &str) == nil {
			s.Body = []byte(str)
		}
	}
	if s.Status == http.StatusNoContent || s.Status == http.StatusNotModified || s.Status < 200 {
		s.Body = nil
	}
	return s, nil
}

func firstKey(obj map[string]json.RawMessage, names ...string) (json.RawMessage, bool) {
	for _, n := range names {
		if v, ok := obj[n]; ok {
			return v, true
		}
	}
	return nil, false
}

// validHeaderName checks RFC 9110's token rule.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x7f || c <= ' ' || bytes.IndexByte([]byte(`"(),/:;<=>?@[\]{}`), c) >= 0 {
			return false
		}
	}
	return true
}

// validHeaderValue rejects control characters (CR and LF above all).
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func invalidStatus(code string) error {
	e := apierr.Bare(http.StatusInternalServerError, "Invalid status code")
	e.Hint = "windmill_status_code " + code + " is not an HTTP status (100 to 599)"
	return e
}
