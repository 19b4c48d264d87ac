package deps

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func lines(r Requirements) string { return strings.Join(r.Lines(), " ") }

func TestInferImports(t *testing.T) {
	code := `"""A docstring that mentions
import notapackage
"""
import os, sys
import requests
import numpy as np, pandas
from PIL import Image
from yaml import safe_load
import psycopg2.extras
from bs4 import BeautifulSoup
from dateutil import parser as dp
from dotenv import load_dotenv
from slack_sdk import WebClient
from googleapiclient.discovery import build
from google.cloud import bigquery, storage
import google.cloud.pubsub_v1
from __future__ import annotations
import json; import httpx
from typing import (
    Any,  # a comment inside the brackets
    Dict,
)
import \
    wmill
x = "import notastring"
if True:
    import inside_if
try:
    import ujson
except ImportError:
    pass
def helper():
    import inside_helper

@decorator
def main(a: int):
    import inside_main
    return a

import after_main
`
	r := Infer("f/folder/script", code, nil)
	want := "Pillow PyYAML beautifulsoup4 google-api-python-client google-cloud-bigquery google-cloud-pubsub google-cloud-storage httpx numpy pandas psycopg2-binary python-dateutil python-dotenv requests slack-sdk wmill"
	got := r.Lines()
	slices.SortFunc(got, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	w := strings.Fields(want)
	slices.SortFunc(w, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	if !slices.Equal(got, w) {
		t.Fatalf("requirements\n got %v\nwant %v", got, w)
	}
	if r.Manual || len(r.Relative) != 0 || len(r.Python) != 0 {
		t.Errorf("unexpected %+v", r)
	}
	for _, q := range r.List {
		if q.Line == "Pillow" && (q.Import != "PIL" || q.Name != "pillow" || q.Source != FromImport) {
			t.Errorf("Pillow: %+v", q)
		}
		if q.Line == "requests" && q.Import != "" {
			t.Errorf("requests is not mapped: %+v", q)
		}
	}
}

// A script is split at its first "def main(" as Windmill splits it, so a
// mention in a comment before main ends the imports too.
func TestInferStopsAtFirstDefMain(t *testing.T) {
	r := Infer("f/a/b", "import a\n# see def main(x) below\nimport b\ndef main():\n  pass\n", nil)
	if got := lines(r); got != "a" {
		t.Errorf("got %q", got)
	}
	// A library (no main) is read whole.
	r = Infer("f/a/lib", "import a\ndef helper():\n  pass\nimport b\n", nil)
	if got := lines(r); got != "a b" {
		t.Errorf("library: got %q", got)
	}
}

func TestInferStdlibFromInterpreter(t *testing.T) {
	std := func(m string) bool { return m == "os" || m == "tomllib" }
	r := Infer("", "import os\nimport tomllib\nimport json\n", std)
	// json is not in this (made-up) interpreter's list, so it is asked for.
	if got := lines(r); got != "json" {
		t.Errorf("got %q", got)
	}
	r = Infer("", "import os, json, zoneinfo, _thread, __future__, tomllib\n", nil)
	if got := lines(r); got != "" {
		t.Errorf("builtin list: got %q", got)
	}
}

func TestInferRelative(t *testing.T) {
	code := `from f.folder.x import y
import u.user.lib
from .baz import thing
from ..foo.bar import other
from . import sibling, cousin
from f.shared import helpers
import requests
def main():
    pass
`
	r := Infer("f/foo/bar", code, nil)
	want := []string{"f/folder/x", "u/user/lib", "f/foo/baz", "f/foo/bar", "f/foo/sibling", "f/foo/cousin", "f/shared/helpers"}
	if !slices.Equal(r.Relative, want) {
		t.Errorf("relative\n got %v\nwant %v", r.Relative, want)
	}
	if got := lines(r); got != "requests" {
		t.Errorf("requirements: %q (f/u/relative imports are not packages)", got)
	}
	// Going above the workspace root, or no path to start from: nothing.
	if r := Infer("f/x", "from ...a import b\n", nil); len(r.Relative) != 0 || len(r.List) != 0 {
		t.Errorf("above the root: %+v", r)
	}
	if r := Infer("", "from .a import b\n", nil); len(r.Relative) != 0 || len(r.List) != 0 {
		t.Errorf("no path: %+v", r)
	}
}

func TestInferRequirementsBlock(t *testing.T) {
	// Windmill's own test: a bare '#' ends the block.
	// Windmill's own test: a bare '#' ends the block. burkina=0.4 is no
	// PEP 508 requirement (pip refuses it too): it is rejected, in words.
	code := "import pandas\n#requirements:\n#burkina=0.4\n#nigeria\n#\n#congo\ndef main():\n  pass\n"
	r := Infer("f/a/b", code, nil)
	if !r.Manual || lines(r) != "nigeria" || len(r.Rejected) != 1 || r.Rejected[0].Line != "burkina=0.4" || r.Rejected[0].Where != "#requirements: line 3" {
		t.Errorf("got %q manual=%v rejected %+v", lines(r), r.Manual, r.Rejected)
	}
	// "# requirements:" with a space, two pins on one package both kept,
	// an option refused, a line of two words ends the block.
	code = "# requirements:\n# pandas>=2\n# pandas<3\n#--index-url=https://x\n# requests\n# two words\n# ignored\nimport numpy\n"
	r = Infer("", code, nil)
	if got := lines(r); got != "pandas<3 pandas>=2 requests" {
		t.Errorf("got %q", got)
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), `"--index-url=https://x" (#requirements: line 4) cannot be installed: it is a pip option`) {
		t.Errorf("option: %v", err)
	}
	// Workspace dependency files on the marker line are reported.
	r = Infer("", "# requirements: default, base\nimport numpy\n", nil)
	if !r.Manual || !slices.Equal(r.Workspace, []string{"default", "base"}) || len(r.List) != 0 {
		t.Errorf("workspace refs: %+v", r)
	}
	// Relative imports are still listed (the job needs them), though
	// their requirements are not to be merged.
	r = Infer("f/a/b", "#requirements:\n#x\nfrom .c import d\n", nil)
	if !slices.Equal(r.Relative, []string{"f/a/c"}) {
		t.Errorf("relative under manual: %v", r.Relative)
	}
}

func TestInferExtraRequirements(t *testing.T) {
	code := "#extra_requirements:\n#PyYAML==6.0.1\n#tabulate\nimport yaml\nimport requests\n"
	r := Infer("", code, nil)
	// The extra pin replaces the inferred PyYAML; requests stays inferred.
	if got := lines(r); got != "PyYAML==6.0.1 requests tabulate" {
		t.Errorf("got %q", got)
	}
	if r.Manual {
		t.Error("extra requirements keep inference")
	}
	r = Infer("", "# extra-requirements:\n# httpx\nimport requests\n", nil)
	if got := lines(r); got != "httpx requests" {
		t.Errorf("hyphen form: %q", got)
	}
}

func TestInferPins(t *testing.T) {
	code := "import pandas  # pin: pandas>=2\nimport pandas # upper bound # pin: pandas<3\nfrom numpy import array # repin: numpy==1.26.4\nimport numpy\nimport requests # a comment\n"
	r := Infer("", code, nil)
	if got := lines(r); got != "numpy==1.26.4 pandas<3 pandas>=2 requests" {
		t.Errorf("got %q", got)
	}
}

func TestInferPEP723(t *testing.T) {
	code := `# /// script
# requires-python = ">=3.12" # the interpreter
# dependencies = [
#   "requests<3",   # HTTP
#   'rich',
#   "pandas[excel] >= 2",
# ]
#
# [tool.uv]
# dependencies = ["ignored"]
# ///
import numpy
def main():
    pass
`
	r := Infer("", code, nil)
	if !r.Manual || lines(r) != "pandas[excel] >= 2 requests<3 rich" {
		t.Errorf("got %q manual=%v", lines(r), r.Manual)
	}
	if !slices.Equal(r.Python, []string{">=3.12"}) {
		t.Errorf("python %v", r.Python)
	}
	// An unclosed block is ignored: inference applies.
	r = Infer("", "# /// script\n# dependencies = [\"x\"]\nimport numpy\n", nil)
	if r.Manual || lines(r) != "numpy" {
		t.Errorf("unclosed: %+v", r)
	}
	// The first of #requirements: and a PEP 723 block wins.
	r = Infer("", "#requirements:\n#a\n\n# /// script\n# dependencies = [\"b\"]\n# ///\n", nil)
	if lines(r) != "a" {
		t.Errorf("first wins: %q", lines(r))
	}
}

func TestInferPythonAnnotations(t *testing.T) {
	cases := map[string][]string{
		"# py312\nimport x\n":                    {"==3.12.*"},
		"#py311, no_cache\nimport x\n":           {"==3.11.*"},
		"# py: >=3.12\n# py: <3.14\n":            {">=3.12", "<3.14"},
		"#py: 3.12\n":                            {"3.12"},
		"# this script needs py312\n":            nil, // other words: not an annotation line
		"import x\n# py312\n":                    nil, // not leading
		"# a comment\n# py: >=3.11\ndef main():": {">=3.11"},
	}
	for code, want := range cases {
		if got := Infer("", code, nil).Python; !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %v, want %v", code, got, want)
		}
	}
}

func TestMerge(t *testing.T) {
	main := Infer("f/a/main", "import pandas\nimport requests # pin: requests==2.31.0\nfrom .lib import x\n", nil)
	lib := Infer("f/a/lib", "# py: >=3.11\nimport pandas # pin: pandas>=2\nimport requests # pin: requests==2.32.3\nimport httpx\nfrom .other import y\n", nil)
	m := Merge(main, lib)
	// lib's pin beats main's inferred pandas; main's and lib's requests
	// pins are both kept for the resolver to reconcile or refuse.
	if got := lines(m); got != "httpx pandas>=2 requests==2.31.0 requests==2.32.3" {
		t.Errorf("got %q", got)
	}
	if !slices.Equal(m.Python, []string{">=3.11"}) || !slices.Equal(m.Relative, []string{"f/a/lib", "f/a/other"}) {
		t.Errorf("merged %+v", m)
	}
	// A repin wins over every pin, whichever script it came from.
	re := Infer("f/a/x", "import pandas # repin: pandas==2.1.0\n", nil)
	if got := lines(Merge(m, re)); got != "httpx pandas==2.1.0 requests==2.31.0 requests==2.32.3" {
		t.Errorf("repin: %q", got)
	}
	// Merge does not change its inputs.
	if lines(main) != "pandas requests==2.31.0" {
		t.Errorf("input changed: %q", lines(main))
	}
	if got := lines(m.Without("PANDAS", "httpx")); got != "requests==2.31.0 requests==2.32.3" {
		t.Errorf("without: %q", got)
	}
	if !m.Has("Requests") || m.Has("wmill") {
		t.Error("Has")
	}
}

// Odd input never panics and reads what it can.
func TestInferOddInput(t *testing.T) {
	for _, code := range []string{
		"", "import", "from", "from import x", "from . import", "import (", "'''unterminated",
		"\"unterminated\nimport a\n", "import a\\", "from .. import *", "# /// script\n# dependencies = [\n# ///\n",
		"# /// script\n# dependencies = [\"a\", {x = 1}, [\"b\"]]\n# requires-python = '''>=3.10'''\n# ///\n",
		"import a\r\nimport b\r\n", "\tindented = 1\nimport c", "import ü_module",
	} {
		_ = Infer("f/a/b", code, nil)
	}
	if got := lines(Infer("", "import a\r\nimport b\r\n", nil)); got != "a b" {
		t.Errorf("CRLF: %q", got)
	}
	if got := lines(Infer("", "\"unterminated\nimport a\n", nil)); got != "a" {
		t.Errorf("after an unterminated string: %q", got)
	}
}

func FuzzInfer(f *testing.F) {
	f.Add("import a\nfrom .b import c\n# /// script\n# dependencies = [\"x\"]\n# ///\n")
	f.Add("#requirements:\n#a\n")
	f.Fuzz(func(t *testing.T, code string) {
		_ = Infer("f/a/b", code, nil)
		_ = ParseLock(code).Without("a")
	})
}
