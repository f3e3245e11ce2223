//go:build !unix

package state

import (
	"context"
	"errors"
	"time"
)

// Lock is not available: file locks use flock(2), which only Unix systems
// offer. Use an oss:// location, or run on Linux or macOS, to keep overlapping
// runs apart.
func (f *fileStore) Lock(ctx context.Context, owner string, wait time.Duration, until time.Time) (Lease, error) {
	return nil, f.errorf("lock: file locks need flock(2), on a Unix system: %w", errors.ErrUnsupported)
}
