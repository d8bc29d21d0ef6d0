// Package publish writes a run's outputs (FORMATS.md, "Outputs") into a local staging
// directory with DuckDB, then copies them to the output store, unchanged files skipped and
// the run manifest last, so a reader who sees runs/{run_id}.json knows every file it lists
// is complete.
package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// File is one published output.
type File struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
	// Uploaded is false when the store already held the same bytes.
	Uploaded bool `json:"uploaded"`
}

// Render writes the run's outputs into dir (publish.sql) and moves the partitioned
// per-tenant files to their FORMATS.md names. The invoice documents and the tenant
// workbooks are written by pipeline/documents after it. It returns the files, sorted
// by key.
func Render(ctx context.Context, conn *sql.Conn, dir, runID string) ([]File, error) {
	for _, sub := range []string{"ledger", "invoices", "quarantine", "_parts"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("create staging %s: %w", sub, err)
		}
	}
	err := warehouse.ExecTemplate(ctx, conn, "publish.sql", map[string]string{"out": filepath.ToSlash(dir), "run_id": runID})
	if err != nil {
		return nil, err
	}
	// usage/{tenant}/{period_start}_ai_credits_usage.csv and its restricted twin
	moves := []struct {
		part string
		dest func(vals map[string]string) string
	}{
		{"history", func(v map[string]string) string { return "usage/" + v["tenant_id"] + "/usage_history.csv" }},
		{"usage", func(v map[string]string) string {
			return "usage/" + v["tenant_id"] + "/" + v["period_start"] + "_ai_credits_usage.csv"
		}},
		{"restricted", func(v map[string]string) string {
			return "restricted/usage/" + v["tenant_id"] + "/" + v["period_start"] + "_ai_credits_usage.csv"
		}},
	}
	for _, m := range moves {
		root := filepath.Join(dir, "_parts", m.part)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if d.IsDir() {
				return nil
			}
			rel, err := filepath.Rel(root, filepath.Dir(p))
			if err != nil {
				return err
			}
			vals := map[string]string{}
			for _, seg := range strings.Split(filepath.ToSlash(rel), "/") {
				k, v, ok := strings.Cut(seg, "=")
				if !ok {
					return fmt.Errorf("unexpected partition directory %s", rel)
				}
				vals[k] = v
			}
			dst := filepath.Join(dir, filepath.FromSlash(m.dest(vals)))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			return os.Rename(p, dst)
		})
		if err != nil {
			return nil, fmt.Errorf("arrange %s outputs: %w", m.part, err)
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, "_parts")); err != nil {
		return nil, fmt.Errorf("clean staging: %w", err)
	}
	return List(dir)
}

// List returns the files under dir with their checksums, sorted by key.
func List(dir string) ([]File, error) {
	var out []File
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		sum, n, err := fileSum(p)
		if err != nil {
			return err
		}
		out = append(out, File{Key: filepath.ToSlash(rel), SHA256: sum, Bytes: n})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list staged outputs: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func fileSum(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Uploader copies staged files to the output store.
type Uploader struct {
	Store objstore.Store
	Log   *slog.Logger
}

// Upload copies each file from dir unless the store already holds the same bytes. It marks
// the files it uploaded.
func (u *Uploader) Upload(ctx context.Context, dir string, files []File) error {
	for i := range files {
		f := &files[i]
		same, err := u.same(ctx, f)
		if err != nil {
			return err
		}
		if same {
			continue
		}
		if err := u.put(ctx, filepath.Join(dir, filepath.FromSlash(f.Key)), f.Key, f.Bytes); err != nil {
			return err
		}
		f.Uploaded = true
	}
	return nil
}

// PutBytes writes one object from memory (the run manifest).
func (u *Uploader) PutBytes(ctx context.Context, key string, data []byte) error {
	if err := u.Store.Put(ctx, key, bytes.NewReader(data), int64(len(data)), objstore.ContentType(key)); err != nil {
		return fmt.Errorf("publish %s: %w", key, err)
	}
	return nil
}

func (u *Uploader) put(ctx context.Context, path, key string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("publish %s: %w", key, err)
	}
	defer f.Close()
	if err := u.Store.Put(ctx, key, f, size, objstore.ContentType(key)); err != nil {
		return fmt.Errorf("publish %s: %w", key, err)
	}
	return nil
}

// same reports whether the store holds exactly the file's bytes: from the checksum the
// store recorded when it can tell one (S3 metadata), else by reading the object.
func (u *Uploader) same(ctx context.Context, f *File) (bool, error) {
	if st, ok := u.Store.(objstore.Statter); ok {
		info, err := st.Stat(ctx, f.Key)
		if errors.Is(err, objstore.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("compare %s: %w", f.Key, err)
		}
		if info.SHA256 != "" {
			return info.SHA256 == f.SHA256 && info.Size == f.Bytes, nil
		}
	}
	rc, err := u.Store.Get(ctx, f.Key)
	if errors.Is(err, objstore.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("compare %s: %w", f.Key, err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return false, fmt.Errorf("compare %s: %w", f.Key, err)
	}
	return hex.EncodeToString(h.Sum(nil)) == f.SHA256, nil
}
