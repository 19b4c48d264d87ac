//go:build windows

package runtime

import (
	"os"
	"os/exec"

	"golang.org/x/sys/windows/registry"
)

func systemFinder() finder {
	roots := map[string]registry.Key{"HKCU": registry.CURRENT_USER, "HKLM": registry.LOCAL_MACHINE}
	return finder{
		lookPath: exec.LookPath,
		regString: func(root, key, name string) (string, bool) {
			k, err := registry.OpenKey(roots[root], key, registry.QUERY_VALUE)
			if err != nil {
				return "", false
			}
			defer k.Close()
			v, _, err := k.GetStringValue(name)
			return v, err == nil && v != ""
		},
		regSubkeys: func(root, key string) []string {
			k, err := registry.OpenKey(roots[root], key, registry.ENUMERATE_SUB_KEYS)
			if err != nil {
				return nil
			}
			defer k.Close()
			names, _ := k.ReadSubKeyNames(-1)
			return names
		},
		env:    os.Getenv,
		exists: func(p string) bool { _, err := os.Stat(p); return err == nil },
		output: func(argv ...string) (string, error) {
			out, err := exec.Command(argv[0], argv[1:]...).Output()
			return string(out), err
		},
	}
}

// resolveWindows fills in what PATH did not give, the ways Windows users
// have their interpreters.
func resolveWindows(in *Interpreters, chosen map[string]string) {
	f := systemFinder()
	if chosen["python"] == "" {
		// What PATH gave may be the Store's placeholder, which only offers
		// to install Python: only a real one counts.
		in.Python = findWindowsPython(f)
	}
	if chosen["bash"] == "" {
		in.Bash = findWindowsBash(f)
	}
	if chosen["node"] == "" && in.Node == "" {
		in.Node = findWindowsNode(f)
	}
}
