//go:build desktop || dev || embedui

package main

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/millrun/millrun/engine/webui"
)

//go:embed all:frontend/dist
var frontendDist embed.FS

// uiHandler serves the frontend built into this binary.
func uiHandler() http.Handler {
	sub, err := fs.Sub(frontendDist, "frontend/dist")
	if err != nil {
		panic("frontend/dist missing from the build: " + err.Error()) // a build defect
	}
	return webui.Handler(sub)
}
