package deps

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/millrun/millrun/engine/deps/depstest"
)

func BenchmarkUnpack(b *testing.B) {
	extra := map[string]string{}
	for i := range 24 {
		var sb strings.Builder
		for j := range 30 {
			fmt.Fprintf(&sb, "def f%d(x):\n    return [i * x for i in range(%d)]\n\n", j, j)
		}
		extra[fmt.Sprintf("benchalpha/m%02d.py", i)] = sb.String()
	}
	ix, _ := depstest.Start(depstest.Dist{Name: "benchalpha", Version: "1.0", Extra: extra})
	defer ix.Stop()
	dir := b.TempDir()
	whl := filepath.Join(dir, "benchalpha-1.0-py3-none-any.whl")
	os.WriteFile(whl, ix.File("benchalpha-1.0-py3-none-any.whl"), 0o600)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		out := filepath.Join(dir, fmt.Sprint(i))
		if err := unpackWheel(whl, out, "/usr/bin/python3"); err != nil {
			b.Fatal(err)
		}
	}
}
