package answers

import "time"

// Tunnel is the tunnel's state with its settings, as the Tunnel panel
// reads it (also each "status" event). It was a struct before answers
// were typed, tunnel.Status's fields first: its fields keep that order.
type Tunnel struct {
	State           string    `json:"state" tstype:"\"off\" | \"connecting\" | \"online\" | \"reconnecting\" | \"error\""`
	URL             string    `json:"url,omitempty"`   // the public address, once online
	Error           string    `json:"error,omitempty"` // why it is not online
	Since           time.Time `json:"since"`
	AuthtokenHint   string    `json:"authtoken_hint"` // the authtoken's ends, never the whole
	AuthtokenSource string    `json:"authtoken_source"`
	Domain          string    `json:"domain"`
	Autostart       bool      `json:"autostart"`
	AllowCIDRs      []string  `json:"allow_cidrs"`
}
