package objstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/creditmeter/creditmeter/pipeline/objstore"
)

// TestShardSwap checks the compare-and-swap a sharded fleet keeps its generations with, on
// a local directory and on S3: of two writers that read the same version, one wins.
func TestShardSwap(t *testing.T) {
	ctx := context.Background()
	local, err := objstore.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	newBucket(t, ctx, "swap")
	s3, err := srv.Store(ctx, "s3://swap/state")
	if err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]objstore.Store{"local": local, "s3": s3} {
		t.Run(name, func(t *testing.T) {
			const key = "shards/0-of-2/current.json"
			if _, _, err := objstore.ReadVersioned(ctx, st, key); !errors.Is(err, objstore.ErrNotFound) {
				t.Fatalf("read before any write: %v", err)
			}
			v1, err := objstore.Swap(ctx, st, key, []byte(`{"gen":1}`), "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := objstore.Swap(ctx, st, key, []byte(`{"gen":1}`), ""); !errors.Is(err, objstore.ErrConflict) {
				t.Fatalf("a second create: %v, want ErrConflict", err)
			}
			data, v, err := objstore.ReadVersioned(ctx, st, key)
			if err != nil || string(data) != `{"gen":1}` || v != v1 {
				t.Fatalf("read: %q %q %v, want gen 1 at %q", data, v, err, v1)
			}
			if _, err := objstore.Swap(ctx, st, key, []byte(`{"gen":2}`), v); err != nil {
				t.Fatal(err)
			}
			// the other writer read gen 1 too: it loses
			if _, err := objstore.Swap(ctx, st, key, []byte(`{"gen":2,"other":true}`), v); !errors.Is(err, objstore.ErrConflict) {
				t.Fatalf("a stale swap: %v, want ErrConflict", err)
			}
			if data, _, err := objstore.ReadVersioned(ctx, st, key); err != nil || string(data) != `{"gen":2}` {
				t.Fatalf("after the race: %q %v", data, err)
			}
		})
	}
}
