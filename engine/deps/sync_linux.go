package deps

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncTree flushes a freshly installed folder to disk. syncfs flushes the
// whole file system in one call, much cheaper than an fsync per file of a
// package with thousands of modules.
func syncTree(dir string) {
	f, err := os.Open(dir)
	if err != nil {
		return
	}
	defer f.Close()
	unix.Syncfs(int(f.Fd()))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}
