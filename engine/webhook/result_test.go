package webhook

import (
	"strings"
	"testing"
)

func TestShapeResult(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, result string
		status       int
		ctype, body  string
		header       string
		err          string
	}{
		{name: "plain", result: `{"a":1}`, status: 200, ctype: "application/json", body: `{"a":1}`},
		{name: "string", result: `"hi"`, status: 200, ctype: "application/json", body: `"hi"`},
		{name: "status", result: `{"windmill_status_code":201,"result":{"ok":true}}`, status: 201, ctype: "application/json", body: `{"ok":true}`},
		{name: "no result", result: `{"windmill_status_code":202}`, status: 202, body: ``},
		{name: "headers only no result", result: `{"windmill_headers":{"X-A":"1"}}`, status: 204, body: ``, header: "1"},
		{name: "content type string unquoted", result: `{"windmill_content_type":"text/html","result":"<b>x</b>"}`, status: 200, ctype: "text/html", body: `<b>x</b>`},
		{name: "content type object as json", result: `{"windmill_content_type":"application/vnd+json","result":{"a":1}}`, status: 200, ctype: "application/vnd+json", body: `{"a":1}`},
		{name: "extra keys dropped", result: `{"windmill_status_code":200,"result":1,"other":2}`, status: 200, ctype: "application/json", body: `1`},
		{name: "invalid status", result: `{"windmill_status_code":99,"result":1}`, err: "Invalid status code"},
		// Windmill's serde reads a status that is not a JSON number as no
		// shaping at all: the whole object is the answer.
		{name: "status as a string is not shaped", result: `{"windmill_status_code":"201","result":1}`, status: 200, ctype: "application/json", body: `{"windmill_status_code":"201","result":1}`},
		{name: "wm_status_code alias", result: `{"wm_status_code":201,"result":{"ok":true}}`, status: 201, ctype: "application/json", body: `{"ok":true}`},
		{name: "wm_content_type alias", result: `{"wm_content_type":"text/plain","result":"hi"}`, status: 200, ctype: "text/plain", body: `hi`},
		{name: "bad header name", result: `{"windmill_headers":{"Bad Name":"x"},"result":1}`, err: "Invalid header"},
		{name: "bad header value", result: `{"windmill_headers":{"X-A":"a\r\nb"},"result":1}`, err: "Invalid header"},
	}
	for _, c := range cases {
		s, err := ShapeResult([]byte(c.result))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if s.Status != c.status || string(s.Body) != c.body || (c.ctype != "" && s.ContentType != c.ctype) {
			t.Errorf("%s: got %d %q %q", c.name, s.Status, s.ContentType, s.Body)
		}
		if c.header != "" && s.Header.Get("X-A") != c.header {
			t.Errorf("%s: header %q", c.name, s.Header.Get("X-A"))
		}
	}
}
