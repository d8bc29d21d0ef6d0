package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/partition"
	"github.com/creditmeter/creditmeter/pipeline/shard"
)

// TestShardCommittedPending: a shard that died between committing its warehouse generation
// and writing its done marker gets the marker from its pending one when it runs again; a
// pending marker whose generation never became current is ignored (the round runs again).
func TestShardCommittedPending(t *testing.T) {
	ctx := context.Background()
	st, err := objstore.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	spec := shard.Spec{Index: 1, Count: 2}
	const round = "20260410T000000Z-000003"
	if d, err := committedPending(ctx, st, round, spec); err != nil || d != nil {
		t.Fatalf("no pending marker: %v, %v", d, err)
	}
	pending := ShardDone{Round: round, Shard: 1, Shards: 2, Generation: shardPrefix(spec) + "gen/00000003-aaaa/", BytesRead: 42}
	if err := partition.PutJSON(ctx, st, partition.PendingKey(round, 1), pending); err != nil {
		t.Fatal(err)
	}
	cur := func(prefix string, version string) string {
		data, _ := json.Marshal(generation{Gen: 3, Prefix: prefix, Round: round})
		v, err := objstore.Swap(ctx, st, shardPrefix(spec)+"current.json", data, version)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// the commit did not happen: another generation is current
	v := cur(shardPrefix(spec)+"gen/00000002-bbbb/", "")
	if d, err := committedPending(ctx, st, round, spec); err != nil || d != nil {
		t.Fatalf("pending of an uncommitted generation: %v, %v", d, err)
	}
	var done ShardDone
	if err := partition.GetJSON(ctx, st, partition.DoneKey(round, 1), &done); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("done marker written for an uncommitted generation: %v", err)
	}
	// the commit happened
	cur(pending.Generation, v)
	d, err := committedPending(ctx, st, round, spec)
	if err != nil || d == nil || d.BytesRead != 42 {
		t.Fatalf("pending of the current generation: %+v, %v", d, err)
	}
	if err := partition.GetJSON(ctx, st, partition.DoneKey(round, 1), &done); err != nil || done.Generation != pending.Generation {
		t.Fatalf("done marker: %+v, %v", done, err)
	}
}
