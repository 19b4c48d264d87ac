package answers

// Me is millrun's whoami: who the caller is and what this millrun is.
type Me struct {
	BaseURL    string   `json:"base_url"`
	Desktop    bool     `json:"desktop"` // the desktop window: no session, nothing to log out of
	FullAccess bool     `json:"full_access"`
	Label      string   `json:"label"`  // the token's
	Notice     string   `json:"notice"` // something to know about how millrun was started
	OSUser     string   `json:"os_user"`
	Scopes     []string `json:"scopes" tstype:"string[] | null"`
	Version    string   `json:"version"`
	Workspace  string   `json:"workspace"`
}

// LoggedIn answers a login with a pasted token: whose it is.
type LoggedIn struct {
	Label string `json:"label"`
}

// LoginHint is the command that makes a token for this millrun's data
// folder, shown on the login page.
type LoginHint struct {
	Command string `json:"command"`
}

// LoggedOut answers a logout.
type LoggedOut struct {
	LoggedOut bool `json:"logged_out"`
}
