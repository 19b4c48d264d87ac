package inspector

import (
	"fmt"
	"io"
	"regexp"
	"testing"
)

var (
	timeText     = regexp.MustCompile(`"received_at":"[^"]*"`)
	durationText = regexp.MustCompile(`"duration_ms":\d+`)
)

// The inspector's answers keep their exact bytes (names, order, the
// fields only some records have); times and durations read as <time> and
// <n>.
func TestAnswersKeepTheirBytes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	get := func(method, path string) string {
		t.Helper()
		res := f.send(method, path, "")
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
		return durationText.ReplaceAllString(timeText.ReplaceAllString(string(b), `"received_at":<time>`), `"duration_ms":<n>`)
	}
	f.send("POST", "/api/r/ok", `{"a":"<b>"}`, "Content-Type", "application/json").Body.Close()
	f.latest(1)
	f.send("POST", "/api/r/refused", "\xff\xfe", "Content-Type", "application/octet-stream").Body.Close()
	f.latest(2)
	ok := `"auth_ok":true,"auth_reason":"route's own check","body_truncated":false,"body_unread":false,"caller_ip":"127.0.0.1","duration_ms":<n>,"headers":{"Accept-Encoding":"gzip","Content-Length":"11","Content-Type":"application/json","User-Agent":"Go-http-client/1.1"},"id":1,"job_id":"job-1","method":"POST","note":"","received_at":<time>`
	refused := `"auth_ok":false,"auth_reason":"bad signature","body_truncated":false,"body_unread":false,"caller_ip":"127.0.0.1","duration_ms":<n>,"headers":{"Accept-Encoding":"gzip","Content-Length":"2","Content-Type":"application/octet-stream","User-Agent":"Go-http-client/1.1"},"id":2,"job_id":"","method":"POST","note":"","received_at":<time>,"response":"Unauthorized: bad signature\n","route":"refused","run_failed":false,"status":401,"url":"/api/r/refused"`
	for _, c := range []struct{ path, want string }{
		{"/api/millrun/requests", `[{` + refused + `},{` + ok + `,"route":"ok","run_failed":false,"status":200,"url":"/api/r/ok"}]`},
		{"/api/millrun/requests/1", `{"auth_ok":true,"auth_reason":"route's own check","body":"{\"a\":\"<b>\"}","body_truncated":false,"body_unread":false,"caller_ip":"127.0.0.1","duration_ms":<n>,"headers":{"Accept-Encoding":"gzip","Content-Length":"11","Content-Type":"application/json","User-Agent":"Go-http-client/1.1"},"id":1,"job_id":"job-1","method":"POST","note":"","received_at":<time>,"response":"{\"got\":{\"a\":\"<b>\"}}","route":"ok","run_failed":false,"status":200,"url":"/api/r/ok"}`},
		{"/api/millrun/requests/2", `{"auth_ok":false,"auth_reason":"bad signature","body_base64":"//4=",` + refused[len(`"auth_ok":false,"auth_reason":"bad signature",`):] + `}`},
	} {
		if got := get("GET", c.path); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.path, got, c.want)
		}
	}
	if got, want := get("POST", "/api/millrun/requests/1/replay"), `{"body":"{\"got\":{\"a\":\"<b>\"}}","job_id":"job-1","status":200}`; got != want {
		t.Errorf("replay:\n got %s\nwant %s", got, want)
	}
	list := f.latest(3)
	if got, want := get("GET", fmt.Sprint("/api/millrun/requests/", list[0]["id"])), `"replay_of":1,`; !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(got) {
		t.Errorf("a replay names its original: %s", got)
	}
}
