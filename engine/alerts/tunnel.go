package alerts

import (
	"context"

	"github.com/millrun/millrun/engine/lifecycle"
	"github.com/millrun/millrun/engine/tunnel"
)

// WatchTunnel is a service telling a of m's state changes (TunnelChanged)
// while it runs.
func (a *Alerter) WatchTunnel(m *tunnel.Manager) lifecycle.Service {
	var stop, done chan struct{}
	return &lifecycle.Funcs{
		OnStart: func(context.Context) error {
			stop, done = make(chan struct{}), make(chan struct{})
			changes, unsubscribe := m.Subscribe()
			go func() {
				defer close(done)
				defer unsubscribe()
				was := ""
				for {
					select {
					case <-stop:
						return
					case st := <-changes:
						if was != "" && string(st.State) != was {
							a.TunnelChanged(was, string(st.State), st.Error)
						}
						was = string(st.State)
					}
				}
			}()
			return nil
		},
		OnStop: func(context.Context) {
			close(stop)
			<-done
		},
	}
}
