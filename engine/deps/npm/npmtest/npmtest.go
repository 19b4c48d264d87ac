// Package npmtest serves an npm registry on loopback for tests: packuments
// and tarballs built in Go, so npm (and Bun) resolve and install without
// reaching the public registry.
package npmtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Package is one version of a package the registry serves.
type Package struct {
	Name    string
	Version string
	// Deps are its dependencies (name → range).
	Deps map[string]string
	// Files are the tarball's files by path inside the package; "" for
	// index.js gives one exporting name and version (ESM).
	Files map[string]string
	// Dir, when set, is a folder whose files make the package instead
	// (a real package copied from node_modules); its package.json is
	// served as is, with Name and Version checked against it.
	Dir string
}

// Registry is a running loopback registry.
type Registry struct {
	// URL is the registry root, "http://127.0.0.1:port/".
	URL string

	t    testing.TB
	srv  *http.Server
	ln   net.Listener
	pkgs map[string][]Package
	tgz  map[string][]byte // tarball path → bytes

	mu      sync.Mutex
	hits    map[string]int
	holds   []chan struct{}
	held    chan string
	stopped chan struct{}
	stop    sync.Once
}

// New starts a registry serving pkgs; it stops when the test ends.
func New(t testing.TB, pkgs ...Package) *Registry {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Registry{t: t, ln: ln, URL: "http://" + ln.Addr().String() + "/", pkgs: map[string][]Package{},
		tgz: map[string][]byte{}, hits: map[string]int{}, held: make(chan string, 64), stopped: make(chan struct{})}
	for _, p := range pkgs {
		r.pkgs[p.Name] = append(r.pkgs[p.Name], p)
	}
	for _, list := range r.pkgs {
		for _, p := range list {
			b, err := tarball(p)
			if err != nil {
				t.Fatalf("npmtest: %s@%s: %v", p.Name, p.Version, err)
			}
			r.tgz[tarballPath(p)] = b
		}
	}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve)}
	go r.srv.Serve(ln)
	t.Cleanup(r.Stop)
	return r
}

// Stop stops serving: installs that need it then fail as offline ones
// do, and held requests are cut off.
func (r *Registry) Stop() {
	r.stop.Do(func() { close(r.stopped) })
	r.srv.Close()
}

// Hits returns how many requests asked for the packument of name
// ("" counts every request).
func (r *Registry) Hits(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name == "" {
		n := 0
		for _, c := range r.hits {
			n += c
		}
		return n
	}
	return r.hits["/"+name]
}

// TarballHits returns how many requests fetched a tarball of name.
func (r *Registry) TarballHits(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for p, c := range r.hits {
		if strings.HasPrefix(p, "/"+name+"/-/") {
			n += c
		}
	}
	return n
}

// Hold makes tarball requests wait until release is called; Held
// receives each held request's path as it arrives.
func (r *Registry) Hold() (release func()) {
	ch := make(chan struct{})
	r.mu.Lock()
	r.holds = append(r.holds, ch)
	r.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// Held receives the path of each tarball request that waits on a Hold.
func (r *Registry) Held() <-chan string { return r.held }

func (r *Registry) serve(w http.ResponseWriter, req *http.Request) {
	path, err := url.PathUnescape(req.URL.EscapedPath())
	if err != nil {
		http.Error(w, "bad path", 400)
		return
	}
	r.mu.Lock()
	r.hits[path]++
	holds := append([]chan struct{}{}, r.holds...)
	r.mu.Unlock()
	if b, ok := r.tgz[path]; ok {
		if len(holds) > 0 {
			select {
			case r.held <- path:
			default:
			}
			for _, h := range holds {
				select {
				case <-h:
				case <-r.stopped:
					panic(http.ErrAbortHandler)
				case <-req.Context().Done():
					return
				}
			}
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(b)
		return
	}
	name := strings.TrimPrefix(path, "/")
	list, ok := r.pkgs[name]
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(404)
		fmt.Fprint(w, `{"error":"Not found"}`)
		return
	}
	versions := map[string]any{}
	var latest string
	for _, p := range list {
		meta, err := manifest(p)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		b := r.tgz[tarballPath(p)]
		s512 := sha512.Sum512(b)
		s1 := sha1.Sum(b)
		meta["dist"] = map[string]any{
			"tarball":   strings.TrimSuffix(r.URL, "/") + tarballPath(p),
			"integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
			"shasum":    hex.EncodeToString(s1[:]),
		}
		versions[p.Version] = meta
		if latest == "" || Less(latest, p.Version) {
			latest = p.Version
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"name": name, "dist-tags": map[string]string{"latest": latest}, "versions": versions})
}

// Integrity returns the sha512 integrity of a served package's tarball.
func (r *Registry) Integrity(name, version string) string {
	for _, p := range r.pkgs[name] {
		if p.Version == version {
			s := sha512.Sum512(r.tgz[tarballPath(p)])
			return "sha512-" + base64.StdEncoding.EncodeToString(s[:])
		}
	}
	return ""
}

func tarballPath(p Package) string {
	base := p.Name
	if i := strings.LastIndex(base, "/"); i >= 0 {
		base = base[i+1:]
	}
	return "/" + p.Name + "/-/" + base + "-" + p.Version + ".tgz"
}

func manifest(p Package) (map[string]any, error) {
	if p.Dir != "" {
		b, err := os.ReadFile(filepath.Join(p.Dir, "package.json"))
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		if m["name"] != p.Name || m["version"] != p.Version {
			return nil, fmt.Errorf("%s holds %v@%v", p.Dir, m["name"], m["version"])
		}
		delete(m, "scripts")
		return m, nil
	}
	m := map[string]any{"name": p.Name, "version": p.Version, "main": "index.js", "type": "module"}
	if len(p.Deps) > 0 {
		m["dependencies"] = p.Deps
	}
	if f, ok := p.Files["package.json"]; ok {
		var extra map[string]any
		if err := json.Unmarshal([]byte(f), &extra); err != nil {
			return nil, err
		}
		for k, v := range extra {
			m[k] = v
		}
	}
	return m, nil
}

// tarball builds the package's .tgz: its files under package/.
func tarball(p Package) ([]byte, error) {
	files := map[string][]byte{}
	if p.Dir != "" {
		err := filepath.Walk(p.Dir, func(path string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(p.Dir, path)
			b, err := os.ReadFile(path)
			files[filepath.ToSlash(rel)] = b
			return err
		})
		if err != nil {
			return nil, err
		}
	} else {
		for k, v := range p.Files {
			files[k] = []byte(v)
		}
		if _, ok := files["index.js"]; !ok {
			files["index.js"] = []byte(fmt.Sprintf("export const name = %q;\nexport const version = %q;\nexport default { name, version };\n", p.Name, p.Version))
		}
	}
	m, err := manifest(p)
	if err != nil {
		return nil, err
	}
	pj, _ := json.MarshalIndent(m, "", "  ")
	files["package.json"] = pj
	names := make([]string, 0, len(files))
	for k := range files {
		names = append(names, k)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: "package/" + n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Less orders plain x.y.z versions numerically (enough for test
// registries' dist-tags).
func Less(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		var x, y int
		fmt.Sscan(pa[i], &x)
		fmt.Sscan(pb[i], &y)
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}

// Env is the environment npm needs to use this registry only, with its
// own npm cache under dir (never the user's ~/.npm).
func (r *Registry) Env(dir string) []string {
	return []string{
		"npm_config_registry=" + r.URL,
		"npm_config_cache=" + filepath.Join(dir, "npm-cache"),
		"npm_config_userconfig=" + filepath.Join(dir, "npmrc"),
		"npm_config_update_notifier=false",
		"npm_config_fetch_retries=0",
	}
}
