// Package instance makes a data directory belong to one running millrun at
// a time, and lets a second launch find the first: two engines on one
// database would each treat the other's running jobs as crashed.
package instance

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

const (
	lockName = "millrun.lock"
	// The info lives beside the lock, not in it: Windows' byte-range lock
	// keeps other processes from reading a locked file.
	infoName = "instance.json"
	// previousName keeps the info of a holder that ended without
	// releasing the folder, until the next holder announces itself: a
	// launch that only looks (takes the lock and lets it go) must not
	// lose it before the engine it starts can tell the user.
	previousName = "instance-previous.json"
)

// Kinds of running millrun.
const (
	KindDesktop = "desktop"
	KindServe   = "serve"
)

// Info describes the running millrun that holds a data directory.
type Info struct {
	PID  int    `json:"pid"`
	Kind string `json:"kind"`
	URL  string `json:"url,omitempty"`
	// Secret lets a second launch ask the desktop app to show its window;
	// only the data directory's owner can read it (0600).
	Secret string `json:"secret,omitempty"`
	// Program is the holder's executable, so that whoever is refused the
	// folder learns which millrun holds it (an old one, a `serve` started
	// at login); Publish fills it in.
	Program string `json:"program,omitempty"`
}

// Lock is held while a millrun uses the data directory; the OS releases it
// when the process ends, however it ends.
type Lock struct {
	dir      string
	f        *os.File
	previous *Info
}

// InUseError says which millrun already holds the directory.
type InUseError struct {
	Dir  string
	Info *Info // nil when the holder has not said who it is yet
}

func (e *InUseError) Error() string {
	if e.Info == nil {
		return fmt.Sprintf("another millrun is already using %s", e.Dir)
	}
	return fmt.Sprintf("%s is already using %s; stop it first, or pass another --data directory", e.Info.Describe(), e.Dir)
}

// Describe names the holder as a person would look for it: "millrun serve
// at http://127.0.0.1:8700 (pid 4242, /usr/bin/millrun)".
func (i *Info) Describe() string {
	who := "millrun " + i.Kind
	if i.URL != "" {
		who += " at " + i.URL
	}
	if i.Program != "" {
		return fmt.Sprintf("%s (pid %d, %s)", who, i.PID, i.Program)
	}
	return fmt.Sprintf("%s (pid %d)", who, i.PID)
}

// Acquire takes the data directory, creating it if needed. It fails at
// once with *InUseError when another process holds it.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dir, err)
	}
	if err := checkPrivate(dir); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file in %s: %w", dir, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			info, _ := Read(dir)
			return nil, &InUseError{Dir: dir, Info: info}
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := makeFilesPrivate(dir); err != nil {
		unlockFile(f)
		f.Close()
		return nil, err
	}
	// Whatever a previous holder said about itself is stale now. That it
	// is still there says the holder did not release the folder: it was
	// killed, it crashed, or the computer went down under it.
	if _, err := os.Stat(filepath.Join(dir, infoName)); err == nil {
		_ = os.Rename(filepath.Join(dir, infoName), filepath.Join(dir, previousName))
	}
	previous, _ := readInfo(filepath.Join(dir, previousName))
	return &Lock{dir: dir, f: f, previous: previous}, nil
}

// Previous is the last holder that ended without releasing the folder
// (killed, crashed, the computer went down) when no holder announced
// itself since; nil when none did.
func (l *Lock) Previous() *Info { return l.previous }

// Publish says who holds the directory, for the next launch to read.
func (l *Lock) Publish(info Info) error {
	if info.Program == "" {
		info.Program, _ = os.Executable()
	}
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	tmp := filepath.Join(l.dir, infoName+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write instance info: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(l.dir, infoName)); err != nil {
		return err
	}
	// The holder that announces itself has read what it wanted of the
	// previous one.
	_ = os.Remove(filepath.Join(l.dir, previousName))
	return nil
}

// Release gives the directory up.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = os.Remove(filepath.Join(l.dir, infoName))
	unlockFile(l.f)
	err := l.f.Close()
	l.f = nil
	return err
}

// Read returns what the holder of dir published.
func Read(dir string) (*Info, error) { return readInfo(filepath.Join(dir, infoName)) }

func readInfo(path string) (*Info, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var info Info
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("read instance info: %w", err)
	}
	return &info, nil
}

// NewSecret returns a random secret for Info.Secret.
func NewSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var errLocked = errors.New("locked")
