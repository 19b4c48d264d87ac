package npm

// Where a script's or a lock's packages may come from. A script's import
// pins a version of the registry the user configured, nothing else; a
// pushed lock's paths stay inside its own node_modules, and a package it
// installs without an integrity to check is named in the log.

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/millrun/millrun/engine/deps/npm/npmtest"
)

// An import's pin ("left@1.1.0", "left@^1") is a version or range of the
// registry; an alias, a file, a git or URL source, or a name npm would
// not take is refused in words naming the import, before npm runs.
func TestNpmImportPinsOnlyRegistryVersions(t *testing.T) {
	reg := npmtest.New(t, testPackages...)
	root := t.TempDir()
	c := newCache(t, reg, root)
	for _, d := range []Dep{
		{"left", "npm:right@2.0.0"},
		{"left", "file:.."},
		{"left", "link:/tmp"},
		{"left", "git+https://example.test/left.git"},
		{"left", "https:"},
		{"left", "workspace:*"},
		{"left", "1.0.0\n"},
		{"..", "1.0.0"},
		{"left/../../x", "1.0.0"},
		{".bin", "1.0.0"},
		{"node_modules", "1.0.0"},
		{"le ft", "1.0.0"},
	} {
		_, _, err := c.Resolve(context.Background(), []Dep{{"right", "2.0.0"}, d}, ToolNPM, nil)
		var e *Error
		if !errors.As(err, &e) || e.Kind != ErrInvalid || e.Package != d.String() || !strings.Contains(err.Error(), "the import "+jsString(d.String())) {
			t.Errorf("%s: %v", d, err)
		}
	}
	if n := reg.Hits("/"); n > 0 {
		t.Errorf("npm ran: %d requests to the registry", n)
	}
	for _, ok := range []Dep{{"left", "latest"}, {"left", "^1.1.0"}, {"left", ">=1.0.0 <1.2.0 || 2.x"}, {"@acme/util", "~0.3"}, {"left", "1.1.0-rc.1+build.5"}} {
		if err := ok.Check(); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

// A pushed bun.lock's package paths are npm names, so the package-lock
// made from it places every package inside the lock's own node_modules.
func TestNpmPushedLockPathsAreNames(t *testing.T) {
	for _, entry := range []string{
		`"..": ["left@1.1.0", "", {}, "sha512-x"]`,
		`"left/..": ["left@1.1.0", "", {}, "sha512-x"]`,
		`"@acme/..": ["left@1.1.0", "", {}, "sha512-x"]`,
		`"left": ["../../left@1.1.0", "", {}, "sha512-x"]`,
		`"left": ["@x/../y@1.1.0", "", {}, "sha512-x"]`,
		`"le ft": ["left@1.1.0", "", {}, "sha512-x"]`,
	} {
		l, err := ParseLock("{\"dependencies\": {\"left\": \"^1\"}}\n//bun.lock\n{\"lockfileVersion\": 1, \"packages\": {" + entry + "}}")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lockForNPM(l); err == nil {
			t.Errorf("%s: made a package-lock", entry)
		}
	}
}

// A pushed lock whose bun.lock gives a package no integrity installs it
// unchecked, as npm does; the log says so, naming it.
func TestNpmUncheckedPackagesAreNamed(t *testing.T) {
	reg := npmtest.New(t, testPackages...)
	c := newCache(t, reg, t.TempDir())
	l, err := ParseLock(strings.Replace(pushedLock(reg).String(), reg.Integrity("left", "1.1.0"), "", 1))
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if _, err := c.Install(context.Background(), l, ToolNPM, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "npm: installed WITHOUT an integrity check (the lock has none for them): left@1.1.0\n") {
		t.Errorf("log:\n%s", log.String())
	}
	log.Reset()
	if _, err := newCache(t, reg, t.TempDir()).Install(context.Background(), pushedLock(reg), ToolNPM, &log); err != nil || strings.Contains(log.String(), "WITHOUT") {
		t.Errorf("a lock with every integrity: %v\n%s", err, log.String())
	}
}
