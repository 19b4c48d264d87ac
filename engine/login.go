package engine

import (
	"context"
	"path/filepath"

	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/store"
)

// tokenElsewhere names the other data folder (of Config.OtherDataDirs)
// whose database holds secret, or "".
func (e *Engine) tokenElsewhere(ctx context.Context, secret string) string {
	if secret == "" || len(secret) > 256 {
		return ""
	}
	here, _ := filepath.Abs(e.cfg.DataDir)
	h := auth.HashSecret(secret)
	for _, dir := range e.cfg.OtherDataDirs {
		if abs, err := filepath.Abs(dir); err != nil || abs == here {
			continue
		}
		if store.TokenIn(ctx, filepath.Join(dir, "millrun.db"), h) {
			return dir
		}
	}
	return ""
}
