package deps

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// wheelName reads the project name from a wheel's file name
// ({name}-{version}(-{build})?-{python}-{abi}-{platform}.whl), normalized;
// "" when the name is not a wheel's.
func wheelName(file string) string {
	base, ok := strings.CutSuffix(file, ".whl")
	if !ok {
		return ""
	}
	parts := strings.Split(base, "-")
	if len(parts) < 5 {
		return ""
	}
	return NormalizeName(parts[0])
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
