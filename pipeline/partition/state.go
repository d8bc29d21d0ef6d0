package partition

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/creditmeter/creditmeter/pipeline/load"
	"github.com/creditmeter/creditmeter/pipeline/objstore"
)

// The state of a sharded fleet lives in one store (--state: a directory or s3://bucket/prefix),
// shared by the partition step, the shards and the close step:
//
//	round.json                               the current round (Round): written by partition, then by close
//	rounds/{id}/ledger.json                  the objects read up to this round (key -> ETag), next object number
//	rounds/{id}/batches/{b}/objects.json     a batch's objects (every shard records all of them)
//	rounds/{id}/batches/{b}/shard-{i}.parquet  shard i's parsed lines of the batch
//	rounds/{id}/shards/{i}/...               what shard i hands to close; .../pending.json before
//	                                         its warehouse is committed, .../done.json after
//	rounds/{id}/assignments.json             the invoice numbers close gave this round's invoices
//	shards/{i}-of-{n}/current.json           shard i's warehouse generation (compare-and-swap)
//	shards/{i}-of-{n}/gen/{gen}-{writer}/    that generation's warehouse and analysts' snapshot
//	close/current.json, close/gen/...        the close step's own database, the same way
//	locks/                                   one lock per phase and shard

// Phases of a round.
const (
	PhasePartitioned = "partitioned" // partition done: the shards may run
	PhaseClosed      = "closed"      // close done: the next round may start
)

// RoundKey is the current round.
const RoundKey = "round.json"

// Round is round.json: one round of a sharded fleet, what its partition step read, and
// whether it is closed.
type Round struct {
	Seq     int       `json:"seq"`
	ID      string    `json:"id"`
	Now     time.Time `json:"now"`
	Shards  int       `json:"shards"`
	Phase   string    `json:"phase"`
	Source  string    `json:"source"`
	Batches int       `json:"batches"`
	// Objects counts the source objects as a single run's manifest does.
	Objects Objects `json:"objects"`
	// ShardLines and ShardBytes are the lines and the Parquet bytes the partition step wrote
	// for each shard: what each shard reads.
	ShardLines []int64 `json:"shard_lines"`
	ShardBytes []int64 `json:"shard_bytes"`
	// Seconds is how long partitioning took.
	Seconds float64 `json:"seconds"`
	// PeakRSSMiB is the partition process's peak resident memory.
	PeakRSSMiB int64 `json:"peak_rss_mib"`
}

// Objects counts source objects (as jobs.ObjectCounts).
type Objects struct {
	Listed     int   `json:"listed"`
	Ingested   int   `json:"ingested"`
	Unreadable int   `json:"unreadable"`
	Skipped    int   `json:"skipped"`
	Deferred   int   `json:"deferred"`
	Lines      int64 `json:"lines_ingested"`
	Bytes      int64 `json:"bytes_ingested"`
}

// Ledger is rounds/{id}/ledger.json: the current version of every key read so far.
type Ledger struct {
	Next    int32             `json:"next_obj_no"`
	Objects map[string]string `json:"objects"` // display key -> ETag
}

// Batch is rounds/{id}/batches/{b}/objects.json.
type Batch struct {
	Objects []load.Prepared `json:"objects"`
	// Lines is each shard's line count in the batch ("" key absent: none).
	Lines map[string]int64 `json:"lines"`
}

// RoundID names a round after its instant and number, as a run id does.
func RoundID(now time.Time, seq int) string {
	return now.UTC().Format("20060102T150405Z") + "-" + fmt.Sprintf("%06d", seq)
}

// BatchKey is a batch's object list; ShardFileKey a shard's lines in it.
func BatchKey(round string, b int) string {
	return "rounds/" + round + "/batches/" + fmt.Sprintf("%06d", b) + "/objects.json"
}

// ShardFileKey is shard i's lines of batch b.
func ShardFileKey(round string, b, i int) string {
	return "rounds/" + round + "/batches/" + fmt.Sprintf("%06d", b) + "/shard-" + strconv.Itoa(i) + ".parquet"
}

// LedgerKey is the ledger after a round.
func LedgerKey(round string) string { return "rounds/" + round + "/ledger.json" }

// ShardKey is a file shard i hands to close for a round.
func ShardKey(round string, i int, name string) string {
	return "rounds/" + round + "/shards/" + strconv.Itoa(i) + "/" + name
}

// DoneKey is shard i's completion marker for a round, written last.
func DoneKey(round string, i int) string { return ShardKey(round, i, "done.json") }

// PendingKey is shard i's completion marker for a round written before its warehouse
// generation is made current (done.json follows it).
func PendingKey(round string, i int) string { return ShardKey(round, i, "pending.json") }

// AssignmentsKey holds the invoice numbers the close step of a round assigned.
func AssignmentsKey(round string) string { return "rounds/" + round + "/assignments.json" }

// ReadRound reads the current round (nil, "" when there is none yet) and its version.
func ReadRound(ctx context.Context, st objstore.Store) (*Round, string, error) {
	data, version, err := objstore.ReadVersioned(ctx, st, RoundKey)
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	var r Round
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, "", fmt.Errorf("read %s: %w", RoundKey, err)
	}
	return &r, version, nil
}

// WriteRound replaces the current round if it is still at version ("" : there is none).
func WriteRound(ctx context.Context, st objstore.Store, r *Round, version string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode round: %w", err)
	}
	_, err = objstore.Swap(ctx, st, RoundKey, append(data, '\n'), version)
	return err
}

// GetJSON reads a JSON object of the store into v; a missing key is objstore.ErrNotFound.
func GetJSON(ctx context.Context, st objstore.Store, key string, v any) error {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	return nil
}

// PutJSON writes v as a JSON object of the store.
func PutJSON(ctx context.Context, st objstore.Store, key string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	data = append(data, '\n')
	if err := st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), "application/json"); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// PutFile uploads a local file as key (the file is kept).
func PutFile(ctx context.Context, st objstore.Store, key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	if err := st.Put(ctx, key, f, fi.Size(), objstore.ContentType(key)); err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	return nil
}

// GetFile downloads key into a local file (created, or truncated) and returns its size.
func GetFile(ctx context.Context, st objstore.Store, key, path string) (int64, error) {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("download %s: %w", key, err)
	}
	defer rc.Close()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("download %s: %w", key, err)
	}
	n, err := io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("download %s: %w", key, err)
	}
	return n, nil
}
