// Package depstest serves a Python package index on loopback for tests:
// PEP 503 "simple" pages and wheels built in Go, so pip and uv can
// resolve and install without reaching PyPI.
package depstest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Dist is one distribution file the index serves.
type Dist struct {
	// Name is the project name as its metadata spells it ("Fancy-Name").
	Name    string
	Version string
	// Module is the top-level import package the wheel holds; "" means
	// the name lowercased with '-' as '_'.
	Module string
	// Requires are Requires-Dist lines ("base>=1.0").
	Requires []string
	// Code is the package's __init__.py; "" gives one that sets
	// __version__.
	Code string
	// Extra are more files in the wheel, by path ("pkg/sub.py"): bulk
	// for measuring installs.
	Extra map[string]string
	// BuildError, when set, makes the file an sdist whose build fails
	// with this message (its backend needs nothing from the index).
	BuildError string
}

// Index is a running loopback index.
type Index struct {
	// URL is the simple index root, "http://127.0.0.1:port/simple".
	URL string

	srv   *http.Server
	ln    net.Listener
	files map[string][]byte // file name → content
	links map[string][]string

	mu    sync.Mutex
	hits  map[string]int // path → requests
	holds []*hold
}

type hold struct {
	prefix  string
	arrived chan struct{}
	once    sync.Once
	release chan struct{}
}

// Hold makes requests for paths starting with prefix wait until release
// is called (or the index stops); arrived is closed when the first one
// comes in. It lets a test act while a download is under way.
func (ix *Index) Hold(prefix string) (arrived <-chan struct{}, release func()) {
	h := &hold{prefix: prefix, arrived: make(chan struct{}), release: make(chan struct{})}
	ix.mu.Lock()
	ix.holds = append(ix.holds, h)
	ix.mu.Unlock()
	var once sync.Once
	return h.arrived, func() { once.Do(func() { close(h.release) }) }
}

// Serve starts an index with the given files; it stops at the test's end.
func Serve(t testing.TB, dists ...Dist) *Index {
	t.Helper()
	ix, err := Start(dists...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ix.Stop)
	return ix
}

// Start starts an index with the given files, for programs without a
// testing.TB (the bench command); the caller stops it.
func Start(dists ...Dist) (*Index, error) {
	ix := &Index{files: map[string][]byte{}, links: map[string][]string{}, hits: map[string]int{}}
	for _, d := range dists {
		name, data := d.file()
		ix.files[name] = data
		proj := Normalize(d.Name)
		ix.links[proj] = append(ix.links[proj], name)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ix.ln = ln
	ix.URL = "http://" + ln.Addr().String() + "/simple"
	ix.srv = &http.Server{Handler: http.HandlerFunc(ix.serve)}
	go ix.srv.Serve(ln)
	return ix, nil
}

// Stop closes the index: connections to it are refused from then on, as
// when a laptop is offline.
func (ix *Index) Stop() { ix.srv.Close() }

// Hits counts the requests for paths that start with prefix ("/files/"
// for downloads, "/simple/name/" for one project's page).
func (ix *Index) Hits(prefix string) int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n := 0
	for p, c := range ix.hits {
		if strings.HasPrefix(p, prefix) {
			n += c
		}
	}
	return n
}

// File returns a served file's content, for tests that install by URL.
func (ix *Index) File(name string) []byte { return ix.files[name] }

func (ix *Index) serve(w http.ResponseWriter, r *http.Request) {
	ix.mu.Lock()
	ix.hits[r.URL.Path]++
	var wait []*hold
	for _, h := range ix.holds {
		if strings.HasPrefix(r.URL.Path, h.prefix) {
			wait = append(wait, h)
		}
	}
	ix.mu.Unlock()
	for _, h := range wait {
		h.once.Do(func() { close(h.arrived) })
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
	}
	p := r.URL.Path
	switch {
	case p == "/simple/" || p == "/simple":
		var projects []string
		for proj := range ix.links {
			projects = append(projects, proj)
		}
		sort.Strings(projects)
		var b strings.Builder
		b.WriteString("<!DOCTYPE html><html><body>\n")
		for _, proj := range projects {
			fmt.Fprintf(&b, "<a href=\"%s/\">%s</a>\n", proj, proj)
		}
		b.WriteString("</body></html>\n")
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(b.String()))
	case strings.HasPrefix(p, "/simple/"):
		proj := strings.Trim(strings.TrimPrefix(p, "/simple/"), "/")
		if n := Normalize(proj); n != proj {
			http.Redirect(w, r, "/simple/"+n+"/", http.StatusMovedPermanently)
			return
		}
		files, ok := ix.links[proj]
		if !ok {
			http.NotFound(w, r)
			return
		}
		var b strings.Builder
		b.WriteString("<!DOCTYPE html><html><body>\n")
		for _, f := range files {
			sum := sha256.Sum256(ix.files[f])
			fmt.Fprintf(&b, "<a href=\"../../files/%s#sha256=%s\">%s</a>\n", f, hex.EncodeToString(sum[:]), html.EscapeString(f))
		}
		b.WriteString("</body></html>\n")
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(b.String()))
	case strings.HasPrefix(p, "/files/"):
		data, ok := ix.files[strings.TrimPrefix(p, "/files/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(data)
	default:
		http.NotFound(w, r)
	}
}

var nameRun = regexp.MustCompile(`[-_.]+`)

// Normalize is PEP 503's normalized project name.
func Normalize(name string) string { return strings.ToLower(nameRun.ReplaceAllString(name, "-")) }

func (d Dist) module() string {
	if d.Module != "" {
		return d.Module
	}
	return strings.ReplaceAll(Normalize(d.Name), "-", "_")
}

// file builds the distribution: its file name and bytes.
func (d Dist) file() (string, []byte) {
	if d.BuildError != "" {
		return d.sdist()
	}
	return d.wheel()
}

// wheel builds a minimal valid wheel: the package, METADATA, WHEEL and a
// RECORD that lists every file with its hash, as installers check.
func (d Dist) wheel() (string, []byte) {
	distName := strings.ReplaceAll(Normalize(d.Name), "-", "_")
	info := distName + "-" + d.Version + ".dist-info"
	code := d.Code
	if code == "" {
		code = fmt.Sprintf("__version__ = %q\n", d.Version)
	}
	var meta strings.Builder
	fmt.Fprintf(&meta, "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: test package\n", d.Name, d.Version)
	for _, r := range d.Requires {
		fmt.Fprintf(&meta, "Requires-Dist: %s\n", r)
	}
	files := []struct{ name, body string }{
		{d.module() + "/__init__.py", code},
		{info + "/METADATA", meta.String()},
		{info + "/WHEEL", "Wheel-Version: 1.0\nGenerator: depstest\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
		{info + "/top_level.txt", d.module() + "\n"},
	}
	var extra []string
	for p := range d.Extra {
		extra = append(extra, p)
	}
	sort.Strings(extra)
	for _, p := range extra {
		files = append(files, struct{ name, body string }{p, d.Extra[p]})
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var record strings.Builder
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			panic(err)
		}
		w.Write([]byte(f.body))
		sum := sha256.Sum256([]byte(f.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.body))
	}
	fmt.Fprintf(&record, "%s/RECORD,,\n", info)
	w, _ := zw.Create(info + "/RECORD")
	w.Write([]byte(record.String()))
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%s-%s-py3-none-any.whl", distName, d.Version), buf.Bytes()
}

// sdist builds a source distribution whose in-tree build backend fails
// with BuildError, printing a few log lines first, the way a compiler
// failure looks.
func (d Dist) sdist() (string, []byte) {
	distName := strings.ReplaceAll(Normalize(d.Name), "-", "_")
	root := distName + "-" + d.Version
	backend := fmt.Sprintf(`import sys
def _fail(*a, **k):
    for i in range(40):
        print("building step", i, flush=True)
    print(%q, file=sys.stderr, flush=True)
    raise SystemExit(1)
def get_requires_for_build_wheel(config_settings=None):
    return []
def get_requires_for_build_sdist(config_settings=None):
    return []
prepare_metadata_for_build_wheel = _fail
build_wheel = _fail
build_sdist = _fail
`, d.BuildError)
	files := []struct{ name, body string }{
		{root + "/PKG-INFO", fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n", d.Name, d.Version)},
		{root + "/pyproject.toml", "[build-system]\nrequires = []\nbuild-backend = \"failing_backend\"\nbackend-path = [\".\"]\n"},
		{root + "/failing_backend.py", backend},
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(f.body))
	}
	tw.Close()
	gz.Close()
	return root + ".tar.gz", buf.Bytes()
}
