// Package notify records threshold crossings (BILLING.md section 6), writes them to
// notifications/outbox.jsonl and delivers them by email.
//
// A run calls Record and Render inside its finalize-and-render transaction (the per-run
// temporary tables rated_events, period_calc, cfg_* must exist), and Deliver once that
// transaction has committed. The persistent table notifications (sql/notify_schema.sql)
// holds one row per (tenant, period, threshold), ever, with its delivery state: pending until
// sent, failed (retried on the next run) when an attempt failed, sent once delivered (never
// sent again).
package notify

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/shopspring/decimal"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// OutboxKey is the output key of the outbox under the output location.
const OutboxKey = "notifications/outbox.jsonl"

// Delivery states.
const (
	StatusPending = "pending"
	StatusSent    = "sent"
	StatusFailed  = "failed"
	// StatusSuppressed is never sent: its period was final when e-mail delivery was first
	// enabled (StatusReason says so).
	StatusSuppressed = "suppressed"
)

// Kinds of notification.
const (
	// KindUtilization: a threshold of BILLING.md section 6 was reached.
	KindUtilization = "utilization"
	// KindRunout: the period's forecast says its credits run out within notify.runout_within
	// (issue 11); recorded with threshold 0, once per period.
	KindRunout = "runout"
)

// Record inserts the crossings of this run that are not recorded yet. It needs the run's
// temporary tables (rated_events, period_calc, cfg_periods, cfg_deposits, cfg_tenants, and
// the e4 macro; forecasts when a tenant has notify.runout_within); a crossing already
// recorded by an earlier run is left as it is. Run-out notifications (kind runout) are
// recorded from the run's forecasts, once per tenant and period.
//
// The first run whose configuration enables e-mail (an smtp: block) is recorded, and in it
// the pending notifications of periods that are final once the run commits are suppressed:
// only crossings in periods open when delivery is first enabled are ever sent, so turning
// e-mail on for a deployment with history does not mail its backlog (notify_enable.sql).
func Record(ctx context.Context, conn *sql.Conn, cfg *schemas.Config, runSeq int) error {
	if err := warehouse.Exec(ctx, conn, "notify_schema.sql"); err != nil {
		return err
	}
	if err := warehouse.Exec(ctx, conn, "notify_config.sql"); err != nil {
		return err
	}
	err := warehouse.Append(ctx, conn, "cfg_notify", func(add func(...driver.Value) error) error {
		for i := range cfg.Tenants {
			t := &cfg.Tenants[i]
			seen := map[string]bool{}
			for _, th := range t.Notify.Thresholds {
				th = th.Round(6)
				if !th.IsPositive() || seen[th.String()] {
					continue
				}
				seen[th.String()] = true
				if err := add(t.ID, dec6(th), strings.Join(t.Notify.Email, " ")); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := warehouse.Exec(ctx, conn, "notify_record.sql", runSeq); err != nil {
		return err
	}
	runout := 0
	err = warehouse.Append(ctx, conn, "cfg_runout", func(add func(...driver.Value) error) error {
		for i := range cfg.Tenants {
			t := &cfg.Tenants[i]
			if t.Notify.RunoutWithin.Duration <= 0 {
				continue
			}
			runout++
			if err := add(t.ID, t.Notify.RunoutWithin.String(), strings.Join(t.Notify.Email, " ")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// run-out notifications read the run's forecasts (pipeline/forecast, run before this)
	if runout > 0 {
		if err := warehouse.Exec(ctx, conn, "notify_runout.sql", runSeq); err != nil {
			return err
		}
	}
	if cfg.SMTP == nil {
		return nil
	}
	return warehouse.Exec(ctx, conn, "notify_enable.sql", runSeq)
}

func dec6(d decimal.Decimal) driver.Value {
	return duckdb.Decimal{Width: 18, Scale: 6, Value: d.Shift(6).Round(0).BigInt()}
}

// Notification is one recorded crossing with its delivery state, as the outbox shows it.
// Decimals are exact (written as JSON numbers, plainly, trailing zeros trimmed).
type Notification struct {
	TenantID         string          `json:"tenant_id"`
	TenantName       string          `json:"tenant_name"`
	PeriodStart      string          `json:"period_start"`
	PeriodEnd        string          `json:"period_end"`
	Threshold        decimal.Decimal `json:"threshold"`
	CrossedAt        time.Time       `json:"crossed_at"`
	EventID          string          `json:"event_id"`
	CreditsPlan      decimal.Decimal `json:"credits_plan"`
	BankAtStart      decimal.Decimal `json:"bank_at_period_start"`
	DepositsInPeriod decimal.Decimal `json:"deposits_in_period"`
	CreditsLimit     decimal.Decimal `json:"credits_limit"`
	CreditsUsed      decimal.Decimal `json:"credits_used"`
	CreditsLeft      decimal.Decimal `json:"credits_left"`
	// Utilization is nil when the limit is 0.
	Utilization    *decimal.Decimal `json:"utilization"`
	Policy         string           `json:"policy"`
	PricePerCredit *decimal.Decimal `json:"price_per_credit"`
	Currency       string           `json:"currency"`
	Emails         []string         `json:"emails"`
	Status         string           `json:"status"`
	Attempts       int              `json:"attempts"`
	LastError      *string          `json:"last_error"`
	LastAttemptAt  *time.Time       `json:"last_attempt_at"`
	SentAt         *time.Time       `json:"sent_at"`
	// StatusReason says why a notification is suppressed; nil otherwise.
	StatusReason *string `json:"status_reason"`
	// Kind is KindUtilization or KindRunout (whose Threshold is 0); RunsOutOn (YYYY-MM-DD,
	// tenant-local) and RunoutWithin (as configured, "7d") are set for KindRunout.
	Kind         string  `json:"kind"`
	RunsOutOn    *string `json:"runs_out_on"`
	RunoutWithin *string `json:"runout_within"`
}

// outboxLine is the JSON form of a Notification: decimals as plain numbers, instants as
// RFC 3339 UTC.
type outboxLine struct {
	TenantID         string       `json:"tenant_id"`
	TenantName       string       `json:"tenant_name"`
	PeriodStart      string       `json:"period_start"`
	PeriodEnd        string       `json:"period_end"`
	Threshold        json.Number  `json:"threshold"`
	CrossedAt        string       `json:"crossed_at"`
	EventID          string       `json:"event_id"`
	CreditsPlan      json.Number  `json:"credits_plan"`
	BankAtStart      json.Number  `json:"bank_at_period_start"`
	DepositsInPeriod json.Number  `json:"deposits_in_period"`
	CreditsLimit     json.Number  `json:"credits_limit"`
	CreditsUsed      json.Number  `json:"credits_used"`
	CreditsLeft      json.Number  `json:"credits_left"`
	Utilization      *json.Number `json:"utilization"`
	Policy           string       `json:"policy"`
	PricePerCredit   *json.Number `json:"price_per_credit"`
	Currency         string       `json:"currency"`
	Emails           []string     `json:"emails"`
	Status           string       `json:"status"`
	Attempts         int          `json:"attempts"`
	LastError        *string      `json:"last_error"`
	LastAttemptAt    *string      `json:"last_attempt_at"`
	SentAt           *string      `json:"sent_at"`
	StatusReason     *string      `json:"status_reason"`
	Kind             string       `json:"kind"`
	RunsOutOn        *string      `json:"runs_out_on"`
	RunoutWithin     *string      `json:"runout_within"`
}

func num(d decimal.Decimal) json.Number { return json.Number(d.String()) }

func numPtr(d *decimal.Decimal) *json.Number {
	if d == nil {
		return nil
	}
	n := num(*d)
	return &n
}

func instant(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func instantPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := instant(*t)
	return &s
}

// MarshalJSON writes the outbox form.
func (n Notification) MarshalJSON() ([]byte, error) {
	emails := n.Emails
	if emails == nil {
		emails = []string{}
	}
	return json.Marshal(outboxLine{
		TenantID: n.TenantID, TenantName: n.TenantName, PeriodStart: n.PeriodStart, PeriodEnd: n.PeriodEnd,
		Threshold: num(n.Threshold), CrossedAt: instant(n.CrossedAt), EventID: n.EventID,
		CreditsPlan: num(n.CreditsPlan), BankAtStart: num(n.BankAtStart), DepositsInPeriod: num(n.DepositsInPeriod),
		CreditsLimit: num(n.CreditsLimit), CreditsUsed: num(n.CreditsUsed), CreditsLeft: num(n.CreditsLeft),
		Utilization: numPtr(n.Utilization), Policy: n.Policy, PricePerCredit: numPtr(n.PricePerCredit),
		Currency: n.Currency, Emails: emails, Status: n.Status, Attempts: n.Attempts, LastError: n.LastError,
		LastAttemptAt: instantPtr(n.LastAttemptAt), SentAt: instantPtr(n.SentAt), StatusReason: n.StatusReason,
		Kind: n.Kind, RunsOutOn: n.RunsOutOn, RunoutWithin: n.RunoutWithin,
	})
}

// List returns every recorded notification in outbox order (tenant_id, period_start,
// threshold).
func List(ctx context.Context, conn *sql.Conn) ([]Notification, error) {
	if err := warehouse.Exec(ctx, conn, "notify_schema.sql"); err != nil {
		return nil, err
	}
	return query(ctx, conn, false)
}

// query reads the notifications in outbox order; pendingOnly keeps those still to deliver.
func query(ctx context.Context, conn *sql.Conn, pendingOnly bool) ([]Notification, error) {
	rows, err := warehouse.Query(ctx, conn, "notify_outbox.sql", pendingOnly)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		var n Notification
		var threshold, plan, bank, deposits, limit, used, left, emails string
		var util, price, currency, lastErr, reason, runsOut, within sql.NullString
		var lastAttempt, sentAt sql.NullTime
		if err := rows.Scan(&n.TenantID, &n.TenantName, &n.PeriodStart, &n.PeriodEnd, &threshold, &n.CrossedAt,
			&n.EventID, &plan, &bank, &deposits, &limit, &used, &left, &util, &n.Policy, &price, &currency,
			&emails, &n.Status, &n.Attempts, &lastErr, &lastAttempt, &sentAt, &reason, &n.Kind, &runsOut, &within); err != nil {
			return nil, fmt.Errorf("read notify_outbox.sql: %w", err)
		}
		for _, f := range []struct {
			s string
			d *decimal.Decimal
		}{{threshold, &n.Threshold}, {plan, &n.CreditsPlan}, {bank, &n.BankAtStart}, {deposits, &n.DepositsInPeriod},
			{limit, &n.CreditsLimit}, {used, &n.CreditsUsed}, {left, &n.CreditsLeft}} {
			if *f.d, err = decimal.NewFromString(f.s); err != nil {
				return nil, fmt.Errorf("read notify_outbox.sql: decimal %q: %w", f.s, err)
			}
		}
		if util.Valid {
			d, err := decimal.NewFromString(util.String)
			if err != nil {
				return nil, fmt.Errorf("read notify_outbox.sql: utilization %q: %w", util.String, err)
			}
			n.Utilization = &d
		}
		if price.Valid {
			d, err := decimal.NewFromString(price.String)
			if err != nil {
				return nil, fmt.Errorf("read notify_outbox.sql: price %q: %w", price.String, err)
			}
			n.PricePerCredit = &d
		}
		n.Currency = currency.String
		n.Emails = strings.Fields(emails)
		if lastErr.Valid {
			s := lastErr.String
			n.LastError = &s
		}
		if reason.Valid {
			s := reason.String
			n.StatusReason = &s
		}
		if runsOut.Valid {
			s := runsOut.String
			n.RunsOutOn = &s
		}
		if within.Valid {
			s := within.String
			n.RunoutWithin = &s
		}
		if lastAttempt.Valid {
			t := lastAttempt.Time.UTC()
			n.LastAttemptAt = &t
		}
		if sentAt.Valid {
			t := sentAt.Time.UTC()
			n.SentAt = &t
		}
		n.CrossedAt = n.CrossedAt.UTC()
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read notify_outbox.sql: %w", err)
	}
	return out, nil
}

// Render writes notifications/outbox.jsonl under dir: every notification recorded so far,
// one JSON object per line, sorted by tenant_id, period_start, threshold. The file is
// written even when empty; its bytes depend only on the warehouse's notifications table.
func Render(ctx context.Context, conn *sql.Conn, dir string) error {
	ns, err := List(ctx, conn)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, n := range ns {
		b, err := json.Marshal(n)
		if err != nil {
			return fmt.Errorf("encode notification %s %s %s: %w", n.TenantID, n.PeriodStart, n.Threshold, err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	p := filepath.Join(dir, filepath.FromSlash(OutboxKey))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(p), err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// Sender delivers one email message (RFC 5322 bytes with CRLF line ends).
type Sender interface {
	Send(ctx context.Context, from string, to []string, msg []byte) error
}

// Deliver sends every pending or failed notification whose tenant has recipients
// (notify.email in the current configuration) and records the outcome of each attempt:
// sent (never sent again) or failed (retried on the next run). A send failure is logged and
// counted, not returned: err is only for warehouse errors. A failure to reach the server
// at all stops this run's attempts (the rest stay as they are, for the next run). now is the
// attempt time recorded. With no sender (no smtp in the configuration) nothing is sent.
func Deliver(ctx context.Context, conn *sql.Conn, cfg *schemas.Config, sender Sender, now time.Time, log *slog.Logger) (sent, failed int, err error) {
	if s, ok := sender.(*SMTPSender); sender == nil || cfg.SMTP == nil || (ok && s == nil) {
		return 0, 0, nil
	}
	if log == nil {
		log = slog.Default()
	}
	if err := warehouse.Exec(ctx, conn, "notify_schema.sql"); err != nil {
		return 0, 0, err
	}
	todo, err := query(ctx, conn, true)
	if err != nil {
		return 0, 0, err
	}
	tenants := map[string]*schemas.Tenant{}
	for i := range cfg.Tenants {
		tenants[cfg.Tenants[i].ID] = &cfg.Tenants[i]
	}
	for _, n := range todo {
		t := tenants[n.TenantID]
		if t == nil || len(t.Notify.Email) == 0 {
			continue // no recipients now: stays pending until the contract names some
		}
		to := append([]string(nil), t.Notify.Email...)
		msg := Message(n, cfg.SMTP.From, to, now)
		serr := sender.Send(ctx, cfg.SMTP.From, to, msg)
		status, lastErr := StatusSent, any(nil)
		if serr != nil {
			// published in the outbox: our own words only; the server's are logged below
			status, lastErr = StatusFailed, DeliveryError(serr)
		}
		if err := warehouse.Exec(ctx, conn, "notify_mark.sql", n.TenantID, n.PeriodStart, n.Threshold.String(),
			status, lastErr, now, strings.Join(to, " ")); err != nil {
			return sent, failed, fmt.Errorf("record delivery of notification %s %s %s: %w", n.TenantID, n.PeriodStart, n.Threshold, err)
		}
		if serr == nil {
			sent++
			log.Info("notification sent", "tenant", n.TenantID, "period_start", n.PeriodStart,
				"threshold", n.Threshold.String(), "to", strings.Join(to, ","))
			continue
		}
		failed++
		log.Warn("notification not sent; retried on the next run", "tenant", n.TenantID,
			"period_start", n.PeriodStart, "threshold", n.Threshold.String(), "attempts", n.Attempts+1, "err", serr)
		var ne *net.OpError
		if errors.As(serr, &ne) || ctx.Err() != nil {
			log.Warn("mail server unreachable; remaining notifications wait for the next run")
			break
		}
	}
	return sent, failed, nil
}
