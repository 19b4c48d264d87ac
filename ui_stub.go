//go:build !(desktop || dev || embedui)

package main

import "net/http"

// uiHandler is nil in builds without the embedded frontend; the engine then
// serves a short text page at /.
func uiHandler() http.Handler { return nil }
