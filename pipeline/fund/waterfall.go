// Package fund funds each rated event from the tenant's buckets in the fixed order of
// BILLING.md section 3: allowance (units), member cap, plan, bank, then exceeding or
// blocked. It is one Go pass over the events of open periods sorted by (tenant, billed
// period, occurred_at, event_id), starting from the closing balances of the tenant's final
// periods (section 5); all amounts are int64 fixed point at 4 decimal places ("e4").
package fund

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"sort"
)

// Scale is the fixed-point factor: 1 credit = 10000 e4.
const Scale = 10000

// Deposit is a credits-bank deposit, at an instant in Unix microseconds.
type Deposit struct {
	AtUS     int64
	CreditE4 int64
}

// Tenant is what the waterfall needs to know of a contract.
type Tenant struct {
	Block    bool      // policy block: unfunded credits are blocked, not exceeding
	PlanE4   int64     // credits plan per period
	Periods  int       // number of billing periods
	Deposits []Deposit // any order; sorted by New
	CapsE4   []int64   // by member number
	PoolsE4  []int64   // total units by pool number (all of a pool's entries summed)
	// Opening is what the tenant's final periods used: the waterfall starts from it.
	Opening    Opening
	cumAt      []int64
	cumCredits []int64
}

// Opening balances of a tenant: the sums over its final periods (BILLING.md section 5),
// which later periods fund from without reading those periods' events again.
type Opening struct {
	BankUsedE4  int64   // bank credits used
	PoolsUsedE4 []int64 // allowance units used, by pool number (missing: 0)
	CapsUsedE4  []int64 // credits funded (plan + bank + exceeding), by member number (missing: 0)
}

// Row is one event in funding order.
type Row struct {
	Seq        int64 // identifies the event: its line id
	Tenant     int
	Billed     int   // period index that bills the event
	OccurredUS int64 // occurred_at, Unix microseconds
	// Late is set for an event billed in a later period than its own (BILLING.md section
	// 4): it sees the deposits dated at or before BankAtUS, the start of that period.
	Late       bool
	BankAtUS   int64
	Member     int   // member number, -1 without a cap
	Pool       int   // allowance pool number, -1 when the rule draws on none
	CreditsE4  int64 // rated credits; for a pool rule, ignored in favour of the blocks
	BlocksE4   int64 // units of a per_unit rule
	PerBlockE4 int64 // credits per unit of a per_unit rule
}

// Split is how one event's credits were funded.
type Split struct {
	RatedE4     int64 // credits after allowance
	AllowanceE4 int64 // units covered by the allowance
	PlanE4      int64
	BankE4      int64
	ExceedingE4 int64
	BlockedE4   int64
}

// Waterfall carries the running balances of one tenant at a time.
type Waterfall struct {
	tenants []Tenant
	cur     int
	planE4  []int64
	bankE4  int64
	capE4   []int64
	poolE4  []int64
}

// New prepares a waterfall over the given tenants (indexed by Row.Tenant).
func New(tenants []Tenant) (*Waterfall, error) {
	ts := make([]Tenant, len(tenants))
	for i, t := range tenants {
		if t.PlanE4 < 0 {
			return nil, fmt.Errorf("new waterfall: tenant %d: negative plan", i)
		}
		if len(t.Opening.PoolsUsedE4) > len(t.PoolsE4) || len(t.Opening.CapsUsedE4) > len(t.CapsE4) {
			return nil, fmt.Errorf("new waterfall: tenant %d: opening balances of unknown pools or members", i)
		}
		if t.Opening.BankUsedE4 < 0 || slices.ContainsFunc(t.Opening.PoolsUsedE4, neg) || slices.ContainsFunc(t.Opening.CapsUsedE4, neg) {
			return nil, fmt.Errorf("new waterfall: tenant %d: negative opening balance", i)
		}
		deps := append([]Deposit(nil), t.Deposits...)
		sort.SliceStable(deps, func(a, b int) bool { return deps[a].AtUS < deps[b].AtUS })
		t.Deposits = deps
		t.cumAt = make([]int64, len(deps))
		t.cumCredits = make([]int64, len(deps))
		var sum int64
		for j, d := range deps {
			sum += d.CreditE4
			t.cumAt[j], t.cumCredits[j] = d.AtUS, sum
		}
		ts[i] = t
	}
	return &Waterfall{tenants: ts, cur: -1}, nil
}

func neg(x int64) bool { return x < 0 }

// ErrOrder is returned for rows that are not grouped by tenant.
var ErrOrder = errors.New("rows out of funding order")

func (w *Waterfall) enter(tenant int) error {
	if tenant == w.cur {
		return nil
	}
	if tenant < w.cur || tenant >= len(w.tenants) {
		return fmt.Errorf("%w: tenant %d after %d", ErrOrder, tenant, w.cur)
	}
	t := &w.tenants[tenant]
	w.cur = tenant
	w.planE4 = make([]int64, t.Periods)
	w.bankE4 = t.Opening.BankUsedE4
	w.capE4 = make([]int64, len(t.CapsE4))
	copy(w.capE4, t.Opening.CapsUsedE4)
	w.poolE4 = make([]int64, len(t.PoolsE4))
	copy(w.poolE4, t.Opening.PoolsUsedE4)
	return nil
}

// depositsUpTo is the sum of deposits dated at or before at.
func (t *Tenant) depositsUpTo(at int64) int64 {
	n := sort.Search(len(t.cumAt), func(i int) bool { return t.cumAt[i] > at })
	if n == 0 {
		return 0
	}
	return t.cumCredits[n-1]
}

// Fund funds one row; rows must come in funding order.
func (w *Waterfall) Fund(r Row) (Split, error) {
	if err := w.enter(r.Tenant); err != nil {
		return Split{}, err
	}
	t := &w.tenants[r.Tenant]
	if r.Billed < 0 || r.Billed >= len(w.planE4) {
		return Split{}, fmt.Errorf("fund event %d: period %d out of range", r.Seq, r.Billed)
	}
	if r.Member >= len(w.capE4) || r.Pool >= len(w.poolE4) {
		return Split{}, fmt.Errorf("fund event %d: member or pool out of range", r.Seq)
	}
	if r.Late && r.BankAtUS <= r.OccurredUS {
		return Split{}, fmt.Errorf("fund event %d: late, but billed from %d, not after it occurred (%d)", r.Seq, r.BankAtUS, r.OccurredUS)
	}
	var s Split
	credits := r.CreditsE4
	if r.Pool >= 0 {
		if r.BlocksE4 < 0 {
			return Split{}, fmt.Errorf("fund event %d: negative blocks", r.Seq)
		}
		left := max(t.PoolsE4[r.Pool]-w.poolE4[r.Pool], 0)
		covered := min(r.BlocksE4, left)
		c, err := MulE4(r.BlocksE4-covered, r.PerBlockE4)
		if err != nil {
			return Split{}, fmt.Errorf("fund event %d: %w", r.Seq, err)
		}
		w.poolE4[r.Pool] += covered // only once the row is known to be good
		s.AllowanceE4 = covered
		credits = c
	}
	if credits < 0 {
		return Split{}, fmt.Errorf("fund event %d: negative credits", r.Seq)
	}
	s.RatedE4 = credits
	c := credits
	if r.Member >= 0 {
		left := max(t.CapsE4[r.Member]-w.capE4[r.Member], 0)
		if c > left {
			s.BlockedE4 += c - left
			c = left
		}
	}
	s.PlanE4 = min(c, max(t.PlanE4-w.planE4[r.Billed], 0))
	c -= s.PlanE4
	bankAt := r.OccurredUS
	if r.Late {
		bankAt = r.BankAtUS
	}
	s.BankE4 = min(c, max(t.depositsUpTo(bankAt)-w.bankE4, 0))
	c -= s.BankE4
	if t.Block {
		s.BlockedE4 += c
	} else {
		s.ExceedingE4 = c
	}
	w.planE4[r.Billed] += s.PlanE4
	w.bankE4 += s.BankE4
	if r.Member >= 0 {
		w.capE4[r.Member] += s.PlanE4 + s.BankE4 + s.ExceedingE4
	}
	return s, nil
}

// MulE4 multiplies two non-negative e4 amounts and rounds half up back to e4, in 128 bits.
func MulE4(a, b int64) (int64, error) {
	if a < 0 || b < 0 {
		return 0, errors.New("multiply negative amounts")
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	lo, carry := bits.Add64(lo, Scale/2, 0)
	hi += carry
	if hi >= Scale {
		return 0, errors.New("credits overflow")
	}
	q, _ := bits.Div64(hi, lo, Scale)
	if q > 1<<62 {
		return 0, errors.New("credits overflow")
	}
	return int64(q), nil
}
