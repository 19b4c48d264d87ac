package npm

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// bun.lock (text lockfile version 1) is JSON with trailing commas:
//
//	{"lockfileVersion": 1,
//	 "workspaces": {"": {"dependencies": {"x": "^1"}}},
//	 "packages": {"x": ["x@1.2.0", "", {"dependencies": {...}}, "sha512-…"],
//	              "x/y": ["y@2.0.0", "", {}, "sha512-…"]}}
//
// A package's key is its place in node_modules ("x/y" is y nested under
// x); its value holds name@version, the registry ("" for the default
// one), its metadata and its integrity. npm installs from a
// package-lock.json instead: the two describe the same tree, so a lock
// pushed from Windmill (made by Bun) installs the same versions under
// Node, and a lock resolved here with npm reads back into bun.lock for
// Windmill.

// bunPackage is one registry package of a bun.lock.
type bunPackage struct {
	key       string
	path      []string // package names from the top of node_modules
	name      string   // the real name (differs from the key's for aliases)
	version   string
	registry  string
	meta      bunMeta
	integrity string
}

type bunMeta struct {
	Dependencies         map[string]string `json:"dependencies,omitempty"`
	OptionalDependencies map[string]string `json:"optionalDependencies,omitempty"`
	PeerDependencies     map[string]string `json:"peerDependencies,omitempty"`
	OptionalPeers        []string          `json:"optionalPeers,omitempty"`
	Bin                  json.RawMessage   `json:"bin,omitempty"`
	OS                   json.RawMessage   `json:"os,omitempty"`
	CPU                  json.RawMessage   `json:"cpu,omitempty"`
}

type bunLock struct {
	packages []bunPackage
}

// errUnsupportedLock says a bun.lock holds what npm cannot be told to
// install exactly (git, tarball or folder dependencies, a new format).
var errUnsupportedLock = errors.New("the bun.lock holds packages npm cannot install from it")

// jsonc turns JSON with comments and trailing commas into JSON.
func jsonc(text string) []byte {
	out := make([]byte, 0, len(text))
	inString, escaped := false, false
	for i := 0; i < len(text); i++ {
		c := text[i]
		if inString {
			out = append(out, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
			out = append(out, c)
		case c == '/' && i+1 < len(text) && text[i+1] == '/':
			for i < len(text) && text[i] != '\n' {
				i++
			}
			out = append(out, '\n')
		case c == '/' && i+1 < len(text) && text[i+1] == '*':
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				i = len(text)
			} else {
				i += end + 3
			}
		case c == ',':
			j := i + 1
			for j < len(text) && strings.IndexByte(" \t\r\n", text[j]) >= 0 {
				j++
			}
			if j < len(text) && (text[j] == '}' || text[j] == ']') {
				continue // a trailing comma
			}
			out = append(out, c)
		default:
			out = append(out, c)
		}
	}
	return out
}

func parseBunLock(text string) (*bunLock, error) {
	var raw struct {
		LockfileVersion *int                         `json:"lockfileVersion"`
		Packages        map[string][]json.RawMessage `json:"packages"`
	}
	if err := json.Unmarshal(jsonc(text), &raw); err != nil {
		return nil, fmt.Errorf("the bun.lock does not parse: %v", err)
	}
	if raw.LockfileVersion == nil || *raw.LockfileVersion > 1 {
		return nil, errUnsupportedLock
	}
	b := &bunLock{}
	for key, arr := range raw.Packages {
		p, err := bunEntry(key, arr)
		if err != nil {
			return nil, err
		}
		b.packages = append(b.packages, p)
	}
	sort.Slice(b.packages, func(i, j int) bool { return lessKey(b.packages[i].path, b.packages[j].path) })
	return b, nil
}

func lessKey(a, b []string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return strings.Join(a, "/") < strings.Join(b, "/")
}

func bunEntry(key string, arr []json.RawMessage) (bunPackage, error) {
	p := bunPackage{key: key, path: splitKey(key)}
	if len(p.path) == 0 || len(arr) != 4 {
		return p, errUnsupportedLock
	}
	var id string
	if json.Unmarshal(arr[0], &id) != nil || json.Unmarshal(arr[1], &p.registry) != nil ||
		json.Unmarshal(arr[2], &p.meta) != nil || json.Unmarshal(arr[3], &p.integrity) != nil {
		return p, errUnsupportedLock
	}
	at := strings.LastIndex(id, "@")
	if at <= 0 {
		return p, errUnsupportedLock
	}
	p.name, p.version = id[:at], id[at+1:]
	if p.version == "" || strings.ContainsAny(p.version, ":/") {
		return p, errUnsupportedLock
	}
	// Each name becomes a folder of the package-lock's node_modules
	// tree: a "..", a path or anything npm would not take as a name could
	// place a package outside it.
	for _, n := range append(slices.Clone(p.path), p.name) {
		if !validName(n) {
			return p, fmt.Errorf("the bun.lock's package %s names %s, which is not an npm package name", jsString(key), jsString(n))
		}
	}
	return p, nil
}

// splitKey reads "a/@s/b/c" as the names [a, @s/b, c].
func splitKey(key string) []string {
	parts := strings.Split(key, "/")
	var out []string
	for i := 0; i < len(parts); i++ {
		if strings.HasPrefix(parts[i], "@") && i+1 < len(parts) {
			out = append(out, parts[i]+"/"+parts[i+1])
			i++
			continue
		}
		if parts[i] == "" {
			return nil
		}
		out = append(out, parts[i])
	}
	return out
}

// Versions returns the versions the lock installs at the top of
// node_modules, by package name ("" for a lock without a readable
// bun.lock).
func (l Lock) Versions() map[string]string {
	out := map[string]string{}
	if l.LockText == "" || l.Binary {
		return out
	}
	b, err := parseBunLock(l.LockText)
	if err != nil {
		return out
	}
	for _, p := range b.packages {
		if len(p.path) == 1 {
			out[p.path[0]] = p.version
		}
	}
	return out
}

// packageLock writes the npm package-lock.json (version 3) that installs
// the tree the bun.lock describes. Registry URLs are left out so npm
// fetches from the registry the user configured (a company mirror), as
// npm's omit-lockfile-registry-resolved does; integrity still pins each
// tarball.
func (b *bunLock) packageLock(packageJSON string) ([]byte, error) {
	var pj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(packageJSON), &pj); err != nil {
		return nil, err
	}
	root := map[string]any{}
	for _, f := range []string{"dependencies", "devDependencies", "optionalDependencies", "peerDependencies"} {
		if v, ok := pj[f]; ok {
			root[f] = v
		}
	}
	byPath := map[string]*bunPackage{}
	for i := range b.packages {
		byPath[strings.Join(b.packages[i].path, "\x00")] = &b.packages[i]
	}
	// resolve finds the package a dependency edge from 'from' lands on:
	// the nearest node_modules up the tree, as Node looks.
	resolve := func(from []string, name string) *bunPackage {
		for i := len(from); i >= 0; i-- {
			if p := byPath[strings.Join(append(append([]string{}, from[:i]...), name), "\x00")]; p != nil {
				return p
			}
		}
		return nil
	}
	// A package only reachable through optional edges is optional: npm
	// then skips it where its os/cpu do not match instead of failing.
	required := map[*bunPackage]bool{}
	reached := map[*bunPackage]bool{}
	var walk func(p *bunPackage, req bool)
	walk = func(p *bunPackage, req bool) {
		if p == nil || (reached[p] && (!req || required[p])) {
			return
		}
		reached[p] = true
		if req {
			required[p] = true
		}
		for name := range p.meta.Dependencies {
			walk(resolve(p.path, name), req)
		}
		for name := range p.meta.PeerDependencies {
			walk(resolve(p.path, name), req && !contains(p.meta.OptionalPeers, name))
		}
		for name := range p.meta.OptionalDependencies {
			walk(resolve(p.path, name), false)
		}
	}
	rootDeps, _ := packageJSONDeps(packageJSON)
	optionalRoot := map[string]bool{}
	if raw, ok := pj["optionalDependencies"]; ok {
		pairs, _ := orderedStrings(raw)
		for _, kv := range pairs {
			optionalRoot[kv[0]] = true
		}
	}
	for _, d := range rootDeps {
		walk(resolve(nil, d.Name), !optionalRoot[d.Name])
	}
	packages := map[string]any{"": root}
	for i := range b.packages {
		p := &b.packages[i]
		e := map[string]any{"version": p.version}
		if p.name != p.path[len(p.path)-1] {
			e["name"] = p.name
		}
		if p.integrity != "" {
			e["integrity"] = p.integrity
		}
		if strings.HasPrefix(p.registry, "http") && strings.HasSuffix(p.registry, ".tgz") {
			e["resolved"] = p.registry
		}
		if len(p.meta.Dependencies) > 0 {
			e["dependencies"] = p.meta.Dependencies
		}
		if len(p.meta.OptionalDependencies) > 0 {
			e["optionalDependencies"] = p.meta.OptionalDependencies
		}
		if len(p.meta.PeerDependencies) > 0 {
			e["peerDependencies"] = p.meta.PeerDependencies
		}
		if len(p.meta.OptionalPeers) > 0 {
			m := map[string]any{}
			for _, n := range p.meta.OptionalPeers {
				m[n] = map[string]bool{"optional": true}
			}
			e["peerDependenciesMeta"] = m
		}
		if len(p.meta.Bin) > 0 {
			e["bin"] = p.meta.Bin
		}
		if v := platformList(p.meta.OS); v != nil {
			e["os"] = v
		}
		if v := platformList(p.meta.CPU); v != nil {
			e["cpu"] = v
		}
		if reached[p] && !required[p] {
			e["optional"] = true
		}
		packages["node_modules/"+strings.Join(p.path, "/node_modules/")] = e
	}
	return json.MarshalIndent(map[string]any{"name": "millrun-job", "lockfileVersion": 3, "requires": true, "packages": packages}, "", "  ")
}

// platformList reads bun's os/cpu ("linux", ["darwin", "linux"]) as npm's
// list. Bun writes "none" for a platform it has no name for: npm then
// sees a list this machine is not in, which is what it means.
func platformList(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil
		}
		return []string{one}
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil && len(many) > 0 {
		return many
	}
	return nil
}

// npmLockEntry is a package of an npm package-lock.json.
type npmLockEntry struct {
	Name                 string                             `json:"name"`
	Version              string                             `json:"version"`
	Resolved             string                             `json:"resolved"`
	Integrity            string                             `json:"integrity"`
	Link                 bool                               `json:"link"`
	Dependencies         map[string]string                  `json:"dependencies"`
	OptionalDependencies map[string]string                  `json:"optionalDependencies"`
	PeerDependencies     map[string]string                  `json:"peerDependencies"`
	PeerDependenciesMeta map[string]struct{ Optional bool } `json:"peerDependenciesMeta"`
	Bin                  json.RawMessage                    `json:"bin"`
	OS                   []string                           `json:"os"`
	CPU                  []string                           `json:"cpu"`
}

// bunLockFromNPM writes the bun.lock text for what npm resolved (its
// package-lock.json), as Bun formats it, so the lock Windmill stores
// carries exact versions whichever tool made it.
func bunLockFromNPM(packageJSON string, packageLock []byte) (string, error) {
	var pl struct {
		Packages map[string]npmLockEntry `json:"packages"`
	}
	if err := json.Unmarshal(packageLock, &pl); err != nil {
		return "", fmt.Errorf("npm's package-lock.json does not parse: %v", err)
	}
	var b strings.Builder
	b.WriteString("{\n  \"lockfileVersion\": 1,\n  \"workspaces\": {\n    \"\": {\n")
	var pj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(packageJSON), &pj); err != nil {
		return "", err
	}
	for _, f := range []string{"dependencies", "devDependencies", "optionalDependencies", "peerDependencies"} {
		raw, ok := pj[f]
		if !ok {
			continue
		}
		pairs, err := orderedStrings(raw)
		if err != nil || len(pairs) == 0 {
			continue
		}
		b.WriteString("      " + jsString(f) + ": {\n")
		for _, kv := range pairs {
			b.WriteString("        " + jsString(kv[0]) + ": " + jsString(kv[1]) + ",\n")
		}
		b.WriteString("      },\n")
	}
	b.WriteString("    },\n  },\n  \"packages\": {\n")
	type entry struct {
		path []string
		line string
	}
	var entries []entry
	for key, e := range pl.Packages {
		if key == "" || e.Link {
			continue
		}
		names := strings.Split(strings.TrimPrefix(key, "node_modules/"), "/node_modules/")
		if !strings.HasPrefix(key, "node_modules/") || e.Version == "" {
			return "", fmt.Errorf("npm installed %s, which a bun.lock cannot describe", key)
		}
		name := e.Name
		if name == "" {
			name = names[len(names)-1]
		}
		if strings.HasPrefix(e.Resolved, "file:") || strings.HasPrefix(e.Resolved, "git") {
			return "", fmt.Errorf("npm installed %s from %s, which a bun.lock cannot describe here", key, e.Resolved)
		}
		entries = append(entries, entry{names, "    " + jsString(strings.Join(names, "/")) + ": [" +
			jsString(name+"@"+e.Version) + ", \"\", " + bunMetaText(e) + ", " + jsString(e.Integrity) + "],"})
	}
	sort.Slice(entries, func(i, j int) bool { return lessKey(entries[i].path, entries[j].path) })
	for i, e := range entries {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(e.line + "\n")
	}
	b.WriteString("  }\n}\n")
	return b.String(), nil
}

// bunMetaText is an entry's metadata on one line, Bun's way:
// { "dependencies": { "a": "^1" }, "bin": { "x": "cli.js" } }.
func bunMetaText(e npmLockEntry) string {
	var parts []string
	obj := func(m map[string]string) string {
		if len(m) == 0 {
			return ""
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, jsString(k)+": "+jsString(m[k]))
		}
		return "{ " + strings.Join(kv, ", ") + " }"
	}
	list := func(l []string) string {
		q := make([]string, len(l))
		for i, s := range l {
			q[i] = jsString(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	if s := obj(e.Dependencies); s != "" {
		parts = append(parts, "\"dependencies\": "+s)
	}
	if s := obj(e.OptionalDependencies); s != "" {
		parts = append(parts, "\"optionalDependencies\": "+s)
	}
	if s := obj(e.PeerDependencies); s != "" {
		parts = append(parts, "\"peerDependencies\": "+s)
	}
	var optPeers []string
	for n, m := range e.PeerDependenciesMeta {
		if m.Optional {
			optPeers = append(optPeers, n)
		}
	}
	if len(optPeers) > 0 {
		sort.Strings(optPeers)
		parts = append(parts, "\"optionalPeers\": "+list(optPeers))
	}
	if len(e.Bin) > 0 {
		var bin map[string]string
		if json.Unmarshal(e.Bin, &bin) == nil && len(bin) > 0 {
			parts = append(parts, "\"bin\": "+obj(bin))
		}
	}
	platform := func(field string, l []string) {
		switch len(l) {
		case 0:
		case 1:
			parts = append(parts, jsString(field)+": "+jsString(l[0]))
		default:
			parts = append(parts, jsString(field)+": "+list(l))
		}
	}
	platform("os", e.OS)
	platform("cpu", e.CPU)
	if len(parts) == 0 {
		return "{}"
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}
