package runtime

import (
	"errors"
	"strings"
	"testing"
)

// fakeWindows is a Windows machine as interpreter discovery sees it.
type fakeWindows struct {
	path    map[string]string   // name → what PATH finds
	reg     map[string]string   // root\key\name → value
	subkeys map[string][]string // root\key → subkeys
	files   map[string]bool     // existing files
	realExe map[string]string   // argv[0] (+ -3) → sys.executable
	env     map[string]string
}

func (w fakeWindows) finder() finder {
	return finder{
		lookPath: func(n string) (string, error) {
			if p, ok := w.path[n]; ok {
				return p, nil
			}
			return "", errors.New("not found")
		},
		regString: func(root, key, name string) (string, bool) {
			v, ok := w.reg[root+`\`+key+`\`+name]
			return v, ok
		},
		regSubkeys: func(root, key string) []string { return append([]string(nil), w.subkeys[root+`\`+key]...) },
		env:        func(n string) string { return w.env[n] },
		exists:     func(p string) bool { return w.files[p] },
		output: func(argv ...string) (string, error) {
			k := argv[0]
			if len(argv) > 1 && argv[1] == "-3" {
				k += " -3"
			}
			if p, ok := w.realExe[k]; ok {
				return p + "\r\n", nil
			}
			return "", errors.New("exit status 9009")
		},
	}
}

func TestWindowsPythonDiscovery(t *testing.T) {
	t.Parallel()
	store := `C:\Users\ann\AppData\Local\Microsoft\WindowsApps\python.exe`
	cases := []struct {
		name string
		w    fakeWindows
		want string
	}{
		{"the py launcher (python.org's installer)", fakeWindows{
			path:    map[string]string{"py": `C:\Windows\py.exe`, "python": store},
			realExe: map[string]string{`C:\Windows\py.exe -3`: `C:\Users\ann\AppData\Local\Programs\Python\Python312\python.exe`},
		}, `C:\Users\ann\AppData\Local\Programs\Python\Python312\python.exe`},
		{"the Store's placeholder is not Python", fakeWindows{path: map[string]string{"python": store, "python3": store}}, ""},
		{"python.exe on PATH", fakeWindows{
			path:    map[string]string{"python": `C:\Python311\python.exe`},
			realExe: map[string]string{`C:\Python311\python.exe`: `C:\Python311\python.exe`},
		}, `C:\Python311\python.exe`},
		{"PEP 514, newest version first", fakeWindows{
			subkeys: map[string][]string{`HKLM\Software\Python\PythonCore`: {"3.9", "3.12", "3.10"}},
			reg: map[string]string{
				`HKLM\Software\Python\PythonCore\3.9\InstallPath\`:  `C:\Py39`,
				`HKLM\Software\Python\PythonCore\3.12\InstallPath\`: `C:\Py312`,
			},
			files: map[string]bool{`C:\Py39\python.exe`: true, `C:\Py312\python.exe`: true},
		}, `C:\Py312\python.exe`},
	}
	for _, c := range cases {
		if got := findWindowsPython(c.w.finder()); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestWindowsBashAndNodeDiscovery(t *testing.T) {
	t.Parallel()
	wsl := fakeWindows{path: map[string]string{"bash": `C:\Windows\System32\bash.exe`},
		reg:   map[string]string{`HKLM\Software\GitForWindows\InstallPath`: `C:\Program Files\Git`},
		files: map[string]bool{`C:\Program Files\Git\bin\bash.exe`: true}}
	if got := findWindowsBash(wsl.finder()); got != `C:\Program Files\Git\bin\bash.exe` {
		t.Errorf("WSL's bash.exe must not be taken for Git's: %q", got)
	}
	local := fakeWindows{env: map[string]string{"LOCALAPPDATA": `C:\Users\ann\AppData\Local`},
		files: map[string]bool{`C:\Users\ann\AppData\Local\Programs\Git\bin\bash.exe`: true}}
	if got := findWindowsBash(local.finder()); !strings.HasSuffix(got, `Programs\Git\bin\bash.exe`) {
		t.Errorf("a per-user Git: %q", got)
	}
	if got := findWindowsBash(fakeWindows{}.finder()); got != "" {
		t.Errorf("no bash at all: %q", got)
	}
	node := fakeWindows{env: map[string]string{"ProgramFiles": `C:\Program Files`}, files: map[string]bool{`C:\Program Files\nodejs\node.exe`: true}}
	if got := findWindowsNode(node.finder()); got != `C:\Program Files\nodejs\node.exe` {
		t.Errorf("node in its installer's folder: %q", got)
	}
	if InstallHint("windows", "bash") == "" || !strings.Contains(InstallHint("windows", "python"), "python.org") {
		t.Error("install hints for Windows are missing")
	}
}
