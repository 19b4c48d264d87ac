package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/millrun/millrun/engine/deps"
	"github.com/millrun/millrun/engine/wmillpy"
)

// UseDataDir makes the runner the one of the millrun holding dataDir's
// lock. It marks the runner's job processes and gives them a temp folder
// of their own, and clears what a previous millrun on the same data
// folder left behind if it was killed: its job processes (which would
// otherwise finish their side effects while their jobs read failed) and
// its jobs' folders. Holding the lock, nothing else uses either. Then it
// sets up where jobs' packages come from: a cache in the data folder
// (removed with it; packages may carry a private index's credentials, so
// it is the user's alone), resolved and installed with packageEnv (the
// user's own index configuration; nil is this process's), and millrun's
// built-in wmill.
func (r *Runner) UseDataDir(dataDir string, packageEnv []string, log *slog.Logger) error {
	if err := r.cleanUpAfterCrash(dataDir, log); err != nil {
		return err
	}
	r.openPackages(dataDir, packageEnv, log)
	return nil
}

func (r *Runner) cleanUpAfterCrash(dataDir string, log *slog.Logger) error {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(abs))
	r.Owner = hex.EncodeToString(sum[:8])
	if n := KillLeftovers(r.Owner); n > 0 {
		log.Warn("killed job processes a previous millrun left running", "count", n)
	}
	r.TempRoot = filepath.Join(abs, "tmp")
	if err := os.RemoveAll(r.TempRoot); err != nil {
		// A process left from before may hold a file there (Windows will
		// not delete an open file; Wine showed it). That is no reason to
		// stop serving webhooks: jobs get a fresh folder inside, and the
		// next start tries again.
		log.Warn("could not empty the jobs' temp folder (a process left from before may hold a file in it); jobs use a fresh folder inside it", "folder", r.TempRoot, "err", err)
		if err := os.MkdirAll(r.TempRoot, 0o700); err != nil {
			return fmt.Errorf("the jobs' temp folder: %w", err)
		}
		fresh, err := os.MkdirTemp(r.TempRoot, "start-")
		if err != nil {
			return fmt.Errorf("the jobs' temp folder: %w", err)
		}
		r.TempRoot = fresh
		return nil
	}
	return os.Mkdir(r.TempRoot, 0o700)
}

func (r *Runner) openPackages(dataDir string, env []string, log *slog.Logger) {
	if env == nil {
		env = os.Environ()
	}
	tools := deps.FindTools(env)
	cache := deps.NewCache(filepath.Join(dataDir, "packages"), tools)
	cache.Compile = true
	if err := cache.Sweep(); err != nil {
		log.Warn("packages cache: leftovers of an interrupted install stay", "err", err)
	}
	// An older millrun kept the built-in wmill in <data>/wmill, shared by
	// every job; each job that needs it now gets its own copy.
	if err := os.RemoveAll(filepath.Join(dataDir, "wmill")); err != nil {
		log.Warn("the built-in wmill's old folder stays", "err", err)
	}
	r.Packages = &Packages{Cache: cache, Tools: tools, Wmill: wmillpy.Module()}
	// TypeScript's packages share the folder: engine/deps keeps to its
	// python_* folders, npm to npm/ (Settings' size and clear cover both).
	r.NPM = r.NewNPMCache(filepath.Join(dataDir, "packages"), env)
}
