//go:build !linux

package deps

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// syncTree flushes freshly installed folders' files to disk, one by one.
func syncTree(dirs ...string) {
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if f, err := os.OpenFile(p, os.O_RDWR, 0); err == nil {
					f.Sync()
					f.Close()
				}
			}
			return nil
		})
	}
}

// syncDir makes a rename in dir durable where the system allows it.
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}
