//go:build unix

package npm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeBun stands in for bun (not installed on the test machines): it
// records its arguments and the files it was given, and installs what
// package.json names as empty packages, writing a bun.lock when asked to.
func fakeBun(t *testing.T, record string, fail string) string {
	t.Helper()
	script := `#!/bin/sh
set -e
rec="` + record + `"
mkdir -p "$rec"
echo "$@" >> "$rec/args"
ls -A | sort | tr '\n' ' ' >> "$rec/files"; echo >> "$rec/files"
[ -f bun.lock ] && cp bun.lock "$rec/bun.lock.given"
` + fail + `
mkdir -p node_modules/right
echo '{"name":"right","version":"2.0.0"}' > node_modules/right/package.json
case "$*" in *--save-text-lockfile*) printf '{\n  "lockfileVersion": 1,\n  "workspaces": {\n    "": {\n      "dependencies": {\n        "right": "latest",\n      },\n    },\n  },\n  "packages": {\n    "right": ["right@2.0.0", "", {}, "sha512-x"],\n  }\n}\n' > bun.lock;; esac
`
	p := filepath.Join(t.TempDir(), "bun")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBunInstallAndResolveCommands(t *testing.T) {
	rec := t.TempDir()
	c := &Cache{Root: t.TempDir(), Bun: fakeBun(t, rec, ""), Env: []string{"PATH=/usr/bin:/bin"}}
	lock, nm, err := c.Resolve(context.Background(), []Dep{{"right", "latest"}}, ToolBun, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lock.Versions()["right"] != "2.0.0" || !strings.HasPrefix(lock.String(), PackageJSON([]Dep{{"right", "latest"}})+"\n//bun.lock\n{") {
		t.Errorf("lock: %s", lock)
	}
	if _, err := os.Stat(filepath.Join(nm, "right", "package.json")); err != nil {
		t.Error(err)
	}
	pushed, _ := ParseLock(strings.Replace(lock.String(), "sha512-x", "sha512-y", 1))
	if _, err := c.Install(context.Background(), pushed, ToolBun, nil); err != nil {
		t.Fatal(err)
	}
	args, _ := os.ReadFile(filepath.Join(rec, "args"))
	files, _ := os.ReadFile(filepath.Join(rec, "files"))
	given, _ := os.ReadFile(filepath.Join(rec, "bun.lock.given"))
	if string(args) != "install --save-text-lockfile\ninstall --no-save\n" {
		t.Errorf("bun's arguments:\n%s", args)
	}
	if string(files) != "package.json \nbun.lock package.json \n" {
		t.Errorf("bun's files:\n%s", files)
	}
	if string(given) != pushed.LockText {
		t.Errorf("bun got another bun.lock:\n%s", given)
	}

	// bun.lockb travels as base64 and is given back as bytes.
	binary, _ := ParseLock(PackageJSON([]Dep{{"right", "2.0.0"}}) + "\n//bun.lockb\nYnVuLWxvY2tiLWJ5dGVz")
	if _, err := c.Install(context.Background(), binary, ToolBun, nil); err != nil {
		t.Fatal(err)
	}
	if files, _ := os.ReadFile(filepath.Join(rec, "files")); !strings.HasSuffix(string(files), "bun.lockb package.json \n") {
		t.Errorf("bun.lockb not written:\n%s", files)
	}

	offline := &Cache{Root: t.TempDir(), Bun: fakeBun(t, t.TempDir(), `echo "error: ConnectionRefused downloading package manifest right" >&2; exit 1`),
		Env: []string{"PATH=/usr/bin:/bin", "npm_config_registry=http://127.0.0.1:9/"}}
	_, _, err = offline.Resolve(context.Background(), []Dep{{"right", "latest"}}, ToolBun, nil)
	var e *Error
	if !errors.As(err, &e) || e.Kind != ErrOffline || err.Error() != "offline: right@latest is not in the cache and the registry http://127.0.0.1:9/ cannot be reached" {
		t.Errorf("offline: %v", err)
	}
	missing := &Cache{Root: t.TempDir(), Bun: fakeBun(t, t.TempDir(), `echo "error: GET http://127.0.0.1:9/nope - 404" >&2; exit 1`), Env: []string{"PATH=/usr/bin:/bin", "npm_config_registry=http://127.0.0.1:9/"}}
	_, _, err = missing.Resolve(context.Background(), []Dep{{"nope", "latest"}}, ToolBun, nil)
	if !errors.As(err, &e) || e.Kind != ErrNotFound || err.Error() != "bun: the registry http://127.0.0.1:9/ has no package nope" {
		t.Errorf("not found: %v", err)
	}
}
