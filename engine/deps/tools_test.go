package deps

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestIndexURL(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "pip.conf")
	os.WriteFile(conf, []byte("[global]\nindex-url = https://global.example/simple\ntimeout = 5\n\n[install]\nindex_url = https://install.example/simple\n"), 0o600)
	home := t.TempDir()
	if (Tools{Env: []string{"HOME=" + home}}).pipConfig("index-url") != "" {
		t.Skip("this machine's global pip config names an index")
	}
	cases := []struct {
		env  []string
		uv   string
		want string
	}{
		{[]string{"HOME=" + home}, "", PyPI},
		{[]string{"HOME=" + home, "PIP_INDEX_URL=https://user:s3cret@mirror.example/simple"}, "", "https://mirror.example/simple"},
		{[]string{"HOME=" + home, "PIP_CONFIG_FILE=" + conf}, "", "https://install.example/simple"},
		{[]string{"HOME=" + home, "PIP_CONFIG_FILE=" + conf, "PIP_INDEX_URL=https://env.example/simple"}, "", "https://env.example/simple"},
		{[]string{"HOME=" + home, "PIP_CONFIG_FILE=" + os.DevNull}, "", PyPI},
		{[]string{"HOME=" + home, "PIP_INDEX_URL=https://pip.example/simple"}, "/usr/bin/uv", PyPI},
		{[]string{"HOME=" + home, "UV_INDEX_URL=https://tok@uv.example/simple"}, "/usr/bin/uv", "https://uv.example/simple"},
		{[]string{"HOME=" + home, "UV_INDEX_URL=https://old.example/simple", "UV_DEFAULT_INDEX=https://new.example/simple"}, "/usr/bin/uv", "https://new.example/simple"},
	}
	for _, c := range cases {
		if got := (Tools{Env: c.env, UV: c.uv}).IndexURL(); got != c.want {
			t.Errorf("%v uv=%q: got %q, want %q", c.env, c.uv, got, c.want)
		}
	}
	if runtime.GOOS == "linux" {
		// The user's own pip.conf, found through HOME.
		os.MkdirAll(filepath.Join(home, ".config", "pip"), 0o700)
		os.WriteFile(filepath.Join(home, ".config", "pip", "pip.conf"), []byte("[global]\nindex-url=https://user.example/simple\n"), 0o600)
		if got := (Tools{Env: []string{"HOME=" + home}}).IndexURL(); got != "https://user.example/simple" {
			t.Errorf("user pip.conf: %q", got)
		}
	}
}

func TestProxyFor(t *testing.T) {
	tl := Tools{Env: []string{"HTTPS_PROXY=http://proxy:3128", "NO_PROXY=internal.example,.corp", "PIP_CONFIG_FILE=" + os.DevNull}}
	for target, want := range map[string]string{
		"https://pypi.org/simple":         "http://proxy:3128",
		"http://pypi.org/simple":          "",
		"https://internal.example/simple": "",
		"https://mirror.corp/simple":      "",
		"http://127.0.0.1:8080/simple":    "",
		"https://localhost/simple":        "",
		"https://notinternal.example/x":   "http://proxy:3128",
	} {
		if got := tl.proxyFor(target); got != want {
			t.Errorf("proxyFor(%s) = %q, want %q", target, got, want)
		}
	}
}

func TestFailedFor(t *testing.T) {
	w := &Error{Kind: ErrNotFound, Package: "wmill"}
	pinned := &Error{Kind: ErrOffline, Package: "wmill==1.404.0"}
	other := &Error{Kind: ErrNotFound, Package: "foo"}
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{w, true},
		{pinned, true},
		{errors.Join(w, pinned), true},
		{errors.Join(w, other), false},
		{other, false},
		{errors.New("plain"), false},
		{&Error{Kind: ErrConflict}, false},
		// A lock line refused as written is not the index lacking wmill.
		{&Error{Kind: ErrInvalid, Package: "wmill==1.404.0"}, false},
	}
	for _, c := range cases {
		if got := FailedFor(c.err, "WMILL"); got != c.want {
			t.Errorf("FailedFor(%v) = %v", c.err, got)
		}
	}
}

func TestMatchesAll(t *testing.T) {
	cases := []struct {
		v     string
		specs []string
		want  bool
	}{
		{"3.11.7", nil, true},
		{"3.11.7", []string{">=3.11"}, true},
		{"3.11.7", []string{">=3.12"}, false},
		{"3.12.1", []string{">=3.11,<3.14"}, true},
		{"3.14.0", []string{">=3.11,<3.14"}, false},
		{"3.12.1", []string{"==3.12.*"}, true},
		{"3.12.1", []string{"==3.12"}, true}, // read as 3.12.*
		{"3.12.1", []string{"3.12"}, true},   // bare, as `# py: 3.12`
		{"3.11.7", []string{"3.12"}, false},
		{"3.12.1", []string{"==3.12.0"}, false},
		{"3.12.1", []string{"!=3.12.*"}, false},
		{"3.11.7", []string{"~=3.11"}, true},
		{"3.13.0", []string{"~=3.11"}, true},
		{"3.12.0", []string{"~=3.11.2"}, false},
		{"3.11.7", []string{"~=3.11.2"}, true},
		{"3.11.7", []string{">=3.10", "==3.11.*"}, true},
		{"3.11.7", []string{">3.11.7"}, false},
		{"3.11.7", []string{"<=3.11.7"}, true},
	}
	for _, c := range cases {
		if got, err := matchesAll(c.v, c.specs); got != c.want || err != nil {
			t.Errorf("matchesAll(%s, %v) = %v, %v", c.v, c.specs, got, err)
		}
	}
	if _, err := matchesAll("3.11.7", []string{">=banana"}); err == nil {
		t.Error("an unreadable specifier is an error")
	}
}

// The interpreter a script asks for is used when installed; otherwise
// the default runs it and the log says what was asked.
func TestChoosePython(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinked interpreters")
	}
	def, err := Tools{}.Probe(context.Background(), "python3")
	if err != nil {
		t.Skip("python3:", err)
	}
	bin := t.TempDir()
	tl := Tools{Env: []string{"PATH=" + bin}}
	var log bytes.Buffer
	if got := tl.ChoosePython(context.Background(), def, []string{"==" + def.Minor() + ".*"}, &log); got != def || log.Len() != 0 {
		t.Errorf("the default matches: got %+v, log %q", got, log.String())
	}
	got := tl.ChoosePython(context.Background(), def, []string{">=3.99"}, &log)
	if got != def || !strings.Contains(log.String(), "Python >=3.99 was asked for, but no such interpreter is installed: running on "+def.Version) {
		t.Errorf("none installed: got %+v, log %q", got, log.String())
	}

	// Another installed version on PATH as pythonX.Y is found (pyenv
	// keeps them in its versions folder).
	others, _ := filepath.Glob(filepath.Join(os.Getenv("HOME"), ".pyenv", "versions", "3.*", "bin", "python3.*[0-9]"))
	for _, o := range others {
		name := filepath.Base(o)
		if strings.HasPrefix(name, "python"+def.Minor()) || strings.Count(name, ".") != 1 {
			continue
		}
		if err := os.Symlink(o, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
		want := strings.TrimPrefix(name, "python")
		log.Reset()
		got := tl.ChoosePython(context.Background(), def, []string{"==" + want + ".*"}, &log)
		if got.Minor() != want || !strings.Contains(log.String(), "using "+got.Version) {
			t.Errorf("%s: got %+v, log %q", name, got, log.String())
		}
		return
	}
	t.Log("no second interpreter on this machine: only the fallback was checked")
}

func TestLockSpec(t *testing.T) {
	if got := LockSpec(ParseLock("# py: 3.12\nx==1")); len(got) != 1 || got[0] != "==3.12.*" {
		t.Errorf("got %v", got)
	}
	if got := LockSpec(ParseLock("x==1")); got != nil {
		t.Errorf("got %v", got)
	}
}

// uv, when on PATH, resolves and installs; a stand-in records how it is
// called (uv is not installed where these tests run).
func TestUVCommands(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("a shell script stands in for uv")
	}
	bin := t.TempDir()
	argsLog := filepath.Join(t.TempDir(), "args")
	script := `#!/bin/sh
echo "$@" >> "$UV_ARGS_LOG"
out=""; target=""; prev=""
for a in "$@"; do
  [ "$prev" = "-o" ] && out="$a"
  [ "$prev" = "--target" ] && target="$a"
  prev="$a"
done
if [ -n "$UV_FAKE_OUTPUT" ]; then printf "%s\n" "$UV_FAKE_OUTPUT" >&2; exit 1; fi
case "$1 $2" in
"pip compile") printf 'Fancy_Name==0.3\n    # via -r requirements.in\nbase==2.0\n' > "$out" ;;
"pip install") for a in "$@"; do name="${a%%==*}"; done; [ -n "$UV_FAKE_NAME" ] && name="$UV_FAKE_NAME"
  v=$(echo "$a" | sed 's/.*==//'); mkdir -p "$target/fake" "$target/$name-$v.dist-info" && echo "v = 1" > "$target/fake/__init__.py"
  printf 'Name: %s\nVersion: %s\n' "$name" "$v" > "$target/$name-$v.dist-info/METADATA" ;;
*) exit 2 ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "uv"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + bin + ":/usr/bin:/bin", "UV_ARGS_LOG=" + argsLog, "UV_INDEX_URL=http://127.0.0.1:1/simple"}
	tl := FindTools(env)
	if tl.UV != filepath.Join(bin, "uv") {
		t.Fatalf("uv not found: %q", tl.UV)
	}
	py := Python{Path: "/usr/bin/python3", Version: "3.11.2"}
	lock, err := tl.Resolve(context.Background(), py, []string{"fancy-name"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lock.String() != "# py: 3.11\nbase==2.0\nfancy-name==0.3" {
		t.Errorf("lock %q", lock.String())
	}
	cache := NewCache(cacheRoot(t), tl)
	paths, err := cache.Install(context.Background(), py, lock, nil)
	if err != nil || len(paths) != 2 {
		t.Fatalf("install: %v %v", paths, err)
	}
	if _, err := os.Stat(filepath.Join(paths[0], "fake", "__init__.py")); err != nil {
		t.Error(err)
	}
	data, _ := os.ReadFile(argsLog)
	calls := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(calls) != 3 {
		t.Fatalf("calls: %q", calls)
	}
	if !strings.HasPrefix(calls[0], "pip compile ") || !strings.Contains(calls[0], "--python /usr/bin/python3") || !strings.Contains(calls[0], "--strip-extras") {
		t.Errorf("compile: %s", calls[0])
	}
	for _, c := range calls[1:] {
		if !strings.HasPrefix(c, "pip install --no-deps --link-mode=copy --target ") || !strings.Contains(c, "--python /usr/bin/python3") ||
			!strings.HasSuffix(c, " -- base==2.0") && !strings.HasSuffix(c, " -- fancy-name==0.3") {
			t.Errorf("install: %s", c)
		}
	}
	for _, c := range calls {
		if strings.Contains(c, "--no-config") || strings.Contains(c, "--index-url") {
			t.Errorf("the user's uv configuration must apply: %s", c)
		}
	}

	// What uv installed is checked before it fills the shared folder.
	_, err = NewCache(t.TempDir(), FindTools(append(env, "UV_FAKE_NAME=other"))).Install(context.Background(), py, ParseLock("base==2.0"), nil)
	if err == nil || !strings.Contains(err.Error(), `uv installed something else than base==2.0 (it is "other", not base): it is not used`) {
		t.Errorf("another package: %v", err)
	}

	// uv's words for a missing package; the index (a live listener)
	// answers, so the package really is missing.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	env = append(env, "UV_INDEX_URL=http://"+ln.Addr().String()+"/simple",
		"UV_FAKE_OUTPUT=  × No solution found when resolving dependencies:\n  ╰─▶ Because nosuch was not found in the package registry and you require nosuch, we can conclude that your requirements are unsatisfiable.")
	_, err = FindTools(env).Resolve(context.Background(), py, []string{"nosuch"}, nil)
	var e *Error
	if !errors.As(err, &e) || e.Kind != ErrNotFound || e.Package != "nosuch" || !strings.HasPrefix(err.Error(), "no package named 'nosuch' on the index http://127.0.0.1:") {
		t.Errorf("not found: %v", err)
	}
	env = append(env, "UV_FAKE_OUTPUT=error: Failed to fetch: `http://x/simple/base/`\n  Caused by: Request failed after 3 retries\n  Caused by: error sending request for url\n  Caused by: tcp connect error: Connection refused (os error 111)")
	_, err = NewCache(cacheRoot(t), FindTools(env)).Install(context.Background(), py, ParseLock("base==1.0"), nil)
	if !errors.As(err, &e) || e.Kind != ErrOffline {
		t.Errorf("offline: %v", err)
	}
}

// Every pip command line ends its options with `--` before requirements,
// or takes them from a file of checked lines (hashes can be given no
// other way): no requirement can be read as an option.
func TestPipCommandLines(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("a shell script stands in for python")
	}
	bin := t.TempDir()
	argsLog := filepath.Join(t.TempDir(), "args")
	if err := os.WriteFile(filepath.Join(bin, "python"), []byte("#!/bin/sh\necho \"$@\" >> "+argsLog+"\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	py := Python{Path: filepath.Join(bin, "python"), Version: "3.11.2"}
	tl := Tools{Env: []string{"PATH=/usr/bin:/bin", "PIP_INDEX_URL=http://127.0.0.1:1/simple"}}
	ctx := context.Background()
	tl.Resolve(ctx, py, []string{"base", "x @ https://h.test/x-1.0-py3-none-any.whl"}, nil)
	NewCache(t.TempDir(), tl).Resolve(ctx, py, []string{"base"}, nil)
	h := strings.Repeat("a", 64)
	NewCache(t.TempDir(), tl).Install(ctx, py, ParseLock("base==1.0\nother==2 --hash=sha256:"+h+"\nx @ https://h.test/x-1.0-py3-none-any.whl\nrange>=1"), nil)
	data, _ := os.ReadFile(argsLog)
	calls := strings.Split(strings.TrimSpace(string(data)), "\n")
	want := []string{
		"-m pip install --dry-run --ignore-installed --report * -- base x @ https://h.test/x-1.0-py3-none-any.whl",
		"-m pip wheel --wheel-dir * -- base",
		"-m pip wheel --no-deps --wheel-dir * -- base==1.0",
		"-m pip wheel --no-deps --wheel-dir * --require-hashes -r *",
		"-m pip install --no-deps --no-compile --target * -- x @ https://h.test/x-1.0-py3-none-any.whl",
		"-m pip install --no-deps --no-compile --target * -- range>=1",
	}
	for _, w := range want {
		re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(w), `\*`, `\S+`) + "$")
		if !slices.ContainsFunc(calls, re.MatchString) {
			t.Errorf("no call like %q in\n%s", w, strings.Join(calls, "\n"))
		}
	}
}

// cacheRoot is t.TempDir for a cache: installed packages are read-only,
// which testing's own removal cannot undo unless it runs as root.
func cacheRoot(t *testing.T) string {
	dir := t.TempDir()
	t.Cleanup(func() { removeAll(dir) })
	return dir
}
