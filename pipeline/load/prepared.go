package load

import (
	"context"
	"fmt"
	"os"

	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/pull"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// Prepared is an object read and parsed by another process (the partition step of a
// sharded round, pipeline/partition): everything its record needs, and the staged file of
// its parsed lines while it is in hand. A shard commits the objects of a batch with the
// lines that are its own (CommitPrepared); every shard records every object, so that a key
// read again with another ETag replaces the earlier version's lines in every shard, even in
// one that receives no line of the new version.
type Prepared struct {
	No     int32       `json:"obj_no"`
	Key    string      `json:"key"` // the display key (pull.DisplayKey)
	ETag   string      `json:"etag"`
	Size   int64       `json:"size"`
	Format string      `json:"format"`
	Status string      `json:"status"` // read | unreadable | skipped
	Detail string      `json:"detail,omitempty"`
	SHA256 string      `json:"sha256,omitempty"`
	Lines  int64       `json:"lines"` // event lines read (all shards)
	Bytes  int64       `json:"bytes"` // plain bytes read
	Users  [][4]string `json:"users,omitempty"`
	// File is the staged Parquet of its parsed lines (parse.Schema), "" when it has none;
	// only between Read and the caller's use of it.
	File string `json:"-"`
}

// Read reads and parses the objects, numbered from firstNo in order, on the workers, as a
// Batch does, but commits nothing: each object's lines stay in its staged file (Prepared.File)
// for the caller, who removes them. An object that cannot be read is unreadable; a failure
// of the store fails the call.
func (l *Loader) Read(ctx context.Context, store objstore.Store, todo []pull.Todo, firstNo int32, progress func(objects int, lines int64)) ([]Prepared, error) {
	objs := make([]*object, len(todo))
	for i, t := range todo {
		objs[i] = &object{Todo: t, no: firstNo + int32(i), status: "read"}
		if t.Format == pull.FormatSkipped {
			objs[i].status = "skipped"
		}
	}
	if err := l.readAll(ctx, store, objs, progress); err != nil {
		for _, o := range objs {
			if o.file != "" {
				_ = os.Remove(o.file)
			}
		}
		return nil, fmt.Errorf("read batch: %w", err)
	}
	out := make([]Prepared, len(objs))
	for i, o := range objs {
		out[i] = Prepared{No: o.no, Key: o.Display, ETag: o.ETag, Size: o.Size, Format: o.Format,
			Status: o.status, Detail: o.detail, SHA256: o.sha, Lines: o.lines, Bytes: o.bytes, Users: o.users, File: o.file}
	}
	return out, nil
}

// CommitPrepared records a batch of prepared objects with the parsed lines of files
// (Parquet in parse.Schema, any subset of the batch's lines) in one transaction, exactly as
// Batch records what it read: the same statements (sql/load_*.sql) rank every line in its
// identity.
func (l *Loader) CommitPrepared(ctx context.Context, objs []Prepared, files []string) (Result, error) {
	var res Result
	if len(objs) == 0 {
		return res, nil
	}
	list := make([]*object, len(objs))
	for i, p := range objs {
		list[i] = &object{Todo: pull.Todo{Object: objstore.Object{Key: p.Key, ETag: p.ETag, Size: p.Size}, Display: p.Key, Format: p.Format},
			no: p.No, status: p.Status, detail: p.Detail, sha: p.SHA256, lines: p.Lines, bytes: p.Bytes, users: p.Users}
		res.Lines += p.Lines
		res.Bytes += p.Bytes
		if p.Status == "unreadable" {
			res.Unreadable++
		}
	}
	res.Objects = len(list)
	// commit takes the staged files from the objects: the batch's lines ride on the first
	for i, f := range files {
		if i < len(list) {
			list[i].file = f
		} else {
			return Result{}, fmt.Errorf("commit batch: %d files for %d objects", len(files), len(list))
		}
	}
	if err := warehouse.InTx(ctx, l.cfg.Conn, func() error { return l.commit(ctx, list) }); err != nil {
		return Result{}, fmt.Errorf("commit batch: %w", err)
	}
	return res, nil
}
