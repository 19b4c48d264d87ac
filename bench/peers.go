package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/millrun/millrun/engine"
)

// The other webhook runners (adnanh/webhook, webhookd) cannot be installed
// here, but measured side by side they sit on one floor: a server that
// runs exec.Command per request, with no job record and no durability,
// matched or beat both in every cell. naivePeer is that server: being at
// least as fast as it means being at least as fast as them.
func naivePeer(interp map[string][]string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		argv := interp[strings.TrimPrefix(r.URL.Path, "/hooks/")]
		if argv == nil {
			http.NotFound(w, r)
			return
		}
		out, err := exec.CommandContext(r.Context(), argv[0], argv[1:]...).Output()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(out)
	}))
}

// benchPeers compares millrun with default settings (its worker pool, its
// fork server) and the naive runner on the same trivial scripts and the
// same interpreters, cell by cell, alternating the two so drift hits both.
func benchPeers(n int) {
	dir, _ := os.MkdirTemp("", "millrun-bench-")
	defer os.RemoveAll(dir)
	// The same Python for both: Debian's where it exists (a version
	// manager's shim or site hooks would measure those instead).
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		python, _ = exec.LookPath("python3")
	}
	bash, _ := exec.LookPath("bash")
	must(os.Setenv("PATH", filepath.Dir(python)+string(os.PathListSeparator)+os.Getenv("PATH")))
	must(os.WriteFile(filepath.Join(dir, "ok.sh"), []byte("echo '{\"ok\":true}'\n"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "ok.py"), []byte("import json\nprint(json.dumps({'ok': True}))\n"), 0o600))
	peer := naivePeer(map[string][]string{
		"bash":    {bash, filepath.Join(dir, "ok.sh")},
		"python3": {python, filepath.Join(dir, "ok.py")},
	})
	defer peer.Close()

	e, err := engine.Open(engine.Config{DataDir: filepath.Join(dir, "data")}) // default settings
	must(err)
	tok, err := e.CreateToken(context.Background(), "bench", nil, time.Time{})
	must(err)
	set := e.Settings()
	set.RateLimitPerSecond = 0 // the peers have none
	must(e.UpdateSettings(context.Background(), set))
	h := &harness{e: e, srv: httptest.NewServer(e.Handler()), token: tok}
	defer h.close()
	fmt.Printf("peer baseline: a naive exec-per-request Go server; interpreters %s and %s; millrun with %d workers\n", python, bash, set.Workers)
	for lang, content := range map[string]string{"bash": "echo '{\"ok\":true}'\n", "python3": "def main():\n    return {'ok': True}\n"} {
		code, body := h.post("/api/w/local/scripts/create", fmt.Sprintf(`{"path":"u/bench/peer_%s","language":"%s","content":%q}`, lang, lang, content))
		if code != 201 {
			must(fmt.Errorf("create: %d %s", code, body))
		}
	}
	callPeer := func(lang string) {
		res, err := client.Post(peer.URL+"/hooks/"+lang, "application/json", strings.NewReader("{}"))
		must(err)
		res.Body.Close()
		if res.StatusCode != 200 {
			must(fmt.Errorf("peer answered %d", res.StatusCode))
		}
	}
	callMillrun := func(lang string) {
		code, body := h.post("/api/w/local/jobs/run_wait_result/p/u/bench/peer_"+lang, "{}")
		if code != 200 || !strings.Contains(body, "ok") {
			must(fmt.Errorf("millrun answered %d %s", code, body))
		}
	}
	for _, lang := range []string{"bash", "python3"} { // warm both: page cache, the fork server
		for range 20 {
			callPeer(lang)
			callMillrun(lang)
		}
	}
	bare := func(argv []string) time.Duration {
		return percentile(timeIt(n/3+1, func() { must(exec.Command(argv[0], argv[1:]...).Run()) }), 0.5)
	}

	targets := map[string]float64{"bash": 1.0, "python3": 0.5}
	for _, lang := range []string{"bash", "python3"} {
		var peerLat, ourLat []time.Duration
		for range n {
			peerLat = append(peerLat, timeIt(1, func() { callPeer(lang) })...)
			ourLat = append(ourLat, timeIt(1, func() { callMillrun(lang) })...)
		}
		p50, m50 := percentile(peerLat, 0.5), percentile(ourLat, 0.5)
		argv := []string{bash, filepath.Join(dir, "ok.sh")}
		if lang == "python3" {
			argv = []string{python, filepath.Join(dir, "ok.py")}
		}
		report("cold "+lang+" p50, 1 client, vs naive exec", float64(m50)/float64(p50), targets[lang], true,
			fmt.Sprintf("millrun %s, naive %s, bare interpreter %s", ms(m50), ms(p50), ms(bare(argv))))
	}
	throughput := map[string]float64{"bash": 1.0, "python3": 2.0}
	for _, lang := range []string{"bash", "python3"} {
		const clients = 8
		const dur = 3 * time.Second
		var peerN, ourN int
		for range 2 { // two alternations of each
			a, _ := load(clients, dur, func() { callPeer(lang) })
			b, _ := load(clients, dur, func() { callMillrun(lang) })
			peerN, ourN = peerN+a, ourN+b
		}
		secs := 2 * dur.Seconds()
		report("cold "+lang+" req/s, 8 clients, vs naive exec", float64(ourN)/float64(peerN), throughput[lang], false,
			fmt.Sprintf("millrun %.0f/s, naive %.0f/s", float64(ourN)/secs, float64(peerN)/secs))
	}
}
