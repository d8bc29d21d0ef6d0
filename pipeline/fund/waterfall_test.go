package fund

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/quick"
	"time"
)

// cr is a whole number of credits (or units) in e4.
func cr(n int64) int64 { return n * Scale }

// at is an RFC 3339 instant in Unix microseconds.
func at(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

// ev is a plain event without cap or pool.
func ev(seq int64, billed int, occurred string, credits int64) Row {
	return Row{Seq: seq, Billed: billed, OccurredUS: at(occurred), Member: -1, Pool: -1, CreditsE4: credits}
}

// late marks r as a late event billed in a period that starts at start (BILLING.md
// section 4): it sees the deposits dated at or before start.
func late(r Row, start string) Row {
	r.Late, r.BankAtUS = true, at(start)
	return r
}

// bankAt is the instant whose deposits a row sees, read from the spec rather than from the
// package: the start of the billing period for a late event, else its occurred_at.
func bankAt(r Row) int64 {
	if r.Late {
		return r.BankAtUS
	}
	return r.OccurredUS
}

// fundAll runs rows through a fresh waterfall and stops at the first error.
func fundAll(tenants []Tenant, rows []Row) ([]Split, error) {
	w, err := New(tenants)
	if err != nil {
		return nil, err
	}
	out := make([]Split, 0, len(rows))
	for _, r := range rows {
		s, err := w.Fund(r)
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}

func TestWaterfallTable(t *testing.T) {
	const (
		jan1  = "2026-01-01T00:00:00+01:00"
		jan10 = "2026-01-10T09:00:00+01:00"
		jan20 = "2026-01-20T09:00:00+01:00"
		feb1  = "2026-02-01T00:00:00+01:00" // start of period 1 in these tables
		feb10 = "2026-02-10T09:00:00+01:00"
		mar10 = "2026-03-10T09:00:00+01:00"
	)
	member := func(r Row, m int) Row { r.Member = m; return r }
	tests := []struct {
		name    string
		tenants []Tenant
		rows    []Row
		want    []Split
	}{
		{
			// Given a plan of 100 credits and no bank,
			// When two events of 10 and 20 credits arrive in the period,
			// Then both are funded from the plan alone.
			name:    "plan only",
			tenants: []Tenant{{PlanE4: cr(100), Periods: 1}},
			rows:    []Row{ev(1, 0, jan10, cr(10)), ev(2, 0, jan20, cr(20))},
			want: []Split{
				{RatedE4: cr(10), PlanE4: cr(10)},
				{RatedE4: cr(20), PlanE4: cr(20)},
			},
		},
		{
			// Given the worked example of BILLING.md section 8: plan 100, a deposit of 150 at
			// Jan 1, policy bill, a video pool of 2 minutes,
			// When events of 10, 55 and 0 credits, then a 3-minute video at 210 per minute arrive,
			// Then the video uses 2 minutes of allowance, rates 210 and splits into
			// plan 35, bank 150, exceeding 25.
			name: "worked example split (bill)",
			tenants: []Tenant{{
				PlanE4: cr(100), Periods: 12, PoolsE4: []int64{cr(2)},
				Deposits: []Deposit{{AtUS: at(jan1), CreditE4: cr(150)}},
			}},
			rows: []Row{
				ev(1, 0, "2026-01-05T10:00:00+01:00", cr(10)),
				ev(2, 0, "2026-01-06T10:00:00+01:00", cr(55)),
				ev(3, 0, "2026-01-07T10:00:00+01:00", 0),
				{Seq: 4, OccurredUS: at("2026-01-08T10:00:00+01:00"), Member: -1, Pool: 0,
					BlocksE4: cr(3), PerBlockE4: cr(210)},
			},
			want: []Split{
				{RatedE4: cr(10), PlanE4: cr(10)},
				{RatedE4: cr(55), PlanE4: cr(55)},
				{},
				{RatedE4: cr(210), AllowanceE4: cr(2), PlanE4: cr(35), BankE4: cr(150), ExceedingE4: cr(25)},
			},
		},
		{
			// Given the worked example tenant without allowance, on policy bill,
			// When events of 10, 55, 0 and then 210 credits arrive,
			// Then the 210 splits into plan 35, bank 150, exceeding 25.
			name: "plan then bank then exceeding",
			tenants: []Tenant{{
				PlanE4: cr(100), Periods: 1,
				Deposits: []Deposit{{AtUS: at(jan1), CreditE4: cr(150)}},
			}},
			rows: []Row{ev(1, 0, jan10, cr(10)), ev(2, 0, jan10, cr(55)), ev(3, 0, jan10, 0), ev(4, 0, jan20, cr(210))},
			want: []Split{
				{RatedE4: cr(10), PlanE4: cr(10)},
				{RatedE4: cr(55), PlanE4: cr(55)},
				{},
				{RatedE4: cr(210), PlanE4: cr(35), BankE4: cr(150), ExceedingE4: cr(25)},
			},
		},
		{
			// Given the same tenant on policy block (hard stop),
			// When the same events arrive,
			// Then the unfunded 25 credits are blocked, never exceeding.
			name: "policy block",
			tenants: []Tenant{{
				Block: true, PlanE4: cr(100), Periods: 1,
				Deposits: []Deposit{{AtUS: at(jan1), CreditE4: cr(150)}},
			}},
			rows: []Row{ev(1, 0, jan10, cr(10)), ev(2, 0, jan10, cr(55)), ev(3, 0, jan10, 0), ev(4, 0, jan20, cr(210))},
			want: []Split{
				{RatedE4: cr(10), PlanE4: cr(10)},
				{RatedE4: cr(55), PlanE4: cr(55)},
				{},
				{RatedE4: cr(210), PlanE4: cr(35), BankE4: cr(150), BlockedE4: cr(25)},
			},
		},
		{
			// Given no plan, policy bill and a deposit of 100 dated Jan 20 09:00,
			// When an event occurs one microsecond before that instant and another exactly at it,
			// Then the earlier one exceeds and the one at the instant is funded by the bank.
			name: "deposit funds only events at or after its instant",
			tenants: []Tenant{{
				Periods:  1,
				Deposits: []Deposit{{AtUS: at(jan20), CreditE4: cr(100)}},
			}},
			rows: []Row{
				ev(1, 0, "2026-01-20T08:59:59.999999+01:00", cr(10)),
				ev(2, 0, "2026-01-20T09:00:00+01:00", cr(10)),
			},
			want: []Split{
				{RatedE4: cr(10), ExceedingE4: cr(10)},
				{RatedE4: cr(10), BankE4: cr(10)},
			},
		},
		{
			// Given the same deposit on policy block,
			// When an event occurs one microsecond before the deposit,
			// Then it is blocked, and the deposit stays whole for the event at the instant.
			name: "deposit boundary under block",
			tenants: []Tenant{{
				Block: true, Periods: 1,
				Deposits: []Deposit{{AtUS: at(jan20), CreditE4: cr(100)}},
			}},
			rows: []Row{
				ev(1, 0, "2026-01-20T08:59:59.999999+01:00", cr(10)),
				ev(2, 0, "2026-01-20T09:00:00+01:00", cr(100)),
			},
			want: []Split{
				{RatedE4: cr(10), BlockedE4: cr(10)},
				{RatedE4: cr(100), BankE4: cr(100)},
			},
		},
		{
			// Given no plan and a deposit of 50 dated Jan 20,
			// When 30 credits are used on Jan 10 (before the deposit), then 30 and 30 after it,
			// Then the Jan 10 event stays exceeding (no retroactive payment), the deposit funds
			// the next 30 and 20 of the last, and 10 more exceed: 40 exceeding in all.
			name: "deposit never pays retroactively",
			tenants: []Tenant{{
				Periods:  1,
				Deposits: []Deposit{{AtUS: at(jan20), CreditE4: cr(50)}},
			}},
			rows: []Row{
				ev(1, 0, jan10, cr(30)),
				ev(2, 0, jan20, cr(30)),
				ev(3, 0, "2026-01-25T00:00:00+01:00", cr(30)),
			},
			want: []Split{
				{RatedE4: cr(30), ExceedingE4: cr(30)},
				{RatedE4: cr(30), BankE4: cr(30)},
				{RatedE4: cr(30), BankE4: cr(20), ExceedingE4: cr(10)},
			},
		},
		{
			// Given a plan of 10 per period and a bank of 15,
			// When 20 credits are used in January and 20 in February,
			// Then January uses plan 10 and bank 10, February gets a fresh plan of 10 but only
			// the 5 credits left in the bank, and 5 exceed.
			name: "plan resets per period, bank carries over",
			tenants: []Tenant{{
				PlanE4: cr(10), Periods: 2,
				Deposits: []Deposit{{AtUS: at(jan1), CreditE4: cr(15)}},
			}},
			rows: []Row{
				ev(1, 0, jan10, cr(10)), ev(2, 0, jan20, cr(10)),
				ev(3, 1, feb10, cr(10)), ev(4, 1, feb10, cr(10)),
			},
			want: []Split{
				{RatedE4: cr(10), PlanE4: cr(10)},
				{RatedE4: cr(10), BankE4: cr(10)},
				{RatedE4: cr(10), PlanE4: cr(10)},
				{RatedE4: cr(10), BankE4: cr(5), ExceedingE4: cr(5)},
			},
		},
		{
			// Given a plan of 100 and a member capped at 0,
			// When that member and an uncapped user each use 10 credits,
			// Then the capped member is blocked entirely and the other is funded by the plan.
			name:    "member cap 0 blocks all",
			tenants: []Tenant{{PlanE4: cr(100), Periods: 1, CapsE4: []int64{0}}},
			rows:    []Row{member(ev(1, 0, jan10, cr(10)), 0), ev(2, 0, jan10, cr(10))},
			want: []Split{
				{RatedE4: cr(10), BlockedE4: cr(10)},
				{RatedE4: cr(10), PlanE4: cr(10)},
			},
		},
		{
			// Given a plan of 100 per period and a member capped at 40 over the contract,
			// When the member uses 30 credits in each of January, February and March,
			// Then January funds 30, February funds 10 and blocks 20, March blocks all 30:
			// the cap does not reset with the period.
			name:    "member cap 40 over the contract across periods",
			tenants: []Tenant{{PlanE4: cr(100), Periods: 3, CapsE4: []int64{cr(40)}}},
			rows: []Row{
				member(ev(1, 0, jan10, cr(30)), 0),
				member(ev(2, 1, feb10, cr(30)), 0),
				member(ev(3, 2, mar10, cr(30)), 0),
			},
			want: []Split{
				{RatedE4: cr(30), PlanE4: cr(30)},
				{RatedE4: cr(30), PlanE4: cr(10), BlockedE4: cr(20)},
				{RatedE4: cr(30), BlockedE4: cr(30)},
			},
		},
		{
			// Given policy block, a plan of 10 per period, no bank and a member capped at 25,
			// When the member uses 30 credits in each of three periods,
			// Then only the 10 funded credits of each period use the cap (the hard-stop
			// blocked ones do not): 10, 10, then the 5 left of the cap.
			name:    "cap used only by funded credits, not by the hard stop",
			tenants: []Tenant{{Block: true, PlanE4: cr(10), Periods: 3, CapsE4: []int64{cr(25)}}},
			rows: []Row{
				member(ev(1, 0, jan10, cr(30)), 0),
				member(ev(2, 1, feb10, cr(30)), 0),
				member(ev(3, 2, mar10, cr(30)), 0),
			},
			want: []Split{
				{RatedE4: cr(30), PlanE4: cr(10), BlockedE4: cr(20)},
				{RatedE4: cr(30), PlanE4: cr(10), BlockedE4: cr(20)},
				{RatedE4: cr(30), PlanE4: cr(5), BlockedE4: cr(25)},
			},
		},
		{
			// Given policy bill, a plan of 10, no bank and a member capped at 25,
			// When the member uses 30 and then 10 credits,
			// Then the first funds plan 10 and exceeding 15 (exceeding uses the cap) and blocks
			// 5 over the cap; the second is blocked entirely.
			name:    "cap used by exceeding under bill",
			tenants: []Tenant{{PlanE4: cr(10), Periods: 1, CapsE4: []int64{cr(25)}}},
			rows: []Row{
				member(ev(1, 0, jan10, cr(30)), 0),
				member(ev(2, 0, jan20, cr(10)), 0),
			},
			want: []Split{
				{RatedE4: cr(30), PlanE4: cr(10), ExceedingE4: cr(15), BlockedE4: cr(5)},
				{RatedE4: cr(10), BlockedE4: cr(10)},
			},
		},
		{
			// Given a pool of 5 units (an included 3 and a purchased 2, summed) at 210 per unit,
			// When videos of 3 units, a preview-like row without pool, 4 units and 1 unit arrive,
			// Then the first is covered entirely, the preview uses nothing, the second is
			// covered for the 2 units left and charged 420, the third is charged 210.
			name:    "allowance pool covers blocks first",
			tenants: []Tenant{{PlanE4: cr(10000), Periods: 1, PoolsE4: []int64{cr(3) + cr(2)}}},
			rows: []Row{
				{Seq: 1, OccurredUS: at(jan10), Member: -1, Pool: 0, BlocksE4: cr(3), PerBlockE4: cr(210)},
				{Seq: 2, OccurredUS: at(jan10), Member: -1, Pool: -1, CreditsE4: 0},
				{Seq: 3, OccurredUS: at(jan20), Member: -1, Pool: 0, BlocksE4: cr(4), PerBlockE4: cr(210)},
				{Seq: 4, OccurredUS: at(jan20), Member: -1, Pool: 0, BlocksE4: cr(1), PerBlockE4: cr(210)},
			},
			want: []Split{
				{AllowanceE4: cr(3)},
				{},
				{RatedE4: cr(420), AllowanceE4: cr(2), PlanE4: cr(420)},
				{RatedE4: cr(210), PlanE4: cr(210)},
			},
		},
		{
			// Given two pools (0 empty, 1 with 1 unit),
			// When a row draws on pool 1 and another on pool 0,
			// Then each pool is consumed on its own.
			name:    "pools are separate",
			tenants: []Tenant{{PlanE4: cr(10000), Periods: 1, PoolsE4: []int64{0, cr(1)}}},
			rows: []Row{
				{Seq: 1, OccurredUS: at(jan10), Member: -1, Pool: 1, BlocksE4: cr(2), PerBlockE4: cr(5)},
				{Seq: 2, OccurredUS: at(jan10), Member: -1, Pool: 0, BlocksE4: cr(1), PerBlockE4: cr(5)},
			},
			want: []Split{
				{RatedE4: cr(5), AllowanceE4: cr(1), PlanE4: cr(5)},
				{RatedE4: cr(5), PlanE4: cr(5)},
			},
		},
		{
			// Given an empty pool and exact rounding (fractional blocks),
			// When 1.5 blocks at 0.3333 and 1.4999 blocks at 0.3333 are charged,
			// Then MulE4 rounds half up: 0.49995 -> 0.5000 and 0.49991667 -> 0.4999.
			name:    "pool MulE4 rounding half up",
			tenants: []Tenant{{PlanE4: cr(100), Periods: 1, PoolsE4: []int64{0}}},
			rows: []Row{
				{Seq: 1, OccurredUS: at(jan10), Member: -1, Pool: 0, BlocksE4: 15000, PerBlockE4: 3333},
				{Seq: 2, OccurredUS: at(jan10), Member: -1, Pool: 0, BlocksE4: 14999, PerBlockE4: 3333},
			},
			want: []Split{
				{RatedE4: 5000, PlanE4: 5000},
				{RatedE4: 4999, PlanE4: 4999},
			},
		},
		{
			// Given a tenant with plan 100 per period, a deposit of 150, a member capped at 200
			// and a 3-unit pool, whose final January closed with bank 20 used, 2 units of the
			// pool used and 85 credits funded for the member (BILLING.md section 5),
			// When February's events are funded from those opening balances,
			// Then they see February's plan untouched (100), the pool's 1 unit left, the
			// member's 115 left and the bank's 130 left.
			name: "opening balances carry the final periods forward",
			tenants: []Tenant{{
				PlanE4: cr(100), Periods: 2, CapsE4: []int64{cr(200)}, PoolsE4: []int64{cr(3)},
				Deposits: []Deposit{{AtUS: at(jan1), CreditE4: cr(150)}},
				Opening:  Opening{BankUsedE4: cr(20), PoolsUsedE4: []int64{cr(2)}, CapsUsedE4: []int64{cr(85)}},
			}},
			rows: []Row{
				{Seq: 2, Billed: 1, OccurredUS: at(feb10), Member: 0, Pool: 0, BlocksE4: cr(3), PerBlockE4: cr(50)},
				member(ev(3, 1, feb10, cr(100)), 0),
				ev(4, 1, feb10, cr(150)),
			},
			want: []Split{
				{RatedE4: cr(100), AllowanceE4: cr(1), PlanE4: cr(100)},
				{RatedE4: cr(100), BankE4: cr(15), BlockedE4: cr(85)},
				{RatedE4: cr(150), BankE4: cr(115), ExceedingE4: cr(35)},
			},
		},
		{
			// Given two pools and two capped members, and opening balances that list only
			// pool 0 (used up) and member 0 (cap used up),
			// When each pool and each member is drawn on,
			// Then the missing entries open at 0: pool 1 and member 1 are whole.
			name: "opening entries left out start at zero",
			tenants: []Tenant{{
				Periods: 1, CapsE4: []int64{cr(10), cr(10)}, PoolsE4: []int64{cr(1), cr(1)},
				Opening: Opening{PoolsUsedE4: []int64{cr(1)}, CapsUsedE4: []int64{cr(10)}},
			}},
			rows: []Row{
				{Seq: 1, OccurredUS: at(jan10), Member: -1, Pool: 0, BlocksE4: cr(1), PerBlockE4: cr(5)},
				{Seq: 2, OccurredUS: at(jan10), Member: -1, Pool: 1, BlocksE4: cr(1), PerBlockE4: cr(5)},
				member(ev(3, 0, jan10, cr(5)), 0),
				member(ev(4, 0, jan10, cr(5)), 1),
			},
			want: []Split{
				{RatedE4: cr(5), ExceedingE4: cr(5)},
				{AllowanceE4: cr(1)},
				{RatedE4: cr(5), BlockedE4: cr(5)},
				{RatedE4: cr(5), ExceedingE4: cr(5)},
			},
		},
		{
			// Given opening balances past today's limits (a lowered cap, a smaller pool, a
			// bank used beyond the deposits configured now),
			// When events draw on them,
			// Then nothing is left in any of them, and no balance goes below zero (BILLING.md
			// section 3): the plan funds what it can, the rest exceeds or is blocked.
			name: "opening balances past the limits leave nothing",
			tenants: []Tenant{{
				PlanE4: cr(10), Periods: 1, CapsE4: []int64{cr(10)}, PoolsE4: []int64{cr(1)},
				Deposits: []Deposit{{AtUS: at(jan1), CreditE4: cr(50)}},
				Opening:  Opening{BankUsedE4: cr(80), PoolsUsedE4: []int64{cr(3)}, CapsUsedE4: []int64{cr(20)}},
			}},
			rows: []Row{
				{Seq: 1, OccurredUS: at(jan10), Member: -1, Pool: 0, BlocksE4: cr(2), PerBlockE4: cr(10)},
				member(ev(2, 0, jan20, cr(5)), 0),
			},
			want: []Split{
				{RatedE4: cr(20), PlanE4: cr(10), ExceedingE4: cr(10)},
				{RatedE4: cr(5), BlockedE4: cr(5)},
			},
		},
		{
			// Given two tenants with a bank of 10 each, tenant 0 having used it all in its
			// final periods,
			// When each uses 15 credits,
			// Then tenant 0 exceeds by 15 and tenant 1 starts from its own (empty) opening.
			name: "each tenant starts from its own opening",
			tenants: []Tenant{
				{Periods: 1, Deposits: []Deposit{{AtUS: at(jan1), CreditE4: cr(10)}}, Opening: Opening{BankUsedE4: cr(10)}},
				{Periods: 1, Deposits: []Deposit{{AtUS: at(jan1), CreditE4: cr(10)}}},
			},
			rows: []Row{
				ev(1, 0, jan10, cr(15)),
				{Seq: 2, Tenant: 1, OccurredUS: at(jan10), Member: -1, Pool: -1, CreditsE4: cr(15)},
			},
			want: []Split{
				{RatedE4: cr(15), ExceedingE4: cr(15)},
				{RatedE4: cr(15), BankE4: cr(10), ExceedingE4: cr(5)},
			},
		},
		{
			// Given two tenants, each with a bank of 10,
			// When tenant 0 uses 15 credits and then tenant 1 uses 15 credits,
			// Then tenant 1 starts from its own fresh balances.
			name: "balances reset between tenants",
			tenants: []Tenant{
				{Periods: 1, Deposits: []Deposit{{AtUS: at(jan1), CreditE4: cr(10)}}},
				{Periods: 1, Deposits: []Deposit{{AtUS: at(jan1), CreditE4: cr(10)}}},
			},
			rows: []Row{
				ev(1, 0, jan10, cr(15)),
				{Seq: 2, Tenant: 1, OccurredUS: at(jan10), Member: -1, Pool: -1, CreditsE4: cr(15)},
			},
			want: []Split{
				{RatedE4: cr(15), BankE4: cr(10), ExceedingE4: cr(5)},
				{RatedE4: cr(15), BankE4: cr(10), ExceedingE4: cr(5)},
			},
		},
		{
			// Given deposits listed out of date order (Jan 20 then Jan 1),
			// When an event on Jan 10 uses 20 credits,
			// Then only the Jan 1 deposit (5) funds it: New sorts the deposits.
			name: "deposits in any order",
			tenants: []Tenant{{Periods: 1, Deposits: []Deposit{
				{AtUS: at(jan20), CreditE4: cr(100)},
				{AtUS: at(jan1), CreditE4: cr(5)},
			}}},
			rows: []Row{ev(1, 0, jan10, cr(20)), ev(2, 0, jan20, cr(20))},
			want: []Split{
				{RatedE4: cr(20), BankE4: cr(5), ExceedingE4: cr(15)},
				{RatedE4: cr(20), BankE4: cr(20)},
			},
		},
		{
			// Given a plan of 10 per period, a deposit of 5 on Jan 1 and one of 100 on Feb 10,
			// When a January event arrives late and is billed in February, before February's
			// own event,
			// Then it is funded from February's plan and from the bank as it stood at Feb 1
			// (5): 5 exceed; the Feb 10 deposit funds February's own event.
			name: "late event funded from the open period",
			tenants: []Tenant{{PlanE4: cr(10), Periods: 2, Deposits: []Deposit{
				{AtUS: at(jan1), CreditE4: cr(5)},
				{AtUS: at(feb10), CreditE4: cr(100)},
			}}},
			rows: []Row{late(ev(1, 1, jan20, cr(20)), feb1), ev(2, 1, feb10, cr(20))},
			want: []Split{
				{RatedE4: cr(20), PlanE4: cr(10), BankE4: cr(5), ExceedingE4: cr(5)},
				{RatedE4: cr(20), BankE4: cr(20)},
			},
		},
		{
			// Given no plan and a deposit of 50 dated Jan 20, after the late event occurred
			// but before Feb 1, the start of the period that bills it,
			// When the Jan 10 event arrives late in February, then a February event follows,
			// Then the deposit funds the late event (BILLING.md v2 sections 3 and 4; funded
			// at its occurred_at, as in v1, it would exceed 30) and the 20 left go to the next.
			name:    "late event sees deposits up to its billing period's start",
			tenants: []Tenant{{Periods: 2, Deposits: []Deposit{{AtUS: at(jan20), CreditE4: cr(50)}}}},
			rows:    []Row{late(ev(1, 1, jan10, cr(30)), feb1), ev(2, 1, feb10, cr(30))},
			want: []Split{
				{RatedE4: cr(30), BankE4: cr(30)},
				{RatedE4: cr(30), BankE4: cr(20), ExceedingE4: cr(10)},
			},
		},
		{
			// Given no plan and a deposit of 50 dated one microsecond after Feb 1, inside the
			// period that bills the late event,
			// When the late event and then two February events are funded,
			// Then the late event exceeds (the deposit is after its bank instant) and the
			// deposit funds the February events, never the late one retroactively.
			name: "deposit inside the billing period does not fund the late event",
			tenants: []Tenant{{Periods: 2, Deposits: []Deposit{
				{AtUS: at("2026-02-01T00:00:00.000001+01:00"), CreditE4: cr(50)},
			}}},
			rows: []Row{
				late(ev(1, 1, jan20, cr(30)), feb1),
				ev(2, 1, feb10, cr(30)),
				ev(3, 1, "2026-02-20T09:00:00+01:00", cr(30)),
			},
			want: []Split{
				{RatedE4: cr(30), ExceedingE4: cr(30)},
				{RatedE4: cr(30), BankE4: cr(30)},
				{RatedE4: cr(30), BankE4: cr(20), ExceedingE4: cr(10)},
			},
		},
		{
			// Given no plan and a deposit of 50 dated exactly at Feb 1, the start of
			// period 1 (a deposit at a period's end belongs to the next one, section 9),
			// When January's last event (one microsecond before) and then a late event
			// billed in February are funded,
			// Then January's exceeds and the deposit funds the late event.
			name:    "deposit at the billing period's start funds the late event",
			tenants: []Tenant{{Periods: 2, Deposits: []Deposit{{AtUS: at(feb1), CreditE4: cr(50)}}}},
			rows: []Row{
				ev(1, 0, "2026-01-31T23:59:59.999999+01:00", cr(10)),
				late(ev(2, 1, jan20, cr(30)), feb1),
			},
			want: []Split{
				{RatedE4: cr(10), ExceedingE4: cr(10)},
				{RatedE4: cr(30), BankE4: cr(30)},
			},
		},
		{
			// Given no plan and a deposit of 50 dated Jan 20,
			// When a Jan 10 event that is not late carries a BankAtUS of Feb 1,
			// Then BankAtUS is ignored: the event sees the deposits up to its occurred_at
			// and exceeds.
			name:    "a row not late ignores BankAtUS",
			tenants: []Tenant{{Periods: 2, Deposits: []Deposit{{AtUS: at(jan20), CreditE4: cr(50)}}}},
			rows: []Row{func() Row {
				r := ev(1, 0, jan10, cr(30))
				r.BankAtUS = at(feb1)
				return r
			}()},
			want: []Split{{RatedE4: cr(30), ExceedingE4: cr(30)}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fundAll(tc.tenants, tc.rows)
			if err != nil {
				t.Fatalf("fund: %v", err)
			}
			if !slices.Equal(got, tc.want) {
				for i := range got {
					if i >= len(tc.want) || got[i] != tc.want[i] {
						var want Split
						if i < len(tc.want) {
							want = tc.want[i]
						}
						t.Errorf("row %d:\n got %+v\nwant %+v", i, got[i], want)
					}
				}
				if len(got) != len(tc.want) {
					t.Errorf("got %d splits, want %d", len(got), len(tc.want))
				}
			}
			if err := checkInvariants(tc.tenants, tc.rows, got); err != nil {
				t.Errorf("invariants: %v", err)
			}
		})
	}
}

func TestWaterfallErrors(t *testing.T) {
	two := []Tenant{{PlanE4: cr(1), Periods: 2, CapsE4: []int64{0}, PoolsE4: []int64{cr(1)}}, {Periods: 1}}
	ok := Row{Member: -1, Pool: -1, CreditsE4: cr(1)}
	with := func(f func(*Row)) Row { r := ok; f(&r); return r }
	tests := []struct {
		name    string
		tenants []Tenant
		rows    []Row
		wantIs  error  // errors.Is target, or nil
		wantSub string // substring of the message
	}{
		{
			// Given two tenants,
			// When a row of tenant 1 is followed by a row of tenant 0,
			// Then funding fails with ErrOrder (rows must be grouped by tenant).
			name:    "rows out of tenant order",
			tenants: two,
			rows:    []Row{with(func(r *Row) { r.Tenant = 1 }), ok},
			wantIs:  ErrOrder,
		},
		{
			// Given two tenants,
			// When a row names tenant 2,
			// Then funding fails with ErrOrder.
			name:    "unknown tenant",
			tenants: two,
			rows:    []Row{with(func(r *Row) { r.Tenant = 2 })},
			wantIs:  ErrOrder,
		},
		{
			// Given no tenants at all,
			// When a row of tenant 0 comes,
			// Then funding fails with ErrOrder.
			name:   "no tenants",
			rows:   []Row{ok},
			wantIs: ErrOrder,
		},
		{
			// Given a tenant with 2 periods,
			// When a row is billed in period 2,
			// Then funding fails: period out of range.
			name:    "period index past the end",
			tenants: two,
			rows:    []Row{with(func(r *Row) { r.Billed = 2 })},
			wantSub: "period 2 out of range",
		},
		{
			// Given a tenant with 2 periods,
			// When a row is billed in period -1,
			// Then funding fails: period out of range.
			name:    "negative period index",
			tenants: two,
			rows:    []Row{with(func(r *Row) { r.Billed = -1 })},
			wantSub: "period -1 out of range",
		},
		{
			// Given a tenant with one pool,
			// When its opening balances list two pools,
			// Then New refuses it: an opening of a pool the contract does not have.
			name:    "opening of an unknown pool",
			tenants: []Tenant{{Periods: 1, PoolsE4: []int64{cr(1)}, Opening: Opening{PoolsUsedE4: []int64{0, 0}}}},
			wantSub: "opening balances of unknown pools or members",
		},
		{
			// Given a tenant without capped members,
			// When its opening balances list a member,
			// Then New refuses it.
			name:    "opening of an unknown member",
			tenants: []Tenant{{Periods: 1, Opening: Opening{CapsUsedE4: []int64{cr(1)}}}},
			wantSub: "opening balances of unknown pools or members",
		},
		{
			// Given a good tenant 0 and a tenant 1 with an opening for an unknown pool,
			// When the waterfall is built,
			// Then New refuses it, naming tenant 1.
			name:    "opening checked for every tenant",
			tenants: []Tenant{{Periods: 1}, {Periods: 1, Opening: Opening{PoolsUsedE4: []int64{0}}}},
			wantSub: "tenant 1",
		},
		{
			// Given a tenant with one capped member,
			// When a row names member 1,
			// Then funding fails: member out of range.
			name:    "member out of range",
			tenants: two,
			rows:    []Row{with(func(r *Row) { r.Member = 1 })},
			wantSub: "member or pool out of range",
		},
		{
			// Given a tenant with one pool,
			// When a row names pool 1,
			// Then funding fails: pool out of range.
			name:    "pool out of range",
			tenants: two,
			rows:    []Row{with(func(r *Row) { r.Pool = 1 })},
			wantSub: "member or pool out of range",
		},
		{
			// Given a tenant,
			// When a row carries negative credits,
			// Then funding fails.
			name:    "negative credits",
			tenants: two,
			rows:    []Row{with(func(r *Row) { r.CreditsE4 = -1 })},
			wantSub: "negative",
		},
		{
			// Given a tenant with a pool,
			// When a pool row carries negative blocks,
			// Then funding fails (and the pool is not refunded).
			name:    "negative blocks",
			tenants: two,
			rows:    []Row{with(func(r *Row) { r.Pool = 0; r.BlocksE4 = -cr(1); r.PerBlockE4 = cr(1) })},
			wantSub: "negative",
		},
		{
			// Given a tenant with a pool,
			// When a pool row's credits overflow int64,
			// Then funding fails with an overflow error instead of wrapping.
			name:    "pool credits overflow",
			tenants: two,
			rows:    []Row{with(func(r *Row) { r.Pool = 0; r.BlocksE4 = math.MaxInt64; r.PerBlockE4 = math.MaxInt64 })},
			wantSub: "overflow",
		},
		{
			// Given a tenant with a negative plan,
			// When the waterfall is built,
			// Then New refuses it.
			name:    "negative plan",
			tenants: []Tenant{{PlanE4: -1, Periods: 1}},
			wantSub: "negative plan",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fundAll(tc.tenants, tc.rows)
			if err == nil {
				t.Fatal("want an error, got none")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v is not %v", err, tc.wantIs)
			}
			if tc.wantSub != "" && !strings.Contains(err.Error(), tc.wantSub) {
				t.Errorf("error %q does not contain %q", err, tc.wantSub)
			}
		})
	}
}

// TestWaterfallErrorLeavesPool checks that a refused pool row does not move the pool.
func TestWaterfallErrorLeavesPool(t *testing.T) {
	// Given a pool of 2 units,
	// When a row with negative blocks is refused and a valid 2-unit row follows,
	// Then the valid row is still covered entirely.
	w, err := New([]Tenant{{PlanE4: cr(100), Periods: 1, PoolsE4: []int64{cr(2)}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Fund(Row{Member: -1, Pool: 0, BlocksE4: -cr(5), PerBlockE4: cr(1)}); err == nil {
		t.Fatal("negative blocks accepted")
	}
	if _, err := w.Fund(Row{Member: -1, Pool: 0, BlocksE4: cr(5), PerBlockE4: math.MaxInt64}); err == nil {
		t.Fatal("overflow accepted")
	}
	s, err := w.Fund(Row{Member: -1, Pool: 0, BlocksE4: cr(2), PerBlockE4: cr(1)})
	if err != nil {
		t.Fatal(err)
	}
	if s != (Split{AllowanceE4: cr(2)}) {
		t.Errorf("got %+v, want the 2 units covered", s)
	}
}

// TestWaterfallOpeningNotShared checks that funding never writes to the caller's opening
// balances: the same tenants fund the same way twice.
func TestWaterfallOpeningNotShared(t *testing.T) {
	// Given a tenant whose opening used 1 unit of a 3-unit pool and 5 of a member's cap of 10,
	// When the pool and the member are drawn on in full, twice over with fresh waterfalls,
	// Then the tenant's Opening is unchanged and both runs give the same splits.
	tenants := []Tenant{{PlanE4: cr(100), Periods: 1, CapsE4: []int64{cr(10)}, PoolsE4: []int64{cr(3)},
		Opening: Opening{PoolsUsedE4: []int64{cr(1)}, CapsUsedE4: []int64{cr(5)}}}}
	rows := []Row{{Seq: 1, Member: 0, Pool: 0, BlocksE4: cr(3), PerBlockE4: cr(20)}}
	want := []Split{{RatedE4: cr(20), AllowanceE4: cr(2), PlanE4: cr(5), BlockedE4: cr(15)}}
	for run := range 2 {
		got, err := fundAll(tenants, rows)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("run %d: got %+v, want %+v", run, got, want)
		}
	}
	if o := tenants[0].Opening; o.PoolsUsedE4[0] != cr(1) || o.CapsUsedE4[0] != cr(5) {
		t.Errorf("opening changed to %+v", o)
	}
}

func TestMulE4(t *testing.T) {
	tests := []struct {
		name    string
		a, b    int64
		want    int64
		wantErr bool
	}{
		// Given zero, When multiplied, Then zero.
		{name: "zero", a: 0, b: cr(210), want: 0},
		// Given whole numbers, When multiplied, Then exact.
		{name: "whole", a: cr(3), b: cr(210), want: cr(630)},
		// Given a product ending in exactly half an e4, When rounded, Then it goes up.
		{name: "half up", a: 15000, b: 3333, want: 5000},
		// Given a product just below half an e4, When rounded, Then it goes down.
		{name: "below half", a: 14999, b: 3333, want: 4999},
		// Given 0.0001 * 0.0001, When rounded, Then 0 (1e-8 is below half).
		{name: "tiny", a: 1, b: 1, want: 0},
		// Given 0.5 * 0.0001 = 0.00005, When rounded, Then half up to 0.0001.
		{name: "tiny half", a: 5000, b: 1, want: 1},
		// Given a negative operand, When multiplied, Then an error.
		{name: "negative", a: -1, b: 1, wantErr: true},
		// Given a product far past int64, When multiplied, Then an overflow error.
		{name: "overflow", a: math.MaxInt64, b: math.MaxInt64, wantErr: true},
		// Given a product just past 2^62 credits e4, When multiplied, Then an overflow error.
		{name: "past 2^62", a: 1<<62 + 1, b: Scale, wantErr: true},
		// Given a product of exactly 2^62, When multiplied, Then it is accepted.
		{name: "at 2^62", a: 1 << 62, b: Scale, want: 1 << 62},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MulE4(tc.a, tc.b)
			if (err != nil) != tc.wantErr {
				t.Fatalf("MulE4(%d, %d) error %v, want error %v", tc.a, tc.b, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("MulE4(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

// TestMulE4Quick compares MulE4 with big-integer arithmetic.
func TestMulE4Quick(t *testing.T) {
	ref := func(a, b int64) (int64, bool) {
		p := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
		p.Add(p, big.NewInt(Scale/2))
		p.Quo(p, big.NewInt(Scale))
		if !p.IsInt64() || p.Int64() > 1<<62 {
			return 0, false
		}
		return p.Int64(), true
	}
	f := func(a, b int64, small bool) bool {
		a, b = abs(a), abs(b)
		if small { // keep most products in range
			a, b = a%(1<<40), b%(1<<30)
		}
		got, err := MulE4(a, b)
		want, ok := ref(a, b)
		if !ok {
			return err != nil
		}
		return err == nil && got == want
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 20000, Rand: nil}); err != nil {
		t.Error(err)
	}
}

func abs(x int64) int64 {
	if x == math.MinInt64 {
		return math.MaxInt64
	}
	if x < 0 {
		return -x
	}
	return x
}

// checkInvariants replays the funding of rows with independent bookkeeping, starting each
// tenant from its Opening, and reports the first broken invariant of BILLING.md section 3.
// Rows must be valid (no error).
func checkInvariants(tenants []Tenant, rows []Row, splits []Split) error {
	if len(splits) != len(rows) {
		return fmt.Errorf("%d splits for %d rows", len(splits), len(rows))
	}
	type state struct {
		plan []int64
		bank int64
		caps []int64
		pool []int64
	}
	var st state
	cur := -1
	for i, r := range rows {
		tn := tenants[r.Tenant]
		if r.Tenant != cur {
			cur = r.Tenant
			st = state{plan: make([]int64, tn.Periods), bank: tn.Opening.BankUsedE4,
				caps: padded(tn.Opening.CapsUsedE4, len(tn.CapsE4)), pool: padded(tn.Opening.PoolsUsedE4, len(tn.PoolsE4))}
		}
		s := splits[i]
		bad := func(format string, args ...any) error {
			return fmt.Errorf("row %d (%+v) split %+v: %s", i, r, s, fmt.Sprintf(format, args...))
		}
		for _, v := range []int64{s.RatedE4, s.AllowanceE4, s.PlanE4, s.BankE4, s.ExceedingE4, s.BlockedE4} {
			if v < 0 {
				return bad("negative amount")
			}
		}
		if s.PlanE4+s.BankE4+s.ExceedingE4+s.BlockedE4 != s.RatedE4 {
			return bad("plan+bank+exceeding+blocked != rated")
		}
		if r.Pool >= 0 {
			if s.AllowanceE4 > r.BlocksE4 {
				return bad("allowance above the blocks")
			}
			want, err := MulE4(r.BlocksE4-s.AllowanceE4, r.PerBlockE4)
			if err != nil || want != s.RatedE4 {
				return bad("rated %d, want (blocks-covered)*per = %d (%v)", s.RatedE4, want, err)
			}
			// the pool is used before anything is charged
			if s.AllowanceE4 < r.BlocksE4 && st.pool[r.Pool]+s.AllowanceE4 < tn.PoolsE4[r.Pool] {
				return bad("blocks charged while the pool had units left")
			}
		} else {
			if s.AllowanceE4 != 0 {
				return bad("allowance used by a row without pool")
			}
			if s.RatedE4 != r.CreditsE4 {
				return bad("rated %d, want the row's credits %d", s.RatedE4, r.CreditsE4)
			}
		}
		if tn.Block && s.ExceedingE4 != 0 {
			return bad("exceeding under policy block")
		}
		// blocked under bill only comes from a member cap
		if !tn.Block && s.BlockedE4 != 0 && r.Member < 0 {
			return bad("blocked without a cap under policy bill")
		}
		unfunded := s.ExceedingE4
		if tn.Block {
			unfunded = s.BlockedE4
			if r.Member >= 0 {
				capLeft := max(tn.CapsE4[r.Member]-st.caps[r.Member], 0)
				unfunded = max(0, min(s.RatedE4, capLeft)-s.PlanE4-s.BankE4)
			}
		}
		// nothing unfunded while plan or bank had credits
		if unfunded > 0 {
			if st.plan[r.Billed]+s.PlanE4 < tn.PlanE4 {
				return bad("unfunded credits while the plan had credits left")
			}
			if st.bank+s.BankE4 < depositsUpTo(tn, bankAt(r)) {
				return bad("unfunded credits while the bank had credits left")
			}
		}
		// the cap cuts exactly at its remainder
		if r.Member >= 0 {
			capLeft := max(tn.CapsE4[r.Member]-st.caps[r.Member], 0)
			funded := s.PlanE4 + s.BankE4 + s.ExceedingE4
			if funded != min(s.RatedE4, capLeft) && !tn.Block {
				return bad("funded %d, want min(rated, cap left %d)", funded, capLeft)
			}
		}
		st.plan[r.Billed] += s.PlanE4
		st.bank += s.BankE4
		if r.Member >= 0 {
			st.caps[r.Member] += s.PlanE4 + s.BankE4 + s.ExceedingE4
		}
		if r.Pool >= 0 {
			st.pool[r.Pool] += s.AllowanceE4
		}
		if st.plan[r.Billed] > tn.PlanE4 {
			return bad("plan used %d above the plan %d", st.plan[r.Billed], tn.PlanE4)
		}
		// an opening past a limit is allowed (the limit may have been lowered since), but
		// a row must not draw on a bucket with nothing left
		if s.BankE4 > 0 && st.bank > depositsUpTo(tn, bankAt(r)) {
			return bad("bank used %d above deposits %d dated at or before the bank instant", st.bank, depositsUpTo(tn, bankAt(r)))
		}
		if r.Member >= 0 && s.PlanE4+s.BankE4+s.ExceedingE4 > 0 && st.caps[r.Member] > tn.CapsE4[r.Member] {
			return bad("cap %d exceeded: %d", tn.CapsE4[r.Member], st.caps[r.Member])
		}
		if r.Pool >= 0 && s.AllowanceE4 > 0 && st.pool[r.Pool] > tn.PoolsE4[r.Pool] {
			return bad("pool %d exceeded: %d", tn.PoolsE4[r.Pool], st.pool[r.Pool])
		}
	}
	return nil
}

// checkRunningMax checks the closed form of BILLING.md section 3 for tenants without caps:
// cumulative exceeding (or hard-stop blocked) equals max over s <= t of max(0, A(s)-S(s)),
// where A is the cumulative demand on the bank (credits after the plan, from the opening
// bank used on) and S the cumulative deposits dated at or before the row's bank instant.
// Rows must be in funding order per tenant, so that bank instants never go back: v2 makes
// this hold with late events too (a late event's instant is the start of the period that
// bills it, after every row of earlier periods). A tenant's opening bank used must not
// exceed the deposits seen by its first row, as the use of final periods never does.
func checkRunningMax(tenants []Tenant, rows []Row, splits []Split) error {
	cur := -1
	var demand, unfunded, runMax, last int64
	for i, r := range rows {
		tn := tenants[r.Tenant]
		if r.Tenant != cur {
			cur, demand, unfunded, runMax, last = r.Tenant, tn.Opening.BankUsedE4, 0, 0, math.MinInt64
		}
		if bankAt(r) < last {
			return fmt.Errorf("row %d: bank instant %d before the previous row's %d", i, bankAt(r), last)
		}
		last = bankAt(r)
		s := splits[i]
		demand += s.RatedE4 - s.PlanE4
		unfunded += s.ExceedingE4 + s.BlockedE4
		runMax = max(runMax, demand-depositsUpTo(tn, bankAt(r)))
		if unfunded != runMax {
			return fmt.Errorf("row %d: cumulative unfunded %d, running max formula %d", i, unfunded, runMax)
		}
	}
	return nil
}

// padded is xs (an opening list, possibly short) extended with zeros to n entries.
func padded(xs []int64, n int) []int64 {
	out := make([]int64, n)
	copy(out, xs)
	return out
}

// depositsUpTo is the sum of the tenant's deposits dated at or before at, computed
// independently of the package's cumulative index.
func depositsUpTo(tn Tenant, at int64) int64 {
	var sum int64
	for _, d := range tn.Deposits {
		if d.AtUS <= at {
			sum += d.CreditE4
		}
	}
	return sum
}

type genOpts struct {
	maxTenants int
	maxRows    int
	noCaps     bool // no members, no pools, in-order rows (for the running-max formula)
	noPlan     bool
	late       bool // some rows billed late, in a later period than the one they occurred in
	opening    bool // tenants start from drawn opening balances, sometimes past their limits
}

const periodUS = int64(30 * 24 * time.Hour / time.Microsecond)

// amount draws an e4 amount up to max whole credits, often round, sometimes zero.
func amount(r *rand.Rand, maxCredits int64) int64 {
	switch r.IntN(8) {
	case 0:
		return 0
	case 1, 2, 3:
		return cr(r.Int64N(maxCredits + 1))
	default:
		return r.Int64N(cr(maxCredits) + 1)
	}
}

// genScenario draws tenants and rows in funding order (tenant, billed, occurred, seq).
// Period p spans [p*periodUS, (p+1)*periodUS); a late row is billed in a later period than
// its own and sees the deposits up to that period's start.
func genScenario(r *rand.Rand, o genOpts) ([]Tenant, []Row) {
	nt := 1 + r.IntN(o.maxTenants)
	tenants := make([]Tenant, nt)
	var rows []Row
	seq := int64(0)
	for ti := range tenants {
		tn := Tenant{Block: r.IntN(2) == 0, Periods: 1 + r.IntN(4)}
		if !o.noPlan {
			tn.PlanE4 = amount(r, 200)
		}
		for range r.IntN(5) {
			d := Deposit{AtUS: r.Int64N(int64(tn.Periods)*periodUS+periodUS) - periodUS/2, CreditE4: amount(r, 300)}
			if r.IntN(4) == 0 { // at a period start (a late row's bank instant), or just around it
				d.AtUS = int64(r.IntN(tn.Periods+1))*periodUS + int64(r.IntN(3)) - 1
			}
			tn.Deposits = append(tn.Deposits, d)
		}
		if r.IntN(3) == 0 && len(tn.Deposits) > 0 { // two deposits at one instant
			tn.Deposits = append(tn.Deposits, Deposit{AtUS: tn.Deposits[0].AtUS, CreditE4: amount(r, 50)})
		}
		if !o.noCaps {
			for range r.IntN(3) {
				tn.CapsE4 = append(tn.CapsE4, amount(r, 150))
			}
			for range r.IntN(3) {
				tn.PoolsE4 = append(tn.PoolsE4, amount(r, 10))
			}
		}
		if o.opening && r.IntN(4) != 0 {
			tn.Opening.BankUsedE4 = amount(r, 300)
			for range r.IntN(len(tn.PoolsE4) + 1) {
				tn.Opening.PoolsUsedE4 = append(tn.Opening.PoolsUsedE4, amount(r, 12))
			}
			for range r.IntN(len(tn.CapsE4) + 1) {
				tn.Opening.CapsUsedE4 = append(tn.Opening.CapsUsedE4, amount(r, 180))
			}
		}
		tenants[ti] = tn
		n := r.IntN(o.maxRows + 1)
		var trows []Row
		for range n {
			seq++
			occ := r.Int64N(int64(tn.Periods) * periodUS)
			if r.IntN(10) == 0 && len(tn.Deposits) > 0 { // exactly at a deposit, or just before
				occ = tn.Deposits[r.IntN(len(tn.Deposits))].AtUS - int64(r.IntN(2))
				occ = min(max(0, occ), int64(tn.Periods)*periodUS-1)
			}
			billed := int(occ / periodUS)
			if o.late && billed < tn.Periods-1 && r.IntN(6) == 0 {
				billed += 1 + r.IntN(tn.Periods-1-billed)
			}
			row := Row{Seq: seq, Tenant: ti, Billed: billed, OccurredUS: occ, Member: -1, Pool: -1, CreditsE4: amount(r, 120)}
			if billed > int(occ/periodUS) {
				row.Late, row.BankAtUS = true, int64(billed)*periodUS
			}
			if len(tn.CapsE4) > 0 && r.IntN(2) == 0 {
				row.Member = r.IntN(len(tn.CapsE4))
			}
			if len(tn.PoolsE4) > 0 && r.IntN(3) == 0 {
				row.Pool = r.IntN(len(tn.PoolsE4))
				row.BlocksE4 = amount(r, 5)
				row.PerBlockE4 = amount(r, 250)
				row.CreditsE4 = 0
			}
			trows = append(trows, row)
		}
		// funding order: late rows come first in the period that bills them, as they
		// occurred before it started
		slices.SortFunc(trows, func(a, b Row) int {
			if a.Billed != b.Billed {
				return a.Billed - b.Billed
			}
			if a.OccurredUS != b.OccurredUS {
				if a.OccurredUS < b.OccurredUS {
					return -1
				}
				return 1
			}
			return int(a.Seq - b.Seq)
		})
		rows = append(rows, trows...)
	}
	return tenants, rows
}

func TestWaterfallProperties(t *testing.T) {
	iters := 4000
	if testing.Short() {
		iters = 500
	}
	rnd := rand.New(rand.NewPCG(20260101, 8))
	for i := range iters {
		o := genOpts{maxTenants: 3, maxRows: 60, late: i%2 == 0, opening: i%3 == 0}
		tenants, rows := genScenario(rnd, o)
		splits, err := fundAll(tenants, rows)
		if err != nil {
			t.Fatalf("iteration %d: fund: %v", i, err)
		}
		if err := checkInvariants(tenants, rows, splits); err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
	}
}

// TestWaterfallRunningMax proves the closed form of the exceeding (BILLING.md section 3)
// on tenants without caps, with and without a plan, with and without late events.
func TestWaterfallRunningMax(t *testing.T) {
	iters := 4000
	if testing.Short() {
		iters = 500
	}
	rnd := rand.New(rand.NewPCG(7, 20260131))
	for i := range iters {
		o := genOpts{maxTenants: 2, maxRows: 80, noCaps: true, noPlan: i%2 == 0, late: i%4 < 2}
		tenants, rows := genScenario(rnd, o)
		splits, err := fundAll(tenants, rows)
		if err != nil {
			t.Fatalf("iteration %d: fund: %v", i, err)
		}
		if err := checkRunningMax(tenants, rows, splits); err != nil {
			t.Fatalf("iteration %d: %v\ntenants %+v", i, err, tenants)
		}
		if err := checkInvariants(tenants, rows, splits); err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
	}
}

// openingBefore is each tenant's Opening after the rows billed before its cut period,
// added up from their splits the way a final period closes (BILLING.md section 5): bank
// used, allowance units per pool, credits funded (plan, bank, exceeding) per member, on top
// of the tenant's own Opening. trim drops trailing zero entries, which must read as 0.
func openingBefore(tenants []Tenant, rows []Row, splits []Split, cut []int, trim bool) []Opening {
	out := make([]Opening, len(tenants))
	for ti, tn := range tenants {
		out[ti] = Opening{
			BankUsedE4:  tn.Opening.BankUsedE4,
			PoolsUsedE4: padded(tn.Opening.PoolsUsedE4, len(tn.PoolsE4)),
			CapsUsedE4:  padded(tn.Opening.CapsUsedE4, len(tn.CapsE4)),
		}
	}
	for j, r := range rows {
		if r.Billed >= cut[r.Tenant] {
			continue
		}
		o, s := &out[r.Tenant], splits[j]
		o.BankUsedE4 += s.BankE4
		if r.Pool >= 0 {
			o.PoolsUsedE4[r.Pool] += s.AllowanceE4
		}
		if r.Member >= 0 {
			o.CapsUsedE4[r.Member] += s.PlanE4 + s.BankE4 + s.ExceedingE4
		}
	}
	if trim {
		for ti := range out {
			o := &out[ti]
			for len(o.PoolsUsedE4) > 0 && o.PoolsUsedE4[len(o.PoolsUsedE4)-1] == 0 {
				o.PoolsUsedE4 = o.PoolsUsedE4[:len(o.PoolsUsedE4)-1]
			}
			for len(o.CapsUsedE4) > 0 && o.CapsUsedE4[len(o.CapsUsedE4)-1] == 0 {
				o.CapsUsedE4 = o.CapsUsedE4[:len(o.CapsUsedE4)-1]
			}
		}
	}
	return out
}

// replayFrom funds only the rows billed at or after each tenant's cut period, from the
// openings the rows before it closed with, and returns an error unless every split equals
// the live one (live: the splits of all rows funded from the tenants' own openings).
func replayFrom(tenants []Tenant, rows []Row, live []Split, cut []int, trim bool) error {
	openings := openingBefore(tenants, rows, live, cut, trim)
	carried := slices.Clone(tenants)
	for ti := range carried {
		carried[ti].Opening = openings[ti]
	}
	var rest []Row
	var want []Split
	for j, r := range rows {
		if r.Billed >= cut[r.Tenant] {
			rest = append(rest, r)
			want = append(want, live[j])
		}
	}
	got, err := fundAll(carried, rest)
	if err != nil {
		return fmt.Errorf("fund from the openings %+v: %w", openings, err)
	}
	for k := range rest {
		if got[k] != want[k] {
			return fmt.Errorf("cuts %v, openings %+v: row %+v\n got %+v\nlive %+v", cut, openings, rest[k], got[k], want[k])
		}
	}
	if err := checkInvariants(carried, rest, got); err != nil {
		return fmt.Errorf("cuts %v, openings %+v: %w", cut, openings, err)
	}
	return nil
}

// TestWaterfallOpeningReplay is the property the opening balances stand on (BILLING.md
// section 5: final periods are carried forward by their closing balances): funding a
// scenario live, and funding only the rows billed from a cut period on, starting from what
// the rows before the cut used, gives the same splits, late events included.
func TestWaterfallOpeningReplay(t *testing.T) {
	iters := 3000
	if testing.Short() {
		iters = 300
	}
	rnd := rand.New(rand.NewPCG(99, 2))
	for i := range iters {
		tenants, rows := genScenario(rnd, genOpts{maxTenants: 3, maxRows: 50, late: i%5 != 0, opening: i%2 == 0})
		live, err := fundAll(tenants, rows)
		if err != nil {
			t.Fatalf("iteration %d: fund: %v", i, err)
		}
		if err := checkInvariants(tenants, rows, live); err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
		cut := make([]int, len(tenants))
		for ti := range cut {
			cut[ti] = rnd.IntN(tenants[ti].Periods + 1) // 0: nothing final, Periods: all final
		}
		if err := replayFrom(tenants, rows, live, cut, i%3 == 0); err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
	}
}

// fuzzReader hands out fuzz bytes as small numbers, zero once they run out.
type fuzzReader struct{ b []byte }

func (f *fuzzReader) byte() int64 {
	if len(f.b) == 0 {
		return 0
	}
	v := f.b[0]
	f.b = f.b[1:]
	return int64(v)
}

func (f *fuzzReader) u16() int64 { return f.byte()<<8 | f.byte() }

// FuzzWaterfall builds one tenant, its opening balances and its rows (late ones among
// them) from the fuzz input and checks every invariant, the running-max formula when no
// caps apply, and that funding from a cut period on with the openings the earlier rows
// closed with gives the live splits.
func FuzzWaterfall(f *testing.F) {
	// the worked example: plan 100, bank 150, events 10, 55, 0, 210
	f.Add(false, uint16(100), uint16(150), []byte{0, 10, 0, 0, 0, 0, 55, 0, 0, 0, 0, 0, 0, 0, 0, 0, 210, 0, 0, 0})
	f.Add(true, uint16(100), uint16(150), []byte{0, 10, 0, 0, 0, 0, 55, 0, 0, 0, 0, 0, 0, 0, 0, 0, 210, 0, 0, 0})
	f.Add(false, uint16(0), uint16(0), []byte{})
	f.Add(true, uint16(5), uint16(1000), []byte{9, 255, 255, 1, 3, 7, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	f.Add(false, uint16(65535), uint16(65535), []byte{255, 255, 255, 255, 255, 255, 255, 255, 255, 255})
	// 3 periods, a deposit at 0, a cap and a pool with an opening, then late rows (op 9, 8)
	// at the start of each period
	f.Add(false, uint16(10), uint16(300), []byte{2, 0, 0, 0, 1, 0, 40, 1, 0, 1, 0, 30, 1, 0, 20, 2,
		0, 5, 0, 50, 9, 7, 0, 30, 8, 3, 0, 20, 0, 9, 0, 40, 9, 1, 0, 60, 10, 2, 0, 10, 14, 4, 8, 0, 25})
	f.Add(true, uint16(0), uint16(50), []byte{1, 1, 0, 0, 0, 200, 0, 0, 1, 0, 20, 1, 3, 1, 0, 10, 9, 1, 0, 15, 0, 0, 0, 40})
	f.Fuzz(func(t *testing.T, block bool, plan, bank uint16, data []byte) {
		in := &fuzzReader{data}
		tn := Tenant{Block: block, PlanE4: int64(plan) * 100, Periods: 1 + int(in.byte()%4)}
		deposits := in.byte() % 4
		// first deposit: the bank argument, at a time from the data
		tn.Deposits = append(tn.Deposits, Deposit{AtUS: in.u16() * 1000, CreditE4: int64(bank) * 100})
		for range deposits {
			tn.Deposits = append(tn.Deposits, Deposit{AtUS: in.u16() * 1000, CreditE4: in.u16() * 100})
		}
		caps := in.byte() % 3
		for range caps {
			tn.CapsE4 = append(tn.CapsE4, in.u16()*50)
		}
		pools := in.byte() % 3
		for range pools {
			tn.PoolsE4 = append(tn.PoolsE4, in.byte()*5000)
		}
		// opening balances: the bank used, then as many pools and members as the data asks
		// (up to the tenant's), each possibly past its limit
		tn.Opening.BankUsedE4 = in.u16() * 50
		for range in.byte() % (pools + 1) {
			tn.Opening.PoolsUsedE4 = append(tn.Opening.PoolsUsedE4, in.byte()*2500)
		}
		for range in.byte() % (caps + 1) {
			tn.Opening.CapsUsedE4 = append(tn.Opening.CapsUsedE4, in.u16()*25)
		}
		cut := int(in.byte()) % (tn.Periods + 1)
		// Rows in funding order. A period starts after every row before it; a row with op
		// bit 8 before the first regular row of a period past the first is late: it
		// occurred before the period's start and sees the deposits up to it.
		var rows []Row
		var occ, start int64
		billed, regular := 0, false
		for seq := int64(1); len(in.b) > 0 && seq <= 500; seq++ {
			op := in.byte()
			step := in.byte() * 997
			if op&1 == 1 && billed < tn.Periods-1 {
				billed++
				start = occ + 1 + step
				occ, regular = start, false
			}
			row := Row{Seq: seq, Billed: billed, Member: -1, Pool: -1, CreditsE4: in.u16() * 10}
			if op&8 == 8 && billed > 0 && !regular {
				row.Late, row.BankAtUS = true, start
				row.OccurredUS = max(0, start-1-step)
			} else {
				if regular || op&1 == 0 {
					occ += step
				}
				row.OccurredUS, regular = occ, true
			}
			if op&2 == 2 && caps > 0 {
				row.Member = int(op>>4) % int(caps)
			}
			if op&4 == 4 && pools > 0 {
				row.Pool = int(op>>4) % int(pools)
				row.BlocksE4 = in.byte() * 2500
				row.PerBlockE4 = in.u16() * 10
			}
			rows = append(rows, row)
		}
		tenants := []Tenant{tn}
		splits, err := fundAll(tenants, rows)
		if err != nil {
			t.Fatalf("fund: %v", err)
		}
		if err := checkInvariants(tenants, rows, splits); err != nil {
			t.Fatal(err)
		}
		// the formula needs an opening that the deposits seen so far could have paid
		if caps == 0 && (len(rows) == 0 || tn.Opening.BankUsedE4 <= depositsUpTo(tn, bankAt(rows[0]))) {
			if err := checkRunningMax(tenants, rows, splits); err != nil {
				t.Fatal(err)
			}
		}
		if err := replayFrom(tenants, rows, splits, []int{cut}, cut%2 == 0); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkWaterfall(b *testing.B) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var tenants []Tenant
	var rows []Row
	for range 200 {
		ts, rs := genScenario(rnd, genOpts{maxTenants: 1, maxRows: 1000})
		for i := range rs {
			rs[i].Tenant = len(tenants)
		}
		tenants = append(tenants, ts...)
		rows = append(rows, rs...)
	}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		w, err := New(tenants)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rows {
			if _, err := w.Fund(r); err != nil {
				b.Fatal(err)
			}
		}
		n++
	}
	b.ReportMetric(float64(n*len(rows))/b.Elapsed().Seconds(), "rows/s")
}
