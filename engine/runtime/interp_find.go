package runtime

import (
	"slices"
	"strconv"
	"strings"
)

// finder is what interpreter discovery on Windows reads: PATH, the
// registry, well-known folders, and the interpreters themselves. Tests
// give it fakes, so the rules are checked on any system.
type finder struct {
	lookPath func(name string) (string, error)
	// regString reads a registry string value ("" name: the key's
	// default); root is "HKCU" or "HKLM".
	regString func(root, key, name string) (string, bool)
	// regSubkeys lists a key's subkeys.
	regSubkeys func(root, key string) []string
	env        func(name string) string
	exists     func(path string) bool
	// output runs argv and returns its standard output.
	output func(argv ...string) (string, error)
}

// findWindowsPython finds Python the ways Windows users install it: the
// py launcher (python.org's installer), python.exe on PATH (not the
// Microsoft Store's placeholder, which only offers to install it), and
// the registry's PEP 514 entries, newest version first.
func findWindowsPython(f finder) string {
	real := func(argv ...string) string {
		out, err := f.output(append(argv, "-c", "import sys; print(sys.executable)")...)
		if err != nil {
			return ""
		}
		p := strings.TrimSpace(out)
		if p == "" || !strings.Contains(p, `:\`) && !strings.HasPrefix(p, `\\`) {
			return ""
		}
		return p
	}
	if py, err := f.lookPath("py"); err == nil {
		if p := real(py, "-3"); p != "" {
			return p
		}
	}
	for _, name := range []string{"python3", "python"} {
		p, err := f.lookPath(name)
		if err != nil || strings.Contains(strings.ToLower(p), `\microsoft\windowsapps\`) {
			continue
		}
		if real := real(p); real != "" {
			return real
		}
	}
	for _, root := range []string{"HKCU", "HKLM"} {
		for _, base := range []string{`Software\Python\PythonCore`, `Software\WOW6432Node\Python\PythonCore`} {
			versions := f.regSubkeys(root, base)
			sortVersionsDesc(versions)
			for _, v := range versions {
				key := base + `\` + v + `\InstallPath`
				if p, ok := f.regString(root, key, "ExecutablePath"); ok && f.exists(p) {
					return p
				}
				if dir, ok := f.regString(root, key, ""); ok && f.exists(winJoin(dir, "python.exe")) {
					return winJoin(dir, "python.exe")
				}
			}
		}
	}
	return ""
}

// findWindowsBash finds Git for Windows' bash: on PATH (but not WSL's
// bash.exe in System32, which runs in a Linux distribution), in the
// registry, or in its default folders.
func findWindowsBash(f finder) string {
	if p, err := f.lookPath("bash"); err == nil && !strings.Contains(strings.ToLower(p), `\windows\system32\`) {
		return p
	}
	for _, root := range []string{"HKLM", "HKCU"} {
		if dir, ok := f.regString(root, `Software\GitForWindows`, "InstallPath"); ok && f.exists(winJoin(dir, "bin", "bash.exe")) {
			return winJoin(dir, "bin", "bash.exe")
		}
	}
	for _, base := range []string{f.env("ProgramFiles"), f.env("LOCALAPPDATA") + `\Programs`} {
		if base == "" || base == `\Programs` {
			continue
		}
		if p := winJoin(base, "Git", "bin", "bash.exe"); f.exists(p) {
			return p
		}
	}
	return ""
}

// findWindowsNode finds Node.js on PATH or in the installer's folder.
func findWindowsNode(f finder) string {
	if p, err := f.lookPath("node"); err == nil {
		return p
	}
	if pf := f.env("ProgramFiles"); pf != "" {
		if p := winJoin(pf, "nodejs", "node.exe"); f.exists(p) {
			return p
		}
	}
	return ""
}

// winJoin joins a Windows path; filepath.Join would use the build's
// separator, and these rules are tested on Linux too.
func winJoin(parts ...string) string {
	out := strings.TrimRight(parts[0], `\`)
	for _, p := range parts[1:] {
		out += `\` + strings.Trim(p, `\`)
	}
	return out
}

// sortVersionsDesc orders "3.9", "3.12", "3.12-32" newest first.
func sortVersionsDesc(vs []string) {
	key := func(v string) [2]int {
		v, _, _ = strings.Cut(v, "-")
		maj, min, _ := strings.Cut(v, ".")
		a, _ := strconv.Atoi(maj)
		b, _ := strconv.Atoi(min)
		return [2]int{a, b}
	}
	slices.SortStableFunc(vs, func(x, y string) int {
		kx, ky := key(x), key(y)
		if kx[0] != ky[0] {
			return ky[0] - kx[0]
		}
		return ky[1] - kx[1]
	})
}

// InstallHint says how to get a missing interpreter on goos.
func InstallHint(goos, lang string) string {
	switch goos + "/" + lang {
	case "windows/python":
		return "Install Python from python.org (it adds the py launcher) or the Microsoft Store, then restart millrun."
	case "windows/bash":
		return "Install Git for Windows (it brings bash.exe), then restart millrun."
	case "windows/node":
		return "Install Node.js from nodejs.org (or Bun, or Deno) for TypeScript, then restart millrun."
	case "darwin/python":
		return "Install Python 3 (python.org or Homebrew: brew install python), then restart millrun."
	case "darwin/node":
		return "Install Node.js (nodejs.org or Homebrew: brew install node), or Bun or Deno, then restart millrun."
	case "linux/python":
		return "Install python3 (Debian and Ubuntu: sudo apt install python3), then restart millrun."
	case "linux/node":
		return "Install Node.js (Debian and Ubuntu: sudo apt install nodejs), or Bun or Deno, for TypeScript, then restart millrun."
	case "linux/bash", "darwin/bash":
		return "Install bash, then restart millrun."
	}
	return ""
}
