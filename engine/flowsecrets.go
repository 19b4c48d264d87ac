package engine

import (
	"context"

	"github.com/millrun/millrun/engine/resources"
)

// flowSecrets serves flow expressions' variable('path') and
// resource('path') from the workspace's store, with what a step's own
// token may read.
type flowSecrets struct{ r *resources.Store }

func (s flowSecrets) Variable(ctx context.Context, workspace, path string) (string, error) {
	return s.r.VariableValue(ctx, workspace, path)
}

func (s flowSecrets) Resource(ctx context.Context, workspace, path string) (any, error) {
	v, _, err := s.r.Value(ctx, workspace, path)
	if err != nil {
		return nil, err
	}
	return s.r.Interpolate(ctx, workspace, v)
}
