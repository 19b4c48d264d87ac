package deps

import (
	"slices"
	"strings"
	"testing"
)

func pinLines(l Lock) []string {
	var out []string
	for _, p := range l.Pins() {
		out = append(out, p.Line)
	}
	return out
}

// Locks as wmill sync carries them come back out byte for byte.
func TestLockRoundTrip(t *testing.T) {
	for _, text := range []string{
		"# py: 3.11\nanyio==4.5.0\ncertifi==2025.6.15\nh11==0.16.0\nhttpx==0.28.1\nwmill==1.404.0",
		"pandas==2.0.0\nnumpy==1.24.0\n",
		"# py311\nrequests==2.31.0\r\n\r\n",
		"# py: 3.12\n# a comment someone added\n--index-url https://example.test/simple\nrequests==2.32.3  # inline\nfoo @ https://example.test/foo-1.0.whl\n",
		"",
	} {
		if got := ParseLock(text).String(); got != text {
			t.Errorf("round trip\n got %q\nwant %q", got, text)
		}
	}
}

func TestLockParse(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	l := ParseLock("# py: 3.11\nanyio==4.5.0\nPyYAML==6.0.1\nrequests==2.32.3  # via x\n--index-url https://x\n#comment\n\nfoo[bar]==1.0 ; python_version >= \"3.8\"\nbaz @ https://example.test/baz.whl\npsycopg2-binary==2.9.9 \\\n    --hash=sha256:" + a + " \\\n    --hash=sha256:" + b + "\nlast==1")
	if l.Python() != "3.11" {
		t.Errorf("python %q", l.Python())
	}
	want := []string{"anyio==4.5.0", "PyYAML==6.0.1", "requests==2.32.3", `foo[bar]==1.0 ; python_version >= "3.8"`, "baz @ https://example.test/baz.whl", "psycopg2-binary==2.9.9", "last==1"}
	if got := pinLines(l); !slices.Equal(got, want) || l.Err() != nil {
		t.Fatalf("pins\n got %q\nwant %q\nerr %v", got, want, l.Err())
	}
	if len(l.skipped) != 1 || !strings.Contains(l.skipped[0], "--index-url https://x") {
		t.Errorf("skipped: %q", l.skipped)
	}
	if h := l.Pins()[5].Hashes; !slices.Equal(h, []string{"sha256:" + a, "sha256:" + b}) {
		t.Errorf("hashes %q", h)
	}
	p := l.Pins()
	if p[1].Name != "pyyaml" || p[1].Version != "6.0.1" || p[1].folder() != "pyyaml==6.0.1" {
		t.Errorf("pyyaml: %+v %s", p[1], p[1].folder())
	}
	if p[3].Name != "foo" || p[3].Version != "1.0" {
		t.Errorf("markers: %+v", p[3])
	}
	if p[4].Name != "baz" || p[4].Version != "" {
		t.Errorf("urls: %+v", p[4])
	}
	if f := p[4].folder(); !strings.HasPrefix(f, "baz@url-") || strings.ContainsAny(f, "/:") {
		t.Errorf("url folder %q", f)
	}
	// Older locks say `# py311`.
	if got := ParseLock("#py311\nx==1").Python(); got != "3.11" {
		t.Errorf("py311: %q", got)
	}
	if got := ParseLock("# python is great\nx==1").Python(); got != "" {
		t.Errorf("not a version: %q", got)
	}
}

func TestLockFormatAndWithout(t *testing.T) {
	l := NewLock("3.11", []Pin{{Line: "wmill==1.404.0", Name: "wmill"}, {Line: "httpx==0.28.1", Name: "httpx"}, {Line: "anyio==4.5.0", Name: "anyio"}})
	want := "# py: 3.11\nanyio==4.5.0\nhttpx==0.28.1\nwmill==1.404.0"
	if l.String() != want {
		t.Errorf("format %q", l.String())
	}
	if !l.Has("WMILL") {
		t.Error("Has")
	}
	w := l.Without("wmill")
	if w.String() != "# py: 3.11\nanyio==4.5.0\nhttpx==0.28.1" || w.Has("wmill") {
		t.Errorf("without %q", w.String())
	}
	// Lines around the removed one are untouched, continuation included.
	orig := "# py: 3.11\r\nwmill==1 \\\n  --hash=sha256:" + strings.Repeat("0", 64) + "\nzzz==2  # keep me\r\n"
	if got := ParseLock(orig).Without("wmill").String(); got != "# py: 3.11\r\nzzz==2  # keep me\r\n" {
		t.Errorf("without keeps bytes: %q", got)
	}
	if got := NewLock("3.12", nil).String(); got != "# py: 3.12" {
		t.Errorf("empty: %q", got)
	}
}
