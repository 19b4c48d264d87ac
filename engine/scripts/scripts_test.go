package scripts

import "testing"

func TestValidatePath(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"u/me/x", "f/ops/deploy", "u/me/sub/dir.v2", "f/a-b/c_d"} {
		if err := ValidatePath(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for _, p := range []string{"", "x", "u/me", "g/a/b", "u//x", "u/me/../x", "u/me/x/", "/u/me/x", "u/me/x y", "u/me/.."} {
		if err := ValidatePath(p); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
}
