package wmillpy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMaterializeWritesOnceAndReplacesOtherVersions(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "py")
	got, err := Materialize(dir)
	if err != nil || got != dir {
		t.Fatalf("Materialize: %q %v", got, err)
	}
	file := filepath.Join(dir, "wmill", "__init__.py")
	b, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(b, module) {
		t.Fatalf("written module differs (%v)", err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600 like the rest of the data folder", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(filepath.Join(dir, "wmill")); fi.Mode().Perm() != 0o700 {
		t.Errorf("folder mode %v, want 0700", fi.Mode().Perm())
	}

	// Called again: nothing is written.
	old := time.Now().Add(-time.Hour)
	os.Chtimes(file, old, old)
	if _, err := Materialize(dir); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(file); !fi.ModTime().Equal(old) {
		t.Error("an up-to-date module was written again")
	}

	// An older millrun's module (another process wrote it, or this one
	// before an upgrade) is replaced.
	written.Delete(dir)
	os.WriteFile(file, []byte("# an older wmill\n"), 0o600)
	if _, err := Materialize(dir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); !bytes.Equal(b, module) {
		t.Error("an older module was not replaced")
	}
	// So is one removed behind this process's back.
	os.Remove(file)
	if _, err := Materialize(dir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); !bytes.Equal(b, module) {
		t.Error("a removed module was not written again")
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "wmill"))
	if len(entries) != 1 {
		t.Errorf("leftovers beside the module: %v", entries)
	}
	if _, err := Materialize(""); err == nil {
		t.Error("an empty folder was accepted")
	}
	if len(Version()) != 16 {
		t.Errorf("Version %q", Version())
	}
}

// The module's behaviour that needs no server: what it says on import,
// and the error for a name it does not have. (The calls themselves are
// tested against a running engine in engine/wmill_test.go.)
func TestModuleImportAndUnknownNames(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	dir, err := Materialize(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	run := func(code string) (stdout, stderr string, err error) {
		cmd := exec.Command(py, "-c", code)
		cmd.Env = []string{"PYTHONPATH=" + dir, "PYTHONDONTWRITEBYTECODE=1", "PATH=" + os.Getenv("PATH")}
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err = cmd.Run()
		return o.String(), e.String(), err
	}

	out, errOut, err := run("import wmill; print(wmill.BUILTIN, hasattr(wmill, '__wrapped__'), sorted(wmill.__all__)[:2])")
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	if strings.TrimSpace(out) != "True False ['JobStatus', 'Windmill']" {
		t.Errorf("stdout %q", out)
	}
	if lines := strings.Split(strings.TrimSpace(errOut), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "millrun's built-in") {
		t.Errorf("the import should say in one line which wmill it is, got %q", errOut)
	}

	for _, code := range []string{"import wmill; wmill.get_polars_connection_settings()", "from wmill import S3Object"} {
		_, errOut, err := run(code)
		if err == nil {
			t.Errorf("%s: no error", code)
			continue
		}
		name := "get_polars_connection_settings"
		if strings.Contains(code, "S3Object") {
			name = "S3Object"
		}
		for _, want := range []string{"NotInBuiltinError", "wmill." + name + " is not in millrun's built-in wmill module", "pip install wmill"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%s: error lacks %q:\n%s", code, want, errOut)
			}
		}
	}

	// Outside a job it says what is missing instead of calling "None/api".
	_, errOut, err = run("import wmill; wmill.get_variable('u/me/x')")
	if err == nil || !strings.Contains(errOut, "BASE_INTERNAL_URL and WM_BASE_URL are not set") {
		t.Errorf("no server: %v\n%s", err, errOut)
	}
}
