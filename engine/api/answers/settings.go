package answers

import (
	"github.com/millrun/millrun/engine/jobs"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/settings"
)

// SettingsView is what the Settings page reads: the settings and what
// this machine has (interpreters, their start times, the queue's load,
// start at login).
type SettingsView struct {
	InstallHints map[string]string    `json:"install_hints"` // how to get each missing interpreter here
	Interpreters runtime.Interpreters `json:"interpreters"`
	Queue        jobs.Stats           `json:"queue"`
	Settings     settings.Settings    `json:"settings"`
	StartAtLogin StartAtLogin         `json:"start_at_login"`
	StartMs      map[string]float64   `json:"start_ms" tstype:"{ [key: string]: number } | null"` // null until measured (in the background, on the first visit)
	Workspace    string               `json:"workspace"`
}

// StartAtLogin says whether this millrun can start at login, and how.
type StartAtLogin struct {
	Available bool     `json:"available"`
	Command   []string `json:"command" tstype:"string[] | null"`
	Entry     string   `json:"entry"` // where the platform keeps the entry
}

// SettingsSaved answers a change of settings with them as applied.
type SettingsSaved struct {
	Settings settings.Settings `json:"settings"`
}

// PackagesView is the package cache scripts' imports are installed into.
type PackagesView struct {
	Bytes    int64  `json:"bytes"`
	IndexURL string `json:"index_url"` // credentials removed
	Location string `json:"location"`
	Tool     string `json:"tool"`
}
