package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/creditmeter/creditmeter/schemas"
)

// TestRunoutMessage (issue 11): a run-out notification's message says when the credits are
// projected to run out (or that they have), with the window configured and the forecast's
// figures, and has its own Message-ID per tenant and period.
func TestRunoutMessage(t *testing.T) {
	day, within := "2026-03-28", "7d"
	n := Notification{TenantID: "acme", TenantName: "Acme Learning", PeriodStart: "2026-03-01", PeriodEnd: "2026-04-01",
		Threshold: decimal.Zero, CrossedAt: time.Date(2026, 3, 22, 14, 0, 0, 0, time.UTC), EventID: "e9",
		CreditsPlan: decimal.RequireFromString("100"), BankAtStart: decimal.RequireFromString("50"),
		DepositsInPeriod: decimal.Zero, CreditsLimit: decimal.RequireFromString("150"),
		CreditsUsed: decimal.RequireFromString("120"), CreditsLeft: decimal.RequireFromString("30"),
		Policy: schemas.PolicyBlock, Kind: KindRunout, RunsOutOn: &day, RunoutWithin: &within}
	if got, want := Subject(n), "AI credits: Acme Learning is projected to run out of credits on 28 Mar 2026"; got != want {
		t.Errorf("subject %q, want %q", got, want)
	}
	body := Body(n)
	for _, want := range []string{"projected\nto run out", "on 28 Mar 2026, within 7d", "Runs out on:", "Credits available:       150",
		"Credits left:            30", "hard stop"} {
		if !strings.Contains(body, want) {
			t.Errorf("body without %q:\n%s", want, body)
		}
	}
	msg := string(Message(n, "billing@example.com", []string{"ops@acme.example"}, time.Date(2026, 3, 22, 15, 0, 0, 0, time.UTC)))
	if !strings.Contains(msg, "Message-ID: <runout.acme.2026-03-01@example.com>") {
		t.Errorf("message id:\n%s", msg)
	}
	// used up: the credits have run out
	n.CreditsUsed, n.CreditsLeft = decimal.RequireFromString("150"), decimal.Zero
	if got := Subject(n); !strings.Contains(got, "has run out of its credits for 1 Mar 2026 – 31 Mar 2026") {
		t.Errorf("subject when run out %q", got)
	}
}
