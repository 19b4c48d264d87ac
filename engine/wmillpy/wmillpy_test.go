package wmillpy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	t.Parallel()
	if len(Version()) != 16 || !bytes.Equal(Module(), module) {
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
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "wmill"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "wmill", "__init__.py"), Module(), 0o600); err != nil {
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
