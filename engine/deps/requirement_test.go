package deps

import (
	"strings"
	"testing"
)

func TestParseRequirement(t *testing.T) {
	for line, want := range map[string]string{
		"requests":                          "requests",
		"Requests_Toolbelt == 1.0":          "requests-toolbelt==1.0",
		"pandas[excel, sql]>=2,<3":          "pandas[excel,sql]>=2,<3",
		"psycopg (>=3.1)":                   "psycopg>=3.1",
		"foo==1.*":                          "foo==1.*",
		"foo===weird-1":                     "foo===weird-1",
		"torch==2.0.0+cpu":                  "torch==2.0.0+cpu",
		"x~=1.4.2 ; python_version>='3.8'":  "x~=1.4.2; python_version>='3.8'",
		"x @ https://h.test/x-1.0.whl#sha1": "x @ https://h.test/x-1.0.whl#sha1",
		"x@git+https://h.test/x.git@v1 ; os_name == 'nt'":                          "x @ git+https://h.test/x.git@v1 ; os_name == 'nt'",
		`y ; (python_version < "3.9" or sys.platform == "win32") and extra == "z"`: `y; (python_version < "3.9" or sys.platform == "win32") and extra == "z"`,
	} {
		r, err := parseRequirement(line)
		if err != nil || r.String() != want {
			t.Errorf("%q: got %q, %v; want %q", line, r.String(), err, want)
		}
	}
	for line, why := range map[string]string{
		"base==2.0\n--index-url x":     "line break (U+000A)",
		"base==2.0\r":                  "line break (U+000D)",
		"base==2.0\u2028-i x":          "line break (U+2028)",
		"base==2.0\u2029":              "line break (U+2029)",
		"base==2.0\u0085":              "line break (U+0085)",
		"base==2.0\x1d":                "line break (U+001D)",
		"base==2.0\v":                  "line break (U+000B)",
		"base==2.0\f":                  "line break (U+000C)",
		"base==2.0\x00":                "control character (U+0000)",
		"base==2.0\t":                  "control character (U+0009)",
		"base==2.0\u00a0":              "plain ASCII",
		"base\xff==2":                  "not valid UTF-8",
		"base==2.0 \\":                 "backslash",
		"--index-url=http://x":         "pip option",
		"-rfile":                       "pip option",
		"base==2.0 --hash=sha256:00":   `"--hash=sha256:00" would be read by pip as an option`,
		"base==2.0 -i http://x":        `"-i" would be read by pip as an option`,
		"base @ http://x/${HOME}.whl":  "'$'",
		"base==2.0 # note":             "comment",
		"https://x.test/a.whl":         "names no project",
		"./local/dir":                  "names no project",
		"/abs/path.whl":                "does not start with a project name",
		"x @ /abs/path.whl":            "is not a URL",
		"x @ https://h.test/a;b":       "",
		"x @ https://h.test/a;os_name": "",
		"burkina=0.4":                  "not a version clause",
		"x==1.0.*.*":                   "not a PEP 440 version clause",
		"x>=1.*":                       "not a PEP 440 version clause",
		"x~=1":                         "not a PEP 440 version clause",
		"x==1 extra":                   "not part of a requirement",
		"x[a b]":                       "extras",
		"x ; python_version":           "its marker",
		"x ; os_name == 'nt' and":      "its marker",
		"x ; 'a' == 'b'":               "one variable against one quoted string",
		"x ; foo == 'b'":               "its marker",
		"x ; (os_name == 'nt'":         "not closed",
		"":                             "does not start with a project name",
	} {
		_, err := parseRequirement(line)
		if why == "" {
			// A URL may hold ';': these are URLs, not markers.
			if err != nil {
				t.Errorf("%q: %v", line, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%q: %v, want %q", line, err, why)
		}
	}
}

// Every folder name is safe on any file system, and only `name==V`
// takes the shared `name==V` folder.
func TestRequirementFolder(t *testing.T) {
	h := "sha256:" + strings.Repeat("a", 64)
	for _, c := range []struct {
		line   string
		hashes []string
		want   string
	}{
		{"Base==2.0", nil, "base==2.0"},
		{"base[x]==2.0 ; os_name == 'posix'", nil, "base==2.0"},
		{"base==2.0", []string{h}, "base==2.0@hashes-"},
		{"base @ https://evil.test/base-2.0-py3-none-any.whl", nil, "base@url-"},
		{"base>=2.0", nil, "base@spec-"},
		{"base==2.*", nil, "base@spec-"},
		{"base===2.0", nil, "base@spec-"},
	} {
		r, err := parseRequirement(c.line)
		if err != nil {
			t.Fatal(err)
		}
		f := r.folder(c.hashes)
		if !strings.HasPrefix(f, c.want) || strings.ContainsAny(f, `/\:*?"<>| `) {
			t.Errorf("%q: folder %q, want %q…", c.line, f, c.want)
		}
	}
	a, _ := parseRequirement("base @ https://a.test/x_y.whl")
	b, _ := parseRequirement("base @ https://a.test/x/y.whl")
	if a.folder(nil) == b.folder(nil) {
		t.Error("two URLs share a folder")
	}
}

func TestMarkers(t *testing.T) {
	env := map[string]string{
		"python_version": "3.11", "python_full_version": "3.11.7", "os_name": "posix", "sys_platform": "linux",
		"platform_machine": "x86_64", "platform_release": "6.1.0-18-amd64", "platform_system": "Linux",
		"platform_version": "#1 SMP", "platform_python_implementation": "CPython", "implementation_name": "cpython",
		"implementation_version": "3.11.7", "extra": "",
	}
	for m, want := range map[string]bool{
		`python_version < "3"`:                                         false,
		`python_version >= "3.8"`:                                      true,
		`python_version == "3.11"`:                                     true,
		`python_version == "3"`:                                        false,
		`python_version == "3.*"`:                                      true,
		`python_version != "3.11.*"`:                                   false,
		`python_version > "3.11"`:                                      false,
		`python_version ~= "3.9"`:                                      true,
		`python_full_version < "3.11.10"`:                              true,
		`"3.8" < python_version`:                                       true,
		`sys_platform == 'win32'`:                                      false,
		`sys.platform == 'linux'`:                                      true,
		`platform_system != "Windows" and os_name == "posix"`:          true,
		`os_name == "nt" or python_version < "3.12"`:                   true,
		`(os_name == "nt" or python_version < "3.10") and extra == ""`: false,
		`extra == "socks"`:                                             false,
		`"linux" in sys_platform`:                                      true,
		`"win" not in sys_platform`:                                    true,
		`platform_machine in "x86_64 aarch64"`:                         true,
		`platform_release >= "6"`:                                      true,
		`implementation_name == "cpython"`:                             true,
	} {
		e, err := parseMarker(m)
		if err != nil {
			t.Errorf("%s: %v", m, err)
			continue
		}
		got, err := e.eval(env)
		if err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", m, got, err, want)
		}
	}
	e, _ := parseMarker(`platform_release ~= "6"`)
	if _, err := e.eval(env); err == nil {
		t.Error("~= between non-versions evaluated")
	}
}

func TestPEP440(t *testing.T) {
	order := []string{"1.0.dev1", "1.0a1", "1.0a2.dev1", "1.0a2", "1.0b1", "1.0rc1", "1.0", "1.0+abc", "1.0+5", "1.0.post1.dev0", "1.0.post1", "1.1", "2!0.1"}
	for i := range order {
		for j := range order {
			a, oka := parsePEP440(order[i])
			b, okb := parsePEP440(order[j])
			if !oka || !okb {
				t.Fatalf("%s %s", order[i], order[j])
			}
			if got, want := a.compare(b), min(max(i-j, -1), 1); got != want {
				t.Errorf("compare(%s, %s) = %d, want %d", order[i], order[j], got, want)
			}
		}
	}
	for _, same := range [][2]string{{"1.0", "1.0.0"}, {"1.0", "v1.0"}, {"1.0RC1", "1.0rc1"}, {"1.0-1", "1.0.post1"}, {"1.0_a_1", "1.0a1"}, {"weird", "WEIRD"}} {
		if !sameVersion(same[0], same[1]) {
			t.Errorf("%s != %s", same[0], same[1])
		}
	}
	for _, diff := range [][2]string{{"1.0", "1.0.1"}, {"1.0", "1.0+local"}, {"2.0", "2.0 ; x"}} {
		if sameVersion(diff[0], diff[1]) {
			t.Errorf("%s == %s", diff[0], diff[1])
		}
	}
	for _, c := range []struct {
		op, spec, v string
		want        bool
	}{
		{"<", "3.0", "3.0rc1", false},
		{"<", "3.0rc2", "3.0rc1", true},
		{">", "3.0", "3.0.post1", false},
		{">", "3.0", "3.0+local", false},
		{">", "3.0", "3.1", true},
		{"==", "3.0", "3.0+local", true},
		{"==", "3.0+a", "3.0+b", false},
		{"~=", "2.2.1", "2.2.9", true},
		{"~=", "2.2.1", "2.3", false},
		{"==", "1.1.*", "1.1.0rc1", true},
		{"!=", "1.1.*", "1.2", true},
		{"===", "1.0", "1.0", true},
		{"===", "1.0", "1.0.0", false},
	} {
		if got, ok := specContains(c.op, c.spec, c.v); !ok || got != c.want {
			t.Errorf("%s %s%s: %v %v", c.v, c.op, c.spec, got, ok)
		}
	}
}

func FuzzParseRequirement(f *testing.F) {
	f.Add("pandas[excel]>=2,<3 ; python_version >= '3.8' and (os_name == 'nt' or extra == 'x')")
	f.Add("x @ https://h.test/x.whl ; os_name == 'nt'")
	f.Fuzz(func(t *testing.T, line string) {
		r, err := parseRequirement(line)
		if err != nil {
			return
		}
		// What is accepted is one line, no option, and reads back the same.
		for _, s := range []string{r.String(), r.install(), line} {
			if lineProblem(s) != "" || strings.ContainsAny(s, "\n\r\\$") {
				t.Fatalf("%q accepted, gives %q", line, s)
			}
		}
		again, err := parseRequirement(r.String())
		if err != nil || again.String() != r.String() {
			t.Fatalf("%q: %q reads back as %q, %v", line, r.String(), again.String(), err)
		}
		if f := r.folder(nil); strings.ContainsAny(f, `/\:*?"<>| `) || strings.HasPrefix(f, ".") {
			t.Fatalf("%q: folder %q", line, f)
		}
	})
}
