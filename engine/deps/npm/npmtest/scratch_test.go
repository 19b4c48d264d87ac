package npmtest

import (
	"os"
	"testing"
	"time"
)

func TestScratchServe(t *testing.T) {
	if os.Getenv("SCRATCH") == "" {
		t.Skip()
	}
	r := New(t,
		Package{Name: "left", Version: "1.0.0"},
		Package{Name: "left", Version: "1.2.0"},
		Package{Name: "right", Version: "2.0.0", Deps: map[string]string{"left": "^1.0.0"}},
		Package{Name: "@acme/util", Version: "0.3.0", Deps: map[string]string{"left": "1.0.0"}},
	)
	os.WriteFile("/tmp/npmx/url", []byte(r.URL), 0o644)
	for {
		if _, err := os.Stat("/tmp/npmx/stop"); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}
