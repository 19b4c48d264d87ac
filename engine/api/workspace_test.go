package api

import "testing"

// What an unzip would write outside its folder is never an entry name.
func TestCheckEntryName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"/etc/passwd", "../x.json", "u/../../x.script.json", "u/me/../../../x", "u/me/..", "./u/me/x.py",
		"u//x.py", "u/me/", "", ".", `u\..\..\x.py`, `..\x`, "C:/x.py", "c:x.py", "u/me/x\x00.py", "u/me/x\n.py",
	} {
		if checkEntryName(name) == nil {
			t.Errorf("%q accepted", name)
		}
	}
	for _, name := range []string{"u/me/hello.py", "f/ops/deploy.v2.script.json", "u/me/..x.resource.json", "f/tools/folder.meta.json", "u/me/x...py"} {
		if err := checkEntryName(name); err != nil {
			t.Errorf("%q refused: %v", name, err)
		}
	}
}
