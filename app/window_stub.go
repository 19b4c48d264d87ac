//go:build !(desktop || dev)

package app

import "errors"

// Run needs the desktop build (-tags desktop).
func (a *App) Run() error {
	return errors.New("this millrun was built without the desktop window; run 'millrun serve', or build with make build")
}
