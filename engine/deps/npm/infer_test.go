package npm

import (
	"reflect"
	"strings"
	"testing"
)

func TestInferImportsAndPins(t *testing.T) {
	src := `
import * as wmill from "windmill-client";
import _ from "lodash@4.17.21";
import fp from "lodash@4.17.20/fp";
import { z } from "npm:zod@3.22.4";
import { thing } from "@acme/util@1.2.3/deep/path";
import type { Only } from "types-only";
import fs from "fs";
import { readFile } from "fs/promises";
import path from "node:path";
import { Database } from "bun:sqlite";
import { assert } from "jsr:@std/assert";
import { serve } from "https://deno.land/std/http/server.ts";
import { helper } from "./helpers";
import { x } from "../other/x";
import { y } from "/f/common/helpers.ts";
export { again } from "re-exported@2";
const later = () => import("dynamic-pkg");
const req = () => require("required-pkg");

export async function main(o: Only) {
  return [wmill, _, fp, z, thing, fs, readFile, path, Database, assert, serve, helper, x, y, later, req];
}
`
	im, err := Scan(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []Dep{
		{"windmill-client", "latest"},
		{"lodash", "4.17.20"}, // two pins: the lowest, as Windmill's reduceIntersect
		{"zod", "3.22.4"},
		{"@acme/util", "1.2.3"},
		{"re-exported", "2"},
		{"dynamic-pkg", "latest"},
		{"required-pkg", "latest"},
	}
	if !reflect.DeepEqual(im.Packages, want) {
		t.Errorf("packages\n got %v\nwant %v", im.Packages, want)
	}
	if rel := []string{"./helpers", "../other/x", "/f/common/helpers.ts"}; !reflect.DeepEqual(im.Relative, rel) {
		t.Errorf("relative: got %v, want %v", im.Relative, rel)
	}
	if got := Infer(src); !reflect.DeepEqual(got, want) {
		t.Errorf("Infer: %v", got)
	}
}

// An import only used as a type is no import once compiled, for Bun as
// for esbuild: Windmill's lock does not list it either.
func TestInferUnusedImportIsNoDependency(t *testing.T) {
	if got := Infer(`import * as wmill from "windmill-client"; export function main() { return 1 }`); len(got) != 0 {
		t.Errorf("got %v", got)
	}
	if got := Infer(`import "side-effect-only"; export function main() {}`); !reflect.DeepEqual(got, []Dep{{"side-effect-only", "latest"}}) {
		t.Errorf("side effect import: %v", got)
	}
}

func TestScanSyntaxError(t *testing.T) {
	_, err := Scan("export function main( {\n")
	if err == nil || !strings.Contains(err.Error(), "line 2:0: Expected identifier") {
		t.Fatalf("err = %v", err)
	}
	if got := Infer("export function main( {"); got != nil && len(got) != 0 {
		t.Errorf("Infer of broken code: %v", got)
	}
}

func TestSplitAndStripSpecifiers(t *testing.T) {
	for _, c := range []struct{ in, name, version, sub, stripped string }{
		{"lodash", "lodash", "", "", "lodash"},
		{"lodash@4.17.21", "lodash", "4.17.21", "", "lodash"},
		{"lodash@4/fp", "lodash", "4", "/fp", "lodash/fp"},
		{"lodash/fp", "lodash", "", "/fp", "lodash/fp"},
		{"@scope/pkg", "@scope/pkg", "", "", "@scope/pkg"},
		{"@scope/pkg@^1.2.0/a/b", "@scope/pkg", "^1.2.0", "/a/b", "@scope/pkg/a/b"},
		{"npm:zod@3", "zod", "3", "", "zod"},
	} {
		n, v, s, ok := SplitSpecifier(c.in)
		if !ok || n != c.name || v != c.version || s != c.sub {
			t.Errorf("%s: got %q %q %q %v", c.in, n, v, s, ok)
		}
		if got := StripVersion(c.in); got != c.stripped {
			t.Errorf("StripVersion(%s) = %s", c.in, got)
		}
	}
}

func TestModulePath(t *testing.T) {
	for _, c := range []struct{ importer, spec, want string }{
		{"f/foo/bar", "./helpers", "f/foo/helpers"},
		{"f/foo/bar", "./helpers.ts", "f/foo/helpers"},
		{"f/foo/bar", "../common/x", "f/common/x"},
		{"f/foo/bar", "/f/common/helpers.ts", "f/common/helpers"},
		{"f/foo/bar", "/f/common/helpers", "f/common/helpers"},
		{"u/me/a", "./b", "u/me/b"},
	} {
		got, err := ModulePath(c.importer, c.spec)
		if err != nil || got != c.want {
			t.Errorf("%s from %s: %q %v", c.spec, c.importer, got, err)
		}
	}
	if _, err := ModulePath("f/a", "../../../etc/passwd"); err == nil || !strings.Contains(err.Error(), "outside the workspace") {
		t.Errorf("escape: %v", err)
	}
}

func TestClosureFollowsRelativeImports(t *testing.T) {
	ws := map[string]string{
		"f/common/helpers": `import { left } from "left@1.0.0"; import { fmt } from "./fmt"; export const helper = () => fmt(left);`,
		"f/common/fmt":     `import { right } from "right"; import { helper } from "./helpers"; export const fmt = (x: string) => right + x + typeof helper;`,
		"f/other/x":        `export const x = 1;`,
	}
	load := func(p string) (string, bool) { c, ok := ws[p]; return c, ok }
	main := `import { helper } from "/f/common/helpers.ts"; import { x } from "../other/x"; import { left } from "left@1.2.0";
export function main() { return [helper(), x, left]; }`
	deps, mods, err := Closure("f/flows/main", main, load)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Dep{{"left", "1.0.0"}, {"right", "latest"}}; !reflect.DeepEqual(deps, want) {
		t.Errorf("deps %v, want %v", deps, want)
	}
	if len(mods) != 3 || mods["f/common/fmt"] != ws["f/common/fmt"] || mods["f/other/x"] == "" {
		t.Errorf("modules: %v", mods)
	}
	_, _, err = Closure("f/flows/main", `import { nope } from "./nope"; export function main() { return nope }`, load)
	if err == nil || !strings.Contains(err.Error(), `f/flows/main imports "./nope": the workspace has no script f/flows/nope`) {
		t.Errorf("missing module: %v", err)
	}
	ws["f/broken"] = "export const = ;"
	_, _, err = Closure("f/main", `import { a } from "./broken"; export function main() { return a }`, load)
	if err == nil || !strings.Contains(err.Error(), "f/broken does not compile") {
		t.Errorf("broken module: %v", err)
	}
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.2.3", "1.10.0", -1},
		{"2", "1.9", 1},
		{"1.0.0-beta", "1.0.0", -1},
		{"1.0.0", "1.0.0", 0},
	} {
		if got := compareVersions(c.a, c.b); got != c.want {
			t.Errorf("%s vs %s: %d", c.a, c.b, got)
		}
	}
	if got := lowest([]string{"^2.0.0", "~1.5.0", ">=1.10.0"}); got != "~1.5.0" {
		t.Errorf("lowest: %s", got)
	}
}
