package deps

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// wheelFile is what a wheel's file name says:
// {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl.
type wheelFile struct {
	// name is normalized; version as written (with '_' for '-').
	name, version string
	// tags are the python-abi-platform triples the wheel is for, the
	// file name's compressed sets ("py2.py3") expanded.
	tags []string
}

// parseWheelFile reads a wheel's file name; ok is false for a name that
// is not a wheel's.
func parseWheelFile(file string) (w wheelFile, ok bool) {
	base, ok := strings.CutSuffix(filepath.Base(file), ".whl")
	if !ok {
		return w, false
	}
	parts := strings.Split(base, "-")
	if len(parts) != 5 && len(parts) != 6 {
		return w, false
	}
	n := len(parts)
	w.name, w.version = NormalizeName(parts[0]), parts[1]
	for _, py := range strings.Split(parts[n-3], ".") {
		for _, abi := range strings.Split(parts[n-2], ".") {
			for _, plat := range strings.Split(parts[n-1], ".") {
				w.tags = append(w.tags, py+"-"+abi+"-"+plat)
			}
		}
	}
	return w, w.name != "" && w.version != ""
}

// wheelName reads the project name from a wheel's file name, normalized;
// "" when the name is not a wheel's.
func wheelName(file string) string {
	w, _ := parseWheelFile(file)
	return w.name
}

// distInfo is what a distribution says of itself in its METADATA.
type distInfo struct {
	// dir is the .dist-info folder's name.
	dir           string
	name, version string
	// requires are its Requires-Dist values.
	requires []string
}

// readMetadata reads the headers of a METADATA file (RFC 822 style, up
// to the first blank line).
func readMetadata(dir string, data []byte) distInfo {
	d := distInfo{dir: dir}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "name":
			d.name = v
		case "version":
			d.version = v
		case "requires-dist":
			d.requires = append(d.requires, v)
		}
	}
	return d
}

// wheelMetadata reads the METADATA of the one .dist-info folder at a
// wheel's top level.
func wheelMetadata(wheel string) (distInfo, error) {
	zr, err := zip.OpenReader(wheel)
	if err != nil {
		return distInfo{}, fmt.Errorf("%s is not a wheel: %w", filepath.Base(wheel), err)
	}
	defer zr.Close()
	var found []*zip.File
	for _, f := range zr.File {
		dir, rest, ok := strings.Cut(f.Name, "/")
		if ok && rest == "METADATA" && strings.HasSuffix(dir, ".dist-info") {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		return distInfo{}, fmt.Errorf("%s holds %d .dist-info/METADATA files, not one", filepath.Base(wheel), len(found))
	}
	rc, err := found[0].Open()
	if err != nil {
		return distInfo{}, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 4<<20))
	if err != nil {
		return distInfo{}, err
	}
	dir, _, _ := strings.Cut(found[0].Name, "/")
	return readMetadata(dir, data), nil
}

// installedMetadata reads the METADATA of the one .dist-info folder an
// installer left at the top of dir.
func installedMetadata(dir string) (distInfo, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return distInfo{}, err
	}
	var infos []string
	for _, e := range entries {
		if e.IsDir() && strings.HasSuffix(e.Name(), ".dist-info") {
			infos = append(infos, e.Name())
		}
	}
	if len(infos) != 1 {
		return distInfo{}, fmt.Errorf("the install left %d .dist-info folders, not one", len(infos))
	}
	data, err := os.ReadFile(filepath.Join(dir, infos[0], "METADATA"))
	if err != nil {
		return distInfo{}, err
	}
	return readMetadata(infos[0], data), nil
}

// check says whether a distribution is the one a pin asks for: its
// name, and its version when the pin names one. Nothing else may fill
// the pin's folder, which other locks pinning the same line share.
func (d distInfo) check(p Pin) error {
	if NormalizeName(d.name) != p.Name {
		return fmt.Errorf("it is %+q, not %s", d.name, p.Name)
	}
	if p.Version != "" && !sameVersion(d.version, p.Version) {
		return fmt.Errorf("it is %s %+q, not %s", p.Name, d.version, p.Version)
	}
	if d.version == "" {
		return fmt.Errorf("its metadata has no version")
	}
	base := strings.TrimSuffix(d.dir, ".dist-info")
	cut := max(strings.LastIndex(base, "-"), 0)
	if NormalizeName(base[:cut]) != p.Name || !sameVersion(base[min(cut+1, len(base)):], d.version) {
		return fmt.Errorf("its %s folder does not match its metadata (%s %s)", d.dir, d.name, d.version)
	}
	return nil
}

// checkWheel says whether a wheel file is the one a pin asks for: by its
// file name and its metadata, and for this interpreter (tags: the
// interpreter's supported tags; nil skips that check).
func checkWheel(path string, p Pin, tags map[string]bool) error {
	w, ok := parseWheelFile(path)
	if !ok {
		return fmt.Errorf("%s is not named as a wheel", filepath.Base(path))
	}
	if w.name != p.Name || p.Version != "" && !sameVersion(w.version, p.Version) {
		return fmt.Errorf("%s is not %s", filepath.Base(path), p.Line)
	}
	if tags != nil && !slices.ContainsFunc(w.tags, func(t string) bool { return tags[t] }) {
		return fmt.Errorf("%s is not built for this interpreter", filepath.Base(path))
	}
	d, err := wheelMetadata(path)
	if err != nil {
		return err
	}
	if !sameVersion(d.version, w.version) {
		return fmt.Errorf("%s says it is version %+q", filepath.Base(path), d.version)
	}
	if err := d.check(p); err != nil {
		return fmt.Errorf("%s: %v", filepath.Base(path), err)
	}
	return nil
}

// unpackWheel installs a wheel into dir the way `pip install --target`
// lays it out: the archive's files at the top, a `.data` folder's
// purelib and platlib at the top too, its scripts in bin/ (their
// `#!python` line pointing at the interpreter). Headers and data files
// are left out: nothing imports them. No bytecode is compiled, as with
// --no-compile. Paths that would leave dir are refused.
func unpackWheel(wheel, dir, python string) error {
	zr, err := zip.OpenReader(wheel)
	if err != nil {
		return fmt.Errorf("%s is not a wheel: %w", filepath.Base(wheel), err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		name := f.Name
		if strings.HasSuffix(name, "/") {
			continue
		}
		clean := path.Clean(name)
		if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(clean, `\`) || strings.Contains(clean, ":") {
			return fmt.Errorf("%s holds a file outside its folder: %q", filepath.Base(wheel), name)
		}
		target, script := clean, false
		if first, rest, ok := strings.Cut(clean, "/"); ok && strings.HasSuffix(first, ".data") {
			scheme, sub, ok := strings.Cut(rest, "/")
			if !ok {
				continue
			}
			switch scheme {
			case "purelib", "platlib":
				target = sub
			case "scripts":
				target, script = "bin/"+sub, true
			default:
				continue
			}
		}
		if err := writeZipFile(f, filepath.Join(dir, filepath.FromSlash(target)), script, python); err != nil {
			return err
		}
	}
	return nil
}

func writeZipFile(f *zip.File, dest string, script bool, python string) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	mode := os.FileMode(0o644)
	if script || f.Mode()&0o111 != 0 {
		mode = 0o755
	}
	out, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	var r io.Reader = rc
	if script {
		// PEP 427: a script starting `#!python` gets the interpreter.
		head := make([]byte, 8)
		n, _ := io.ReadFull(rc, head)
		head = head[:n]
		if bytes.HasPrefix(head, []byte("#!python")) {
			head = append([]byte("#!"+python), head[len("#!python"):]...)
		}
		r = io.MultiReader(bytes.NewReader(head), rc)
	}
	_, err = io.Copy(out, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
