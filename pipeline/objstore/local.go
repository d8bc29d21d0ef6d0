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
	"sort"
	"strconv"
	"strings"
)

// Local is a Store on a local directory. Its ETag is derived from size and modification
// time, so listing never reads content; an object touched without change is re-read and
// replaces itself with the same events.
type Local struct {
	root string
}

// NewLocal returns a store rooted at dir (created on first write).
func NewLocal(dir string) (*Local, error) {
	if dir == "" {
		return nil, errors.New("open local store: empty path")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open local store %s: %w", dir, err)
	}
	return &Local{root: abs}, nil
}

// Root is the directory the store lives in.
func (l *Local) Root() string { return l.root }

// String names the directory.
func (l *Local) String() string { return l.root }

// List walks the directory. A root that does not exist or is not a directory is
// ErrMissing (a mistyped source is not an empty one); a root given as a symbolic link is
// followed, links inside the tree are not (a link could lead out of the source).
func (l *Local) List(ctx context.Context) ([]Object, error) {
	root, err := filepath.EvalSymlinks(l.root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list %s: %w", l.root, ErrMissing)
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", l.root, err)
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("list %s: %w", l.root, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("list %s: %w: not a directory", l.root, ErrMissing)
	}
	var out []Object
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256([]byte(strconv.FormatInt(info.Size(), 10) + "/" + strconv.FormatInt(info.ModTime().UnixNano(), 10)))
		out = append(out, Object{Key: filepath.ToSlash(rel), ETag: hex.EncodeToString(sum[:16]), Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", l.root, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Path is the local file of a key. Get and Put refuse keys that would leave the
// directory; Path itself does not check.
func (l *Local) Path(key string) string { return filepath.Join(l.root, filepath.FromSlash(key)) }

// path is the local file of a key that stays inside the store: a relative path without
// ".." climbing out, not empty.
func (l *Local) path(key string) (string, error) {
	if !filepath.IsLocal(filepath.FromSlash(key)) || key == "." {
		return "", fmt.Errorf("key %q is not a path inside the store", key)
	}
	return l.Path(key), nil
}

// Get opens the file of a key.
func (l *Local) Get(_ context.Context, key string) (io.ReadCloser, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return f, nil
}

// Delete removes an object; a missing one is not an error. The directories it leaves empty
// under the root are removed too, as a bucket has no empty prefixes.
func (l *Local) Delete(_ context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	root := filepath.Clean(l.root)
	for d := filepath.Dir(p); d != root && strings.HasPrefix(d, root+string(filepath.Separator)); d = filepath.Dir(d) {
		if os.Remove(d) != nil { // not empty (or gone): stop
			break
		}
	}
	return nil
}

// RestrictedPrefix is where outputs with personal data go (FORMATS.md, "Text cells and
// personal data"): a local store makes them readable by their owner only.
const RestrictedPrefix = "restricted/"

// Restricted reports whether a key holds personal data.
func Restricted(key string) bool { return strings.HasPrefix(key, RestrictedPrefix) }

// Put writes to a temporary file beside the target and renames it into place. Files under
// restricted/ are 0600 in directories of 0700; everything else is 0644 in 0755.
func (l *Local) Put(_ context.Context, key string, body io.ReadSeeker, _ int64, _ string) (err error) {
	dst, err := l.path(key)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	mode := fs.FileMode(0o644)
	if Restricted(key) {
		mode = 0o600
		if err := l.restrictedDir(filepath.Dir(dst)); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
	} else if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, body); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	// CreateTemp makes the file 0600; reports are for readers beside the service account.
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// PutFile moves the file at path into place as key (a rename when both are on one file
// system, else a copy through Put); the file is gone from path afterwards. Publishing a
// run's outbox into a local output moves every file once instead of copying it.
func (l *Local) PutFile(ctx context.Context, key, path string) error {
	dst, err := l.path(key)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	mode := fs.FileMode(0o644)
	if Restricted(key) {
		mode = 0o600
		if err := l.restrictedDir(filepath.Dir(dst)); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
	} else if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Rename(path, dst); err == nil {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := l.Put(ctx, key, f, st.Size(), ContentType(key)); err != nil {
		return err
	}
	return os.Remove(path)
}

// restrictedDir makes dir, under the store's restricted/ directory, with the directories it
// creates there 0700, and closes restricted/ itself if an earlier version left it open
// (files it does not rewrite keep their mode, but nobody else can reach them).
func (l *Local) restrictedDir(dir string) error {
	if err := os.MkdirAll(l.root, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	top := filepath.Join(l.root, strings.TrimSuffix(RestrictedPrefix, "/"))
	fi, err := os.Lstat(top)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", top)
	}
	if fi.Mode().Perm() != 0o700 {
		return os.Chmod(top, 0o700)
	}
	return nil
}
