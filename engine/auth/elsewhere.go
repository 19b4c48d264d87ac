package auth

import (
	"context"
	"path/filepath"

	"github.com/millrun/millrun/engine/store"
)

// Elsewhere names the data folder among others (not here) whose database
// holds secret, or "": a token that fails to log in here may be one
// 'millrun token create' wrote into another folder, and the login says
// which.
func Elsewhere(ctx context.Context, here string, others []string, secret string) string {
	if secret == "" || len(secret) > 256 {
		return ""
	}
	here, _ = filepath.Abs(here)
	h := HashSecret(secret)
	for _, dir := range others {
		if abs, err := filepath.Abs(dir); err != nil || abs == here {
			continue
		}
		if store.TokenIn(ctx, filepath.Join(dir, "millrun.db"), h) {
			return dir
		}
	}
	return ""
}
