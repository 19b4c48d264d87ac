package deps

import (
	"archive/zip"
	"os"
	"path/filepath"
	"testing"
)

func writeZip(t *testing.T, files map[string]string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x-1.0-py3-none-any.whl")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	zw.Close()
	f.Close()
	return p
}

func TestUnpackWheel(t *testing.T) {
	whl := writeZip(t, map[string]string{
		"x/__init__.py":                     "v = 1\n",
		"x-1.0.dist-info/METADATA":          "Name: x\n",
		"x-1.0.data/purelib/x_extra.py":     "e = 1\n",
		"x-1.0.data/platlib/x_native.py":    "n = 1\n",
		"x-1.0.data/scripts/x-cli":          "#!python\nprint('hi')\n",
		"x-1.0.data/headers/x.h":            "int x;\n",
		"x-1.0.data/data/share/x/readme.md": "hi\n",
	})
	dir := t.TempDir()
	if err := unpackWheel(whl, dir, "/opt/py/bin/python3"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"x/__init__.py", "x-1.0.dist-info/METADATA", "x_extra.py", "x_native.py", "bin/x-cli"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for _, p := range []string{"x.h", "share", "x-1.0.data"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s should not be installed", p)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "bin", "x-cli")); string(b) != "#!/opt/py/bin/python3\nprint('hi')\n" {
		t.Errorf("script: %q", b)
	}
	for _, bad := range []string{"../evil.py", "/abs.py", "x/../../evil.py", `x\..\evil.py`, "C:/evil.py"} {
		if err := unpackWheel(writeZip(t, map[string]string{bad: "x"}), t.TempDir(), "py"); err == nil {
			t.Errorf("%q was unpacked", bad)
		}
	}
	if err := unpackWheel(filepath.Join(t.TempDir(), "missing.whl"), dir, "py"); err == nil {
		t.Error("a missing wheel unpacked")
	}
}

func TestWheelName(t *testing.T) {
	for file, want := range map[string]string{
		"fancy_name-0.3-py3-none-any.whl":                    "fancy-name",
		"PyYAML-6.0.1-cp311-cp311-manylinux_2_17_x86_64.whl": "pyyaml",
		"pkg-1.0-1build-py3-none-any.whl":                    "pkg",
		"broken-1.0.tar.gz":                                  "",
		"short-1.0.whl":                                      "",
	} {
		if got := wheelName(file); got != want {
			t.Errorf("wheelName(%s) = %q, want %q", file, got, want)
		}
	}
}

// A wheel fills a pin's folder only if its file name and its metadata
// both say the pin's name and version, and its tags fit.
func TestCheckWheel(t *testing.T) {
	pin := ParseLock("base==2.0").Pins()[0]
	whl := func(file string, files map[string]string) string {
		p := writeZip(t, files)
		dest := filepath.Join(t.TempDir(), file)
		if err := os.Rename(p, dest); err != nil {
			t.Fatal(err)
		}
		return dest
	}
	tags := map[string]bool{"py3-none-any": true, "cp311-cp311-manylinux_2_17_x86_64": true}
	good := map[string]string{"base/__init__.py": "", "base-2.0.dist-info/METADATA": "Name: base\nVersion: 2.0\n\nbody"}
	if err := checkWheel(whl("base-2.0-py3-none-any.whl", good), pin, tags); err != nil {
		t.Errorf("the right wheel: %v", err)
	}
	if err := checkWheel(whl("Base-2.0.0-py2.py3-none-any.whl", good), pin, tags); err != nil {
		t.Errorf("another spelling of the same: %v", err)
	}
	for _, c := range []struct {
		file  string
		files map[string]string
	}{
		{"base-1.0-py3-none-any.whl", good},
		{"other-2.0-py3-none-any.whl", good},
		{"base-2.0-cp39-cp39-win_amd64.whl", good},
		{"base-2.0.tar.gz", good},
		{"base-2.0-py3-none-any.whl", map[string]string{"base-2.0.dist-info/METADATA": "Name: base\nVersion: 1.0\n"}},
		{"base-2.0-py3-none-any.whl", map[string]string{"base-2.0.dist-info/METADATA": "Name: evil\nVersion: 2.0\n"}},
		{"base-2.0-py3-none-any.whl", map[string]string{"base-1.0.dist-info/METADATA": "Name: base\nVersion: 2.0\n"}},
		{"base-2.0-py3-none-any.whl", map[string]string{"a.dist-info/METADATA": "Name: base\nVersion: 2.0\n", "b.dist-info/METADATA": "Name: base\nVersion: 2.0\n"}},
		{"base-2.0-py3-none-any.whl", map[string]string{"base/__init__.py": ""}},
	} {
		if err := checkWheel(whl(c.file, c.files), pin, tags); err == nil {
			t.Errorf("%s %v passed", c.file, c.files)
		}
	}
}
