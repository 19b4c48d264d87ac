package engine

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
)

// A call let in with a token but to a script, hash or workspace that does
// not exist (a mistyped URL) keeps its body like any other call: shown,
// replayable, in Copy as curl.
func TestMistypedWebhookKeepsItsBody(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, path := range []string{"/api/w/local/jobs/run/p/u/me/nope", "/api/w/local/jobs/run_wait_result/h/0123456789abcdef", "/api/w/locl/jobs/run/p/u/me/x"} {
		if r := f.do("POST", path, "application/json", "{}"); r.status != 404 {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		list := f.requests("?q=" + path)
		if len(list) != 1 {
			t.Fatalf("%s: recorded %v", path, list)
		}
		one := f.mustDo(200, "GET", "/api/millrun/requests/"+strconv.Itoa(int(list[0]["id"].(float64))), "", "")
		var got map[string]any
		if err := json.Unmarshal([]byte(one.body), &got); err != nil {
			t.Fatal(err)
		}
		if got["body"] != "{}" || got["body_truncated"] != false {
			t.Errorf("%s: body %q, truncated %v; want the 2 bytes sent, whole", path, fmt.Sprint(got["body"]), got["body_truncated"])
		}
	}
}
