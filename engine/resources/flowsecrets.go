package resources

import "context"

// FlowSecrets serves flow expressions' variable('path') and
// resource('path') from the workspace's store, with what a step's own
// token may read.
type FlowSecrets struct{ Store *Store }

// Variable is variable('path'): the value, unsealed.
func (s FlowSecrets) Variable(ctx context.Context, workspace, path string) (string, error) {
	return s.Store.VariableValue(ctx, workspace, path)
}

// Resource is resource('path'): the value, its $var: and $res:
// references filled in.
func (s FlowSecrets) Resource(ctx context.Context, workspace, path string) (any, error) {
	v, _, err := s.Store.Value(ctx, workspace, path)
	if err != nil {
		return nil, err
	}
	return s.Store.Interpolate(ctx, workspace, v)
}
