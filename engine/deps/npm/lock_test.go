package npm

import (
	"encoding/json"
	"strings"
	"testing"
)

// windmillLock is the shape of a lock Windmill stores for a Bun script
// (an excerpt of backend/migrations/20251027091803_update_hub_sync_script:
// nested packages, optional platform packages, optional peers, bins).
const windmillLock = `{
  "dependencies": {
    "windmill-cli": "1.566.1"
  }
}
//bun.lock
{
  "lockfileVersion": 1,
  "workspaces": {
    "": {
      "dependencies": {
        "windmill-cli": "1.566.1",
      },
    },
  },
  "packages": {
    "@esbuild/linux-x64": ["@esbuild/linux-x64@0.25.11", "", { "os": "linux", "cpu": "x64" }, "sha512-HSFAT4+WYjIhrHxKBwGmOOSpphjYkcswF449j6EjsjbinTZbp8PJtjsVK1XFJStdzXdy/jaddAep2FGY+wyFAQ=="],

    "@esbuild/linux-loong64": ["@esbuild/linux-loong64@0.25.11", "", { "os": "linux", "cpu": "none" }, "sha512-DIGXL2+gvDaXlaq8xruNXUJdT5tF+SBbJQKbWy/0J7OhU8gOHOzKmGIlfTTl6nHaCOoipxQbuJi7O++ldrxgMw=="],

    "esbuild": ["esbuild@0.25.11", "", { "optionalDependencies": { "@esbuild/linux-loong64": "0.25.11", "@esbuild/linux-x64": "0.25.11" }, "bin": { "esbuild": "bin/esbuild" } }, "sha512-KohQwyzrKTQmhXDW1PjCv3Tyspn9n5GcY2RTDqeORIdIJY8yKIF7sTSopFmn/wpMPW4rdPXI0UE5LJLuq3bx0Q=="],

    "http-errors": ["http-errors@2.0.0", "", { "dependencies": { "statuses": "2.0.1" } }, "sha512-FtwrG/euBzaEjYeRqOgly7G0qviiXoJWnvEH2Z1plBdXgbyjv34pHTSb9zoeHMyDy33+DWy5Wt9Wo+TURtOYSQ=="],

    "statuses": ["statuses@2.0.2", "", {}, "sha512-DvEy55V3DB7uknRo+4iOGT5fP1slR8wQohVdknigZPMpMstaKJQWhwiYBACJE3Ul2pTnATihhBYnRhZQHGBiRw=="],

    "windmill-cli": ["windmill-cli@1.566.1", "", { "dependencies": { "esbuild": "*", "http-errors": "*", "statuses": "*", "ws": "*" }, "bin": { "wmill": "esm/src/main.js" } }, "sha512-dyhcg/fBjOw1GvXxsFI/L+UGgoKTXUBzzVIF7p7HMcNUkD302Uf2l2MwnbJeyYT3czJ8L2oz46/5w2Rq2u/Vhg=="],

    "ws": ["ws@8.18.3", "", { "peerDependencies": { "bufferutil": "^4.0.1", "utf-8-validate": ">=5.0.2" }, "optionalPeers": ["bufferutil", "utf-8-validate"] }, "sha512-PEIGCY5tSlUt50cqyMXfCzX+oOPqN0vuGqWzbcJ2xvnkzkq46oOpz7dQaTDBdfICb4N14+GARUDw2XV2N4tvzg=="],

    "http-errors/statuses": ["statuses@2.0.1", "", {}, "sha512-RwNA9Z/7PrK06rYLIzFMlaF+l73iwpzsqRIFgbMLbTcLD6cOao82TaWefPXQvB2fOC4AjuYSEndS7N/mTCbkdQ=="],
  }
}`

func TestLockRoundTripsByteForByte(t *testing.T) {
	for name, s := range map[string]string{
		"bun.lock":  windmillLock,
		"crlf":      strings.ReplaceAll(windmillLock, "\n", "\r\n"),
		"empty":     "{\n  \"dependencies\": {}\n}\n//bun.lock\n<empty>",
		"lockb":     "{\n  \"dependencies\": {\n    \"a\": \"1.0.0\"\n  }\n}\n//bun.lockb\nYnVuLWxvY2tiLWJ5dGVz",
		"npm mode":  "{\n  \"dependencies\": {\n    \"a\": \"^1\"\n  }\n}",
		"no final}": windmillLock + "\n",
	} {
		l, err := ParseLock(s)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if l.String() != s {
			t.Errorf("%s: not byte for byte", name)
		}
	}
	l, _ := ParseLock(windmillLock)
	if deps, _ := l.Deps(); len(deps) != 1 || deps[0] != (Dep{"windmill-cli", "1.566.1"}) {
		t.Errorf("deps %v", deps)
	}
	if v := l.Versions(); v["windmill-cli"] != "1.566.1" || v["statuses"] != "2.0.2" || len(v) != 7 {
		t.Errorf("versions %v", v)
	}
	if l.Empty() || l.Binary || !strings.HasPrefix(l.LockText, "{\n  \"lockfileVersion\": 1") {
		t.Errorf("parsed %+v", l)
	}
	crlf, _ := ParseLock(strings.ReplaceAll(windmillLock, "\n", "\r\n"))
	if crlf.Versions()["windmill-cli"] != "1.566.1" {
		t.Error("CRLF lock not read")
	}
	empty, _ := ParseLock("{\n  \"dependencies\": {}\n}\n//bun.lock\n<empty>")
	if !empty.Empty() || empty.LockText != "" {
		t.Errorf("empty: %+v", empty)
	}
	lockb, _ := ParseLock("{\n  \"dependencies\": {\n    \"a\": \"1.0.0\"\n  }\n}\n//bun.lockb\nYnVuLWxvY2tiLWJ5dGVz")
	if !lockb.Binary || len(lockb.Versions()) != 0 {
		t.Errorf("lockb: %+v", lockb)
	}
	for _, bad := range []string{"", "not json", "{\"dependencies\": {\"a\": 1}}\n//bun.lock\n<empty>"} {
		if _, err := ParseLock(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestPackageJSONAsWindmillWritesIt(t *testing.T) {
	if got := PackageJSON(nil); got != "{\n  \"dependencies\": {}\n}" {
		t.Errorf("empty: %q", got)
	}
	got := PackageJSON([]Dep{{"windmill-client", "latest"}, {"@acme/x<y>", "^1.2.0"}})
	want := "{\n  \"dependencies\": {\n    \"windmill-client\": \"latest\",\n    \"@acme/x<y>\": \"^1.2.0\"\n  }\n}"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if NewLock(PackageJSON(nil), "").String() != "{\n  \"dependencies\": {}\n}\n//bun.lock\n<empty>" {
		t.Error("empty lock differs from Windmill's")
	}
}

// A lock made by Bun becomes the package-lock.json that makes npm install
// the same tree: nested packages where Bun nests them, platform packages
// optional (npm then skips those for other machines instead of failing).
func TestBunLockToPackageLock(t *testing.T) {
	l, _ := ParseLock(windmillLock)
	b, err := lockForNPM(l)
	if err != nil {
		t.Fatal(err)
	}
	var pl struct {
		LockfileVersion int                       `json:"lockfileVersion"`
		Packages        map[string]map[string]any `json:"packages"`
	}
	if err := json.Unmarshal(b, &pl); err != nil {
		t.Fatal(err)
	}
	p := pl.Packages
	if pl.LockfileVersion != 3 || p[""]["dependencies"].(map[string]any)["windmill-cli"] != "1.566.1" {
		t.Errorf("root: %v", p[""])
	}
	if v := p["node_modules/http-errors/node_modules/statuses"]["version"]; v != "2.0.1" {
		t.Errorf("nested statuses: %v", v)
	}
	if v := p["node_modules/statuses"]["version"]; v != "2.0.2" {
		t.Errorf("top statuses: %v", v)
	}
	x64 := p["node_modules/@esbuild/linux-x64"]
	if x64["optional"] != true || x64["os"].([]any)[0] != "linux" || x64["cpu"].([]any)[0] != "x64" {
		t.Errorf("platform package: %v", x64)
	}
	if loong := p["node_modules/@esbuild/linux-loong64"]; loong["cpu"].([]any)[0] != "none" {
		t.Errorf("bun's 'none' platform: %v", loong)
	}
	if p["node_modules/esbuild"]["optional"] != nil || p["node_modules/windmill-cli"]["integrity"] == nil {
		t.Errorf("required packages: %v %v", p["node_modules/esbuild"], p["node_modules/windmill-cli"])
	}
	if meta := p["node_modules/ws"]["peerDependenciesMeta"].(map[string]any); meta["bufferutil"] == nil {
		t.Errorf("optional peers: %v", p["node_modules/ws"])
	}
	for k, e := range p {
		if e["resolved"] != nil {
			t.Errorf("%s names a registry URL: the user's registry must serve it", k)
		}
	}

	git := strings.Replace(windmillLock, `"ws": ["ws@8.18.3", "", {`, `"ws": ["ws@github:websockets/ws#abc", {`, 1)
	gl, _ := ParseLock(git)
	if _, err := lockForNPM(gl); err == nil || !strings.Contains(err.Error(), "npm cannot install it as locked") {
		t.Errorf("git package: %v", err)
	}
}

func TestJSONC(t *testing.T) {
	in := `{"a": [1, 2,], // comment
  "b": "x, }", /* block */ "c": {"d": "//not a comment",},}`
	var v map[string]any
	if err := json.Unmarshal(jsonc(in), &v); err != nil {
		t.Fatalf("%v: %s", err, jsonc(in))
	}
	if v["b"] != "x, }" || v["c"].(map[string]any)["d"] != "//not a comment" {
		t.Errorf("%v", v)
	}
}
