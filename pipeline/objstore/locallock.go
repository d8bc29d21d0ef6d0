package objstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// localLock is the lock backend of a directory: the lock file's content is read and
// written only under an advisory lock (flock) on the directory that holds it, so the
// compare-and-swap is atomic between processes on the machine.
type localLock struct {
	path string
}

func (l *Local) lockBackend(key string) lockBackend { return &localLock{path: l.Path(key)} }

func sumVersion(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// guarded runs f holding the directory's advisory lock.
func (l *localLock) guarded(f func() error) error {
	if err := os.MkdirAll(filepath.Dir(l.path), 0o755); err != nil {
		return err
	}
	g, err := os.Open(filepath.Dir(l.path))
	if err != nil {
		return err
	}
	defer g.Close()
	if err := flock(g); err != nil {
		return fmt.Errorf("lock %s: %w", g.Name(), err)
	}
	defer funlock(g)
	return f()
}

// readLocked reads the lock file: at most maxLockBytes of it (a larger one is not a lock
// this program wrote, and is read as one that cannot be parsed), and only if it is a
// regular file (a link to a device or a pipe would never finish reading).
func (l *localLock) readLocked() ([]byte, string, error) {
	fi, err := os.Lstat(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", ErrNotFound
	}
	if err != nil {
		return nil, "", err
	}
	if !fi.Mode().IsRegular() {
		return nil, "", fmt.Errorf("%s is not a regular file (%v): remove it if no run is going", l.path, fi.Mode().Type())
	}
	f, err := os.Open(l.path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxLockBytes+1))
	if err != nil {
		return nil, "", err
	}
	// the size makes a version of a file longer than what is read
	return data, lockVersion(data, fi.Size()), nil
}

// lockVersion identifies a state of the lock file: its size and the checksum of what is read
// of it.
func lockVersion(data []byte, size int64) string {
	return strconv.FormatInt(size, 10) + ":" + sumVersion(data)
}

func (l *localLock) write(data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(l.path), ".lock-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), l.path)
}

func (l *localLock) read(context.Context) (data []byte, version string, err error) {
	err = l.guarded(func() error {
		data, version, err = l.readLocked()
		return err
	})
	return data, version, err
}

func (l *localLock) create(_ context.Context, data []byte) (string, error) {
	err := l.guarded(func() error {
		if _, _, err := l.readLocked(); err == nil {
			return errConflict
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		return l.write(data)
	})
	return lockVersion(data, int64(len(data))), err
}

func (l *localLock) replace(_ context.Context, data []byte, version string) (string, error) {
	err := l.guarded(func() error {
		_, cur, err := l.readLocked()
		if errors.Is(err, ErrNotFound) {
			return errConflict
		}
		if err != nil {
			return err
		}
		if cur != version {
			return errConflict
		}
		return l.write(data)
	})
	return lockVersion(data, int64(len(data))), err
}

func (l *localLock) remove(_ context.Context, version string) error {
	return l.guarded(func() error {
		_, cur, err := l.readLocked()
		if err != nil {
			return err
		}
		if cur != version {
			return errConflict
		}
		return os.Remove(l.path)
	})
}
