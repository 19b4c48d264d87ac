package engine

import "context"

// redactedRouteKeys marks a data folder whose jobs were cleared of route
// API keys that an older millrun stored among their args.
const redactedRouteKeys = "redacted_route_keys"

// redactOldRouteKeys clears those keys once per data folder; new jobs never
// get them. A failure is logged and tried again at the next start.
func (e *Engine) redactOldRouteKeys() {
	ctx := context.Background()
	stored, err := e.db.Settings(ctx)
	if err != nil || stored[redactedRouteKeys] == "true" {
		return
	}
	n, err := e.triggers.RedactOldKeys(ctx)
	if err == nil {
		err = e.db.PutSettings(ctx, map[string]string{redactedRouteKeys: "true"})
	}
	if err != nil {
		e.log.Warn("redact route API keys stored with older jobs", "err", err)
		return
	}
	if n > 0 {
		e.log.Info("redacted route API keys that older jobs stored among their args", "jobs", n)
	}
}
