// Package webhook serves Windmill's run routes: it turns a request into a
// job's arguments, queues the job, and turns a finished job into the
// response, byte-compatible with Windmill's webhooks.
package webhook

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
)

// Args is a job's arguments: JSON values by name.
type Args map[string]json.RawMessage

// ArgsInput is everything argument building reads from a request.
type ArgsInput struct {
	Method      string
	ContentType string
	Body        []byte
	Header      http.Header
	Query       url.Values
	// IncludeHeaders is the global include-headers setting.
	IncludeHeaders []string
	// SecretHeaders carry a credential beyond the usual ones (a route's
	// API-key header): included, their value is "[redacted]".
	SecretHeaders []string
}

// BuildArgs applies Windmill's request → args rules.
func BuildArgs(in ArgsInput) (Args, error) {
	args := Args{}
	var metadata json.RawMessage
	rawAlways := false
	if in.Method == http.MethodGet {
		if p := in.Query.Get("payload"); p != "" {
			obj, err := decodePayload(p)
			if err != nil {
				return nil, err
			}
			args = obj
		}
	} else {
		mt := ""
		if in.ContentType != "" {
			parsed, _, err := mime.ParseMediaType(in.ContentType)
			if err != nil {
				// Windmill matches by prefix; a malformed parameter list
				// should not turn a JSON body into a 415.
				parsed = strings.ToLower(strings.TrimSpace(strings.SplitN(in.ContentType, ";", 2)[0]))
			}
			mt = parsed
		}
		switch {
		case mt == "" && len(in.Body) == 0:
		case mt == "" || mt == "application/json" || strings.HasSuffix(mt, "+json") && !strings.HasPrefix(mt, "application/cloudevents"):
			if len(in.Body) == 0 {
				return nil, apierr.BadRequest("the body is empty but the content type is application/json: send a JSON value or no content type")
			}
			a, err := jsonArgs(in.Body, in.Query.Get("wrap_body") == "true")
			if err != nil {
				return nil, err
			}
			args = a
		case mt == "application/x-www-form-urlencoded":
			vals, err := url.ParseQuery(string(in.Body))
			if err != nil {
				return nil, apierr.BadRequest("the form body cannot be decoded: %s", err)
			}
			for k, v := range vals {
				args[k] = jsonString(v[0])
			}
		case mt == "text/plain" || mt == "application/xml" || mt == "text/xml":
			rawAlways = true
		case mt == "application/cloudevents+json":
			a, meta, err := cloudEventArgs(in.Body)
			if err != nil {
				return nil, err
			}
			args, metadata = a, meta
		case mt == "application/cloudevents-batch+json":
			return nil, apierr.BadRequest("Cloud events batching is not supported yet")
		case mt == "multipart/form-data":
			return nil, apierr.UnsupportedMediaType("multipart/form-data is not supported: send JSON (files as base64 strings)")
		default:
			return nil, apierr.UnsupportedMediaType("content type %s is not supported: use application/json, application/x-www-form-urlencoded, text/plain, XML or CloudEvents", mt)
		}
	}
	if metadata != nil {
		args["WEBHOOK__METADATA__"] = metadata
	}
	// Header, query and raw values are added last so they win over body keys.
	// Credentials never become arguments: args are stored with the job and
	// shown on the Runs page.
	for _, name := range includeList(in.Query.Get("include_header"), in.IncludeHeaders) {
		if v := in.Header.Get(name); v != "" || len(in.Header.Values(name)) > 0 {
			if auth.SensitiveHeader(name) || slices.ContainsFunc(in.SecretHeaders, func(h string) bool { return strings.EqualFold(h, name) }) {
				v = "[redacted]"
			}
			args[HeaderArgName(name)] = jsonString(v)
		}
	}
	for _, name := range includeList(in.Query.Get("include_query"), nil) {
		if vals, ok := in.Query[name]; ok && len(vals) > 0 {
			v := vals[0]
			if name == "token" {
				v = "[redacted]"
			}
			args[name] = jsonString(v)
		}
	}
	if rawAlways || in.Query.Get("raw") == "true" {
		args["raw_string"] = jsonString(string(in.Body))
	}
	return args, nil
}

// HeaderArgName is the argument an included header becomes: lowercased,
// "-" as "_" (Windmill's rule).
func HeaderArgName(header string) string {
	return strings.ReplaceAll(strings.ToLower(header), "-", "_")
}

func includeList(query string, global []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s != "" && !seen[strings.ToLower(s)] {
			seen[strings.ToLower(s)] = true
			out = append(out, s)
		}
	}
	for _, g := range global {
		add(g)
	}
	for _, s := range strings.Split(query, ",") {
		add(s)
	}
	return out
}

func jsonArgs(body []byte, wrap bool) (Args, error) {
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v)
		return nil, apierr.BadRequest("the body is not valid JSON: %s", describeJSONError(err))
	}
	// Windmill's check is literal: only a body starting with '{' is an object.
	if wrap || body[0] != '{' {
		return Args{"body": compact(body)}, nil
	}
	var obj Args
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, apierr.BadRequest("the body is not a JSON object: %s", describeJSONError(err))
	}
	if obj == nil {
		obj = Args{}
	}
	return obj, nil
}

// compact returns a compacted copy of b: never b itself, which may be a
// request buffer reused once the request is answered.
func compact(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return bytes.Clone(b)
	}
	return buf.Bytes()
}

func describeJSONError(err error) string {
	if err == nil {
		return "unexpected input"
	}
	var se *json.SyntaxError
	if ok := asSyntax(err, &se); ok {
		return se.Error() + " (at byte " + itoa(se.Offset) + ")"
	}
	return err.Error()
}

func asSyntax(err error, target **json.SyntaxError) bool {
	se, ok := err.(*json.SyntaxError)
	if ok {
		*target = se
	}
	return ok
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func cloudEventArgs(body []byte) (Args, json.RawMessage, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil || env == nil {
		return nil, nil, apierr.BadRequest("the body is not a CloudEvents JSON object: %s", describeJSONError(err))
	}
	data, hasData := env["data"]
	delete(env, "data")
	meta, _ := json.Marshal(env)
	args := Args{}
	if hasData {
		d := bytes.TrimSpace(data)
		if len(d) > 0 && d[0] == '{' {
			if err := json.Unmarshal(d, &args); err != nil {
				return nil, nil, apierr.BadRequest("the CloudEvents data is not valid JSON: %s", err)
			}
		} else if string(d) != "null" {
			args["body"] = compact(d)
		}
	}
	return args, meta, nil
}

// decodePayload decodes GET's ?payload=: base64 of a JSON object, in the
// standard or URL-safe alphabet, padded or not.
func decodePayload(p string) (Args, error) {
	p = strings.TrimSpace(p)
	norm := strings.NewReplacer("-", "+", "_", "/").Replace(strings.TrimRight(p, "="))
	raw, err := base64.RawStdEncoding.DecodeString(norm)
	if err != nil {
		return nil, apierr.BadRequest("payload is not base64: %s (encode it as base64 of a JSON object, e.g. btoa(JSON.stringify(args)))", err)
	}
	raw = bytes.TrimSpace(raw)
	if !utf8.Valid(raw) || !json.Valid(raw) {
		return nil, apierr.BadRequest("payload does not decode to JSON: it must be base64 of a JSON object")
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, apierr.BadRequest("payload decodes to JSON that is not an object: it must be base64 of a JSON object such as {\"name\": \"x\"}")
	}
	var obj Args
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, apierr.BadRequest("payload is not a JSON object: %s", err)
	}
	return obj, nil
}

// jsonString encodes s without HTML escaping, so XML and HTML bodies stay
// readable in the stored args.
func jsonString(s string) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimRight(buf.Bytes(), "\n")
}
