package tunnel

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Authtoken keeps the ngrok authtoken in a file of its own with owner-only
// permissions, outside the database the settings API reads from.
type Authtoken struct {
	Path string
	// Env is $NGROK_AUTHTOKEN as main read it: used when none is saved.
	Env string
}

// Set stores token (empty removes it).
func (a *Authtoken) Set(token string) error {
	token = strings.TrimSpace(token)
	if token == "" {
		err := os.Remove(a.Path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if strings.ContainsAny(token, " \t\r\n") || len(token) > 200 {
		return fmt.Errorf("that does not look like an ngrok authtoken")
	}
	return os.WriteFile(a.Path, []byte(token), 0o600)
}

// Get is the saved authtoken, else the environment's, and which it is.
func (a *Authtoken) Get() (token, source string) {
	if b, err := os.ReadFile(a.Path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), "saved"
	}
	if a.Env != "" {
		return a.Env, "NGROK_AUTHTOKEN"
	}
	return "", ""
}

// Hint shows enough of a secret to recognise it, never to use it.
func Hint(t string) string {
	if len(t) < 12 {
		return strings.Repeat("•", len(t))
	}
	return t[:4] + "…" + t[len(t)-4:]
}
