package instance

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// checkPrivate keeps the data folder to its owner: it holds every job's
// arguments and results, the request log and sealed secrets. A folder made
// by another program with looser permissions (0755 is the usual umask) is
// tightened; a folder owned by someone else is refused rather than written
// into. The files in it are tightened by makeFilesPrivate, once the lock
// is held: they may be the running holder's.
func checkPrivate(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	if err := checkOwner(dir, st); err != nil {
		return err
	}
	if st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("data directory %s can be read by other users and cannot be made private: %w", dir, err)
		}
	}
	return nil
}

// makeFilesPrivate tightens every file and folder in dir. On Windows file
// modes say nothing of who may read (the user's profile's ACLs do), and
// changing one on a file another process holds fails, so it does nothing.
func makeFilesPrivate(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	return filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == dir {
			return nil // a file vanishing mid-walk is no reason to stop
		}
		info, err := d.Info()
		if err != nil || info.Mode()&os.ModeSymlink != 0 {
			return nil
		}
		want := os.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(path, want); err != nil {
				return fmt.Errorf("make %s private: %w", path, err)
			}
		}
		return nil
	})
}
