//go:build unix

package instance

import (
	"fmt"
	"os"
	"syscall"
)

func checkOwner(dir string, st os.FileInfo) error {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
		return fmt.Errorf("data directory %s belongs to another user (uid %d): pass a --data directory of your own", dir, sys.Uid)
	}
	return nil
}
