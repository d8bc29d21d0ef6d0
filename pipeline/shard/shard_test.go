package shard

import (
	"strings"
	"testing"
)

// TestShardOfIsStable pins the tenant-to-shard function: a tenant's warehouse lives with its
// shard, so these values may never change (FNV-1a 64 of the id's bytes, mod N).
func TestShardOfIsStable(t *testing.T) {
	for _, c := range []struct {
		tenant string
		n      int
		want   int
	}{
		{"", 1, 0}, {"", 2, 1}, {"", 4, 1}, {"", 7, 2}, // 14695981039346656037: the FNV-1a offset basis
		{"acme", 2, 1}, {"acme", 4, 3}, {"acme", 7, 3},
		{"tenant-0001", 2, 1}, {"tenant-0001", 4, 3}, {"tenant-0001", 7, 6},
		{"tenant-0002", 2, 0}, {"tenant-0002", 4, 2}, {"tenant-0002", 7, 2},
		{"globex", 4, 2}, {"ünïcode", 4, 3}, {"ünïcode", 7, 6},
		{"acme", 0, 0}, // below one shard: everything is shard 0
	} {
		if got := Of(c.tenant, c.n); got != c.want {
			t.Errorf("Of(%q, %d) = %d, want %d", c.tenant, c.n, got, c.want)
		}
		if c.n >= 1 && !(Spec{Index: c.want, Count: c.n}).Owns(c.tenant) {
			t.Errorf("shard %d/%d does not own %q", c.want, c.n, c.tenant)
		}
	}
}

// TestShardOfSpreads checks every tenant has exactly one shard and shards are not empty
// for a fleet of many tenants.
func TestShardOfSpreads(t *testing.T) {
	for _, n := range []int{2, 4, 16} {
		count := make([]int, n)
		for i := range 1000 {
			id := "tenant-" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + string(rune('0'+i%10)) + string(rune('A'+i/26%26))
			owners := 0
			for s := range n {
				if (Spec{Index: s, Count: n}).Owns(id) {
					owners++
					count[s]++
				}
			}
			if owners != 1 {
				t.Fatalf("%q has %d owners among %d shards", id, owners, n)
			}
		}
		for s, c := range count {
			if c < 1000/n/2 {
				t.Errorf("shard %d/%d holds %d of 1000 tenants", s, n, c)
			}
		}
	}
}

func TestShardParseSpec(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == IndexEnv {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		arg, env string
		want     Spec
		bad      bool
	}{
		{arg: "0/1", want: Spec{0, 1}},
		{arg: "3/4", want: Spec{3, 4}},
		{arg: "4", env: "2", want: Spec{2, 4}},   // an Indexed Job's pod
		{arg: "2/4", env: "3", want: Spec{2, 4}}, // I/N wins over the environment
		{arg: "4", bad: true},                    // no index anywhere
		{arg: "4/4", bad: true},
		{arg: "-1/4", bad: true},
		{arg: "0/0", bad: true},
		{arg: "1/2000", bad: true},
		{arg: "a/b", bad: true},
		{arg: "4", env: "x", bad: true},
	} {
		got, err := ParseSpec(c.arg, env(c.env))
		if c.bad {
			if err == nil {
				t.Errorf("ParseSpec(%q) with %s=%q = %v, want an error", c.arg, IndexEnv, c.env, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseSpec(%q) with %s=%q = %v, %v; want %v", c.arg, IndexEnv, c.env, got, err, c.want)
		}
		if got.String() != strings.TrimSpace(got.String()) {
			t.Errorf("String() = %q", got.String())
		}
	}
}
