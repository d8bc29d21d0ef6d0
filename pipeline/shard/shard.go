// Package shard assigns tenants to the shards of a sharded round (README, "Past one
// machine"): a tenant belongs to shard hash(tenant_id) mod N, where hash is FNV-1a (64 bits)
// of the tenant id's bytes. The function is the product's own, like the content digest
// (BILLING.md section 9): it must never change with a library version, because a tenant's
// warehouse lives with its shard. Lines whose tenant cannot be read belong to the shard of
// the empty tenant id, so that they land somewhere fixed and are reconciled there.
package shard

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Of is the shard of a tenant among n (n >= 1).
func Of(tenantID string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(tenantID))
	return int(h.Sum64() % uint64(n))
}

// Spec is one shard of N: Index in [0, Count).
type Spec struct {
	Index, Count int
}

// String is the spec as the command line takes it: "I/N".
func (s Spec) String() string { return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count) }

// Owns reports whether the shard holds the tenant.
func (s Spec) Owns(tenantID string) bool { return Of(tenantID, s.Count) == s.Index }

// IndexEnv is the variable a Kubernetes Indexed Job sets to the pod's completion index.
const IndexEnv = "JOB_COMPLETION_INDEX"

// ParseSpec reads --shard: "I/N", or "N" alone with I from $JOB_COMPLETION_INDEX (getenv
// looks it up).
func ParseSpec(s string, getenv func(string) string) (Spec, error) {
	idx, count, ok := strings.Cut(s, "/")
	if !ok {
		count, idx = s, getenv(IndexEnv)
		if idx == "" {
			return Spec{}, fmt.Errorf("parse shard %q: want I/N, or N with %s set", s, IndexEnv)
		}
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(idx))
	n, err2 := strconv.Atoi(strings.TrimSpace(count))
	if err := errors.Join(err1, err2); err != nil {
		return Spec{}, fmt.Errorf("parse shard %q: %w", s, err)
	}
	if n < 1 || n > 1024 || i < 0 || i >= n {
		return Spec{}, fmt.Errorf("parse shard %q: want 0 <= I < N <= 1024", s)
	}
	return Spec{Index: i, Count: n}, nil
}
