package webhook

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/millrun/millrun/engine/apierr"
)

func argsString(a Args) string {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+string(a[k]))
	}
	return strings.Join(parts, " ")
}

func TestBuildArgs(t *testing.T) {
	t.Parallel()
	b64 := base64.StdEncoding.EncodeToString([]byte(`{"a":"x?>"}`))
	urlsafe := strings.TrimRight(base64.URLEncoding.EncodeToString([]byte(`{"a":"x?>"}`)), "=")
	cases := []struct {
		name, method, ctype, body, query string
		headers                          map[string]string
		global                           []string
		want                             string
		status                           int
		errContains                      string
	}{
		{name: "json object", ctype: "application/json", body: `{"a":1,"b":"x"}`, want: `a=1 b="x"`},
		{name: "no content type, json", body: `{"a":1}`, want: `a=1`},
		{name: "empty, no type", want: ``},
		{name: "empty json", ctype: "application/json", status: 400, errContains: "empty"},
		{name: "array wraps", ctype: "application/json", body: `[1,2]`, want: `body=[1,2]`},
		{name: "string wraps", ctype: "application/json", body: `"hi"`, want: `body="hi"`},
		{name: "leading space wraps", ctype: "application/json", body: ` {"a":1}`, want: `body={"a":1}`},
		{name: "wrap_body", ctype: "application/json", body: `{"a":1}`, query: "wrap_body=true", want: `body={"a":1}`},
		{name: "charset param", ctype: "application/json; charset=utf-8", body: `{"a":1}`, want: `a=1`},
		{name: "bad json", ctype: "application/json", body: `{"a":}`, status: 400, errContains: "not valid JSON"},
		{name: "form (slack)", ctype: "application/x-www-form-urlencoded", body: "command=%2Fdeploy&text=prod+now&user_name=ann", want: `command="/deploy" text="prod now" user_name="ann"`},
		{name: "text plain", ctype: "text/plain", body: "hello", want: `raw_string="hello"`},
		{name: "xml", ctype: "application/xml", body: "<a/>", want: `raw_string="<a/>"`},
		{name: "text xml", ctype: "text/xml", body: "<a/>", want: `raw_string="<a/>"`},
		{name: "cloudevent", ctype: "application/cloudevents+json", body: `{"specversion":"1.0","type":"t","source":"s","id":"1","data":{"x":1}}`,
			want: `WEBHOOK__METADATA__={"id":"1","source":"s","specversion":"1.0","type":"t"} x=1`},
		{name: "cloudevent scalar data", ctype: "application/cloudevents+json", body: `{"specversion":"1.0","id":"1","data":5}`,
			want: `WEBHOOK__METADATA__={"id":"1","specversion":"1.0"} body=5`},
		{name: "cloudevent bad", ctype: "application/cloudevents+json", body: `nope`, status: 400},
		{name: "cloudevent batch", ctype: "application/cloudevents-batch+json", body: `[]`, status: 400, errContains: "Bad request: Cloud events batching is not supported yet"},
		{name: "multipart", ctype: "multipart/form-data; boundary=x", body: "--x--", status: 415},
		{name: "other type", ctype: "image/png", body: "x", status: 415},
		{name: "raw", ctype: "application/json", body: `{"a":1}`, query: "raw=true", want: `a=1 raw_string="{\"a\":1}"`},
		{name: "include header wins", ctype: "application/json", body: `{"x_sig":"body"}`, query: "include_header=X-Sig", headers: map[string]string{"x-sig": "hdr"}, want: `x_sig="hdr"`},
		{name: "global headers", ctype: "application/json", body: `{}`, global: []string{"X-Trace-Id"}, headers: map[string]string{"X-Trace-Id": "t1"}, want: `x_trace_id="t1"`},
		{name: "include query", ctype: "application/json", body: `{"q":"body"}`, query: "include_query=q,missing&q=query", want: `q="query"`},
		{name: "get payload std", method: "GET", query: "payload=" + url.QueryEscape(b64), want: `a="x?>"`},
		{name: "get payload urlsafe unpadded", method: "GET", query: "payload=" + urlsafe, want: `a="x?>"`},
		{name: "get no payload", method: "GET", want: ``},
		{name: "get payload not base64", method: "GET", query: "payload=!!!", status: 400, errContains: "not base64"},
		{name: "get payload not object", method: "GET", query: "payload=" + base64.StdEncoding.EncodeToString([]byte(`[1]`)), status: 400, errContains: "not an object"},
		{name: "get payload not json", method: "GET", query: "payload=" + base64.StdEncoding.EncodeToString([]byte(`{x`)), status: 400, errContains: "does not decode to JSON"},
	}
	for _, c := range cases {
		method := c.method
		if method == "" {
			method = http.MethodPost
		}
		q, _ := url.ParseQuery(c.query)
		h := http.Header{}
		for k, v := range c.headers {
			h.Set(k, v)
		}
		args, err := BuildArgs(ArgsInput{Method: method, ContentType: c.ctype, Body: []byte(c.body), Header: h, Query: q, IncludeHeaders: c.global})
		if c.status != 0 {
			e, ok := err.(*apierr.Error)
			if !ok || e.Status != c.status || !strings.Contains(e.Error(), c.errContains) {
				t.Errorf("%s: error %v, want %d containing %q", c.name, err, c.status, c.errContains)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := argsString(args); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

func FuzzBuildArgs(f *testing.F) {
	f.Add("POST", "application/json", []byte(`{"a":1}`), "raw=true&include_header=x-a", "x-a", "1")
	f.Add("GET", "", []byte{}, "payload=eyJhIjoxfQ", "", "")
	f.Add("POST", "application/cloudevents+json", []byte(`{"data":[1]}`), "", "", "")
	f.Add("POST", "application/x-www-form-urlencoded", []byte(`a=1&b=%zz`), "wrap_body=true", "", "")
	f.Fuzz(func(t *testing.T, method, ctype string, body []byte, query, hname, hval string) {
		q, _ := url.ParseQuery(query)
		h := http.Header{}
		h.Set(hname, hval)
		args, err := BuildArgs(ArgsInput{Method: method, ContentType: ctype, Body: body, Header: h, Query: q})
		if err != nil {
			if _, ok := err.(*apierr.Error); !ok {
				t.Fatalf("error is not an HTTP error: %v", err)
			}
			return
		}
		if _, err := json.Marshal(args); err != nil {
			t.Fatalf("args do not marshal: %v", err)
		}
	})
}

// Arguments never point into the body: it is a buffer the body budget
// reuses for the next request once this one is answered.
func TestBuildArgsCopiesTheBody(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ ctype, body, query string }{
		{"application/json", `{"a":{"b":[1,2]},"c":"x"}`, ""},
		{"application/json", `[1, 2, 3]`, ""},
		{"application/json", `{"a":1}`, "wrap_body=true"},
		{"application/x-www-form-urlencoded", "a=1&b=two", ""},
		{"text/plain", "some text", ""},
		{"application/json", `{"a":1}`, "raw=true"},
		{"application/cloudevents+json", `{"specversion":"1.0","type":"t","source":"s","id":"1","data":{"a":[1]}}`, ""},
		{"application/cloudevents+json", `{"specversion":"1.0","type":"t","source":"s","id":"1","data":[1,2]}`, ""},
	} {
		body := []byte(c.body)
		q, _ := url.ParseQuery(c.query)
		args, err := BuildArgs(ArgsInput{Method: http.MethodPost, ContentType: c.ctype, Body: body, Query: q, Header: http.Header{}})
		if err != nil {
			t.Fatalf("%s %s: %v", c.ctype, c.body, err)
		}
		before := argsString(args)
		for i := range body {
			body[i] = '#'
		}
		if after := argsString(args); after != before {
			t.Errorf("%s %s: the arguments changed with the body's buffer: %s -> %s", c.ctype, c.body, before, after)
		}
	}
}

// A header named as a secret of the request (a route's API-key header)
// is redacted when included, by the query or the global setting, in any
// spelling; other headers are kept.
func TestSecretHeadersRedacted(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("X-Hook-Key", "k-secret")
	h.Set("X-Other", "kept")
	a, err := BuildArgs(ArgsInput{Method: "POST", Header: h, Query: url.Values{"include_header": {"x-hook-key,X-Other"}},
		IncludeHeaders: []string{"X-HOOK-KEY"}, SecretHeaders: []string{"X-Hook-Key"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := argsString(a); got != `x_hook_key="[redacted]" x_other="kept"` {
		t.Fatalf("args: %s", got)
	}
}
