package objstore

import (
	"context"
	"errors"
	"fmt"
)

// ErrConflict is returned by Swap when the object is not at the version the caller read:
// another writer changed it first.
var ErrConflict = errors.New("the object changed concurrently")

// ReadVersioned reads a small object (at most 64 KiB: a pointer, a marker) with its
// version, for a later Swap; a missing key is ErrNotFound. It uses the conditional writes
// the run lock uses (If-Match / If-None-Match on S3; a flock-guarded file locally).
func ReadVersioned(ctx context.Context, s Store, key string) ([]byte, string, error) {
	lk, ok := s.(locker)
	if !ok {
		return nil, "", fmt.Errorf("read %s: the store does not support conditional writes", key)
	}
	data, version, err := lk.lockBackend(key).read(ctx)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, "", fmt.Errorf("read %s: %w", key, err)
	}
	return data, version, err
}

// Swap writes a small object only if it is still at version, as ReadVersioned returned it
// ("" : only if there is none), and returns its new version. Two writers that read the same
// version cannot both succeed: the second gets ErrConflict.
func Swap(ctx context.Context, s Store, key string, data []byte, version string) (string, error) {
	lk, ok := s.(locker)
	if !ok {
		return "", fmt.Errorf("write %s: the store does not support conditional writes", key)
	}
	b := lk.lockBackend(key)
	var v string
	var err error
	if version == "" {
		v, err = b.create(ctx, data)
	} else {
		v, err = b.replace(ctx, data, version)
	}
	if errors.Is(err, errConflict) {
		return "", fmt.Errorf("write %s: %w", key, ErrConflict)
	}
	if err != nil {
		return "", fmt.Errorf("write %s: %w", key, err)
	}
	return v, nil
}
