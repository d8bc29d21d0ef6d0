// Package schemas holds the contract's schemas (configuration, events) and the Go types for
// them: loading and validating a configuration happens here, before anything runs.
package schemas

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"
)

// Config is the whole creditmeter configuration file (FORMATS.md, "Configuration").
type Config struct {
	Source      string   `yaml:"source"`
	Output      string   `yaml:"output"`
	Warehouse   string   `yaml:"warehouse"`
	GracePeriod Duration `yaml:"grace_period"`
	Schedule    []string `yaml:"schedule"`
	Listen      string   `yaml:"listen"`
	S3          S3       `yaml:"s3"`
	// PullConcurrency bounds the source objects downloaded at once (0: the default, 8).
	PullConcurrency int        `yaml:"pull_concurrency"`
	Issuer          Issuer     `yaml:"issuer"`
	SMTP            *SMTP      `yaml:"smtp"`
	RateCards       []RateCard `yaml:"rate_cards"`
	Tenants         []Tenant   `yaml:"tenants"`

	// Operations (`serve` and the analysts' snapshot).
	Serve     Serve     `yaml:"serve"`
	Analytics Analytics `yaml:"analytics"`

	// Limits bounds what a run reads; ParseConfig fills the defaults of absent keys.
	Limits Limits `yaml:"limits"`
	// LockTTL is how long the run lock stands without renewal (DefaultLockTTL when absent):
	// a run on another host waits this long after a crash before taking the lock over.
	LockTTL Duration `yaml:"lock_ttl"`

	// Dir is the directory of the configuration file: relative paths are relative to it.
	Dir string `yaml:"-"`
}

// S3 holds optional object-storage settings; the standard AWS environment also applies.
type S3 struct {
	Region    string `yaml:"region"`
	Endpoint  string `yaml:"endpoint"`
	PathStyle *bool  `yaml:"path_style"`
}

// Serve tunes the `serve` daemon; zero values take the defaults documented in README.md.
type Serve struct {
	// RunTimeout aborts a run that takes longer (default 2h).
	RunTimeout Duration `yaml:"run_timeout"`
	// ShutdownTimeout is how long SIGINT/SIGTERM waits for the current run before aborting
	// it (default 5m).
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// ReadyMaxAge is how old the last successful run may be for /readyz to answer 200
	// (default: twice the longest gap between scheduled runs, plus the run timeout).
	ReadyMaxAge Duration `yaml:"ready_max_age"`
}

// Limits bounds what one run reads (configuration `limits:`). Every field is positive once
// ParseConfig has filled the defaults.
type Limits struct {
	// MaxObjectBytes is the largest source object read, decompressed (default 1 GiB).
	MaxObjectBytes ByteSize `yaml:"max_object_bytes"`
	// MaxLineBytes is the longest line of a text object (default 1 MiB).
	MaxLineBytes ByteSize `yaml:"max_line_bytes"`
	// MaxAttributes is the most keys an event's attributes may have (default 256).
	MaxAttributes int `yaml:"max_attributes"`
	// MaxObjectsPerRun is the most new source objects one run reads (default 100,000).
	MaxObjectsPerRun int `yaml:"max_objects_per_run"`
}

// Defaults of the configuration's limits and lock.
const (
	DefaultMaxObjectBytes   ByteSize = 1 << 30
	DefaultMaxLineBytes     ByteSize = 1 << 20
	DefaultMaxAttributes             = 256
	DefaultMaxObjectsPerRun          = 100_000
	// DefaultLockTTL is how long the run lock stands without renewal; the lease is renewed
	// every third of it.
	DefaultLockTTL = 2 * time.Minute
	// MinLockTTL and MaxLockTTL bound lock_ttl: renewals need time, and a crashed run on
	// another host should not block the next ones for long.
	MinLockTTL = 10 * time.Second
	MaxLockTTL = time.Hour
	// MaxObjectBytesLimit and MaxLineBytesLimit bound the size limits themselves.
	MaxObjectBytesLimit ByteSize = 1 << 40
	MaxLineBytesLimit   ByteSize = 1 << 30
)

// withDefaults fills the absent (zero) limits.
func (l Limits) withDefaults() Limits {
	if l.MaxObjectBytes == 0 {
		l.MaxObjectBytes = DefaultMaxObjectBytes
	}
	if l.MaxLineBytes == 0 {
		l.MaxLineBytes = DefaultMaxLineBytes
	}
	if l.MaxAttributes == 0 {
		l.MaxAttributes = DefaultMaxAttributes
	}
	if l.MaxObjectsPerRun == 0 {
		l.MaxObjectsPerRun = DefaultMaxObjectsPerRun
	}
	return l
}

// ByteSize is a size in bytes, written as an integer (bytes) or as a string with a unit:
// B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), e.g. "512MiB". Only
// whole numbers: "1.5GiB" and 1e9 are refused.
type ByteSize int64

var byteUnits = map[string]int64{"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}

var byteSizeRe = regexp.MustCompile(`^([0-9]+) ?(B|KB|MB|GB|KiB|MiB|GiB)$`)

// UnmarshalYAML reads an integer number of bytes or a size with its unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	want := "want a whole number of bytes or a size such as 512MiB (units B, KB, MB, GB, KiB, MiB, GiB)"
	if n.Kind != yaml.ScalarNode {
		return nodeError(n, "%s", want)
	}
	digits, mult := n.Value, int64(1)
	switch tag := n.ShortTag(); {
	case tag == "!!int", tag == "!!float" && allDigits(n.Value): // past int64 YAML says float
	case tag == "!!str":
		m := byteSizeRe.FindStringSubmatch(n.Value)
		if m == nil {
			return nodeError(n, "size %q: %s", n.Value, want)
		}
		digits, mult = m[1], byteUnits[m[2]]
	default:
		return nodeError(n, "size %q: %s", n.Value, want)
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if errors.Is(err, strconv.ErrRange) || (err == nil && v > math.MaxInt64/mult) {
		return nodeError(n, "size %q is too large", n.Value)
	}
	if err != nil {
		return nodeError(n, "size %q: %s", n.Value, want)
	}
	if v <= 0 {
		return nodeError(n, "size %q must be greater than 0", n.Value)
	}
	*b = ByteSize(v * mult)
	return nil
}

func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// Analytics configures the analysts' read-only snapshot of the warehouse.
type Analytics struct {
	// LocalCopy is a local file that each successful run replaces with the snapshot
	// (analytics/warehouse.duckdb); empty: no local copy.
	LocalCopy string `yaml:"local_copy"`
}

// Issuer is who issues invoices. An invoice shows the issuer as it stood when the invoice
// was issued (BILLING.md section 7): it is captured with the invoice.
type Issuer struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
	TaxID   string `yaml:"tax_id"`
	// Bank is where customers pay; printed on every invoice (optional).
	Bank BankAccount `yaml:"bank"`
}

// BankAccount is the issuer's bank details as an invoice prints them; every field is
// optional and printed only when set.
type BankAccount struct {
	BankName      string `yaml:"bank_name"`
	AccountName   string `yaml:"account_name"`
	AccountNumber string `yaml:"account_number"`
	// BranchCode is the national routing code: a BSB, a sort code, an ABA routing number.
	BranchCode string `yaml:"branch_code"`
	IBAN       string `yaml:"iban"`
	BIC        string `yaml:"bic"`
}

// Lines are the bank details as "Label: value" lines, in print order, the empty ones left out.
func (b BankAccount) Lines() []string {
	var out []string
	for _, f := range []struct{ label, v string }{
		{"Bank", b.BankName}, {"Account name", b.AccountName}, {"Account number", b.AccountNumber},
		{"Branch code", b.BranchCode}, {"IBAN", b.IBAN}, {"BIC", b.BIC},
	} {
		if v := strings.TrimSpace(f.v); v != "" {
			out = append(out, f.label+": "+v)
		}
	}
	return out
}

// SMTP names a mail server for threshold notifications.
type SMTP struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`
	From     string `yaml:"from"`
	StartTLS bool   `yaml:"starttls"`
}

// RateCard is one version of a price list; versions share an ID.
type RateCard struct {
	ID            string    `yaml:"id"`
	EffectiveFrom Timestamp `yaml:"effective_from"`
	Rules         []Rule    `yaml:"rules"`
}

// Rule kinds (BILLING.md section 1).
const (
	KindPerEvent        = "per_event"
	KindPerEventIfRatio = "per_event_if_ratio"
	KindPerUnit         = "per_unit"
	KindPerToken        = "per_token"
	KindFree            = "free"
)

// Rule prices one event type.
type Rule struct {
	EventType      string          `yaml:"event_type"`
	Kind           string          `yaml:"kind"`
	Credits        decimal.Decimal `yaml:"credits"`
	RatioAttribute string          `yaml:"ratio_attribute"`
	MinRatio       decimal.Decimal `yaml:"min_ratio"`
	Per            decimal.Decimal `yaml:"per"`
	Rounding       string          `yaml:"rounding"`
	Allowance      string          `yaml:"allowance"`
	InputPer1k     decimal.Decimal `yaml:"input_per_1k"`
	OutputPer1k    decimal.Decimal `yaml:"output_per_1k"`
}

// Overage policies.
const (
	PolicyBill  = "bill"
	PolicyBlock = "block"
)

// Tenant is one customer contract.
type Tenant struct {
	ID           string          `yaml:"id"`
	Name         string          `yaml:"name"`
	RateCard     string          `yaml:"rate_card"`
	Timezone     string          `yaml:"timezone"`
	Currency     string          `yaml:"currency"`
	Period       string          `yaml:"period"`
	AnchorDay    int             `yaml:"anchor_day"`
	ServiceStart Date            `yaml:"service_start"`
	ServiceEnd   Date            `yaml:"service_end"`
	CreditsPlan  decimal.Decimal `yaml:"credits_plan"`
	Overage      Overage         `yaml:"overage"`
	Bank         []Deposit       `yaml:"bank"`
	Allowances   []Allowance     `yaml:"allowances"`
	Members      []Member        `yaml:"members"`
	Notify       Notify          `yaml:"notify"`
	// PaymentTerms says when an invoice is due (DefaultPaymentDays when absent).
	PaymentTerms PaymentTerms `yaml:"payment_terms"`
	// Customer is who the invoices are addressed to.
	Customer Customer `yaml:"customer"`
	// Tax is the tax an invoice charges on its net amount; nil: none.
	Tax *Tax `yaml:"tax"`

	// Location is the loaded Timezone, set by validation.
	Location *time.Location `yaml:"-"`
}

// Overage says what happens to credits nothing funds.
type Overage struct {
	Policy         string          `yaml:"policy"`
	PricePerCredit decimal.Decimal `yaml:"price_per_credit"`
}

// Deposit is one credits-bank purchase. At is a timestamp or a bare date (tenant-local
// midnight).
type Deposit struct {
	ID      string          `yaml:"id"`
	Credits decimal.Decimal `yaml:"credits"`
	At      DateOrTime      `yaml:"at"`
}

// Allowance is one pool of feature units, consumed in the order the contract lists them.
type Allowance struct {
	Pool  string          `yaml:"pool"`
	Name  string          `yaml:"name"`
	Units decimal.Decimal `yaml:"units"`
}

// Member is a cap on one user's funded credits over the whole contract.
type Member struct {
	UserID string          `yaml:"user_id"`
	Cap    decimal.Decimal `yaml:"cap"`
}

// Customer is the invoiced party of a contract (an invoice captures it when issued).
type Customer struct {
	// LegalName is the name invoices are addressed to (the tenant's name when empty).
	LegalName   string `yaml:"legal_name"`
	Address     string `yaml:"address"`
	TaxID       string `yaml:"tax_id"`
	POReference string `yaml:"po_reference"`
}

// InvoiceName is the name an invoice is addressed to: the legal name, else the tenant's
// name, else its id.
func (t *Tenant) InvoiceName() string {
	for _, s := range []string{t.Customer.LegalName, t.Name} {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return t.ID
}

// Tax is one tenant's invoice tax: a label and a rate (GST at 0.10), or a reverse-charge
// note (no tax charged; the note says why and who accounts for it).
type Tax struct {
	Label         string          `yaml:"label"`
	Rate          decimal.Decimal `yaml:"rate"`
	ReverseCharge string          `yaml:"reverse_charge"`
}

// DefaultPaymentDays is the payment term of a tenant without payment_terms: net 30.
const DefaultPaymentDays = 30

// MaxPaymentDays bounds payment_terms.
const MaxPaymentDays = 365

// PaymentTerms is the number of days between an invoice's issue date and its due date,
// written as a number of days (30), "net 30" or "due on receipt" (0).
type PaymentTerms struct {
	Days int
	// Set is false when the configuration names no terms (net 30 applies).
	Set bool
}

var paymentTermsRe = regexp.MustCompile(`^(?i)net ?([0-9]{1,3})$`)

// UnmarshalYAML reads a number of days, "net N" or "due on receipt".
func (p *PaymentTerms) UnmarshalYAML(n *yaml.Node) error {
	want := `want a number of days, "net N" or "due on receipt"`
	if n.Kind != yaml.ScalarNode {
		return nodeError(n, "payment terms: %s", want)
	}
	v := strings.TrimSpace(n.Value)
	days := -1
	switch {
	case n.ShortTag() == "!!int":
		d, err := strconv.Atoi(v)
		if err != nil {
			return nodeError(n, "payment terms %q: %s", n.Value, want)
		}
		days = d
	case strings.EqualFold(v, "due on receipt"):
		days = 0
	default:
		m := paymentTermsRe.FindStringSubmatch(v)
		if m == nil {
			return nodeError(n, "payment terms %q: %s", n.Value, want)
		}
		days, _ = strconv.Atoi(m[1])
	}
	if days < 0 || days > MaxPaymentDays {
		return nodeError(n, "payment terms %q: between 0 and %d days", n.Value, MaxPaymentDays)
	}
	p.Days, p.Set = days, true
	return nil
}

// DaysOrDefault is the payment term in days, net 30 when none is configured.
func (p PaymentTerms) DaysOrDefault() int {
	if !p.Set {
		return DefaultPaymentDays
	}
	return p.Days
}

// Notify lists the utilization thresholds and who hears of them.
type Notify struct {
	Thresholds []decimal.Decimal `yaml:"thresholds"`
	Email      []string          `yaml:"email"`
	// RunoutWithin, when set, notifies once per period when the period's forecast says its
	// credits (plan and bank) run out within this long of the latest usage counted, or have
	// run out (pipeline/forecast; issue 11). 0: never.
	RunoutWithin DayDuration `yaml:"runout_within"`
}

// MaxRunoutWithin bounds notify.runout_within: no period is longer than a year.
const MaxRunoutWithin = 366 * 24 * time.Hour

// DayDuration is a duration written with days: "7d", "36h", "1d12h", "90m" (a day is 24
// hours). Go's duration syntax has no days; this one has no fractions or seconds.
type DayDuration struct {
	time.Duration
	set bool // written in the configuration (a written 0 is refused)
}

var dayDurationRe = regexp.MustCompile(`^(?:([0-9]{1,4})d)?(?:([0-9]{1,5})h)?(?:([0-9]{1,6})m)?$`)

// UnmarshalYAML reads days, hours and minutes ("7d", "1d12h").
func (d *DayDuration) UnmarshalYAML(n *yaml.Node) error {
	m := dayDurationRe.FindStringSubmatch(n.Value)
	if n.Kind != yaml.ScalarNode || m == nil || n.Value == "" {
		return nodeError(n, "duration %q: want days, hours or minutes such as 7d, 36h or 1d12h", n.Value)
	}
	var total time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute} {
		if m[i+1] != "" {
			v, _ := strconv.Atoi(m[i+1]) // at most 6 digits: cannot fail
			total += time.Duration(v) * unit
		}
	}
	d.Duration, d.set = total, true
	return nil
}

// String writes the duration as the configuration does: "7d", "1d12h", "90m" ("0d" for 0).
func (d DayDuration) String() string {
	v := d.Duration
	if v <= 0 {
		return "0d"
	}
	var b strings.Builder
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}} {
		if n := v / u.unit; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			v -= n * u.unit
		}
	}
	return b.String()
}

// Duration is a Go duration string such as "72h".
type Duration struct{ time.Duration }

// UnmarshalYAML reads a duration from its text.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return nodeError(n, "parse duration %q: %v", n.Value, err)
	}
	d.Duration = v
	return nil
}

// nodeError reports a value that cannot be read as a *yaml.TypeError, which lets the
// decoder go on with the rest of the file (any other error stops it), so that every problem
// of a configuration is listed. The message starts with the node's line and column.
func nodeError(n *yaml.Node, format string, args ...any) error {
	msg := fmt.Sprintf("line %d, column %d: ", n.Line, n.Column) + fmt.Sprintf(format, args...)
	return &yaml.TypeError{Errors: []string{msg}}
}

// Timestamp is an RFC 3339 instant with an offset.
type Timestamp struct{ time.Time }

// UnmarshalYAML reads the text as written; YAML's own timestamp resolution is bypassed so
// that an instant without an offset is refused.
func (t *Timestamp) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseRFC3339(n.Value)
	if err != nil {
		return nodeError(n, "parse timestamp %q: want RFC 3339 with offset", n.Value)
	}
	t.Time = v
	return nil
}

// parseRFC3339 parses an RFC 3339 instant with offset. RFC 3339 (section 5.6) also allows
// a lower-case "t" and "z" and a space between date and time, as the schema does; Go's
// time.RFC3339 layout does not, so they are made upper-case "T" and "Z" first.
func parseRFC3339(s string) (time.Time, error) {
	if len(s) > 10 && (s[10] == ' ' || s[10] == 't') {
		s = s[:10] + "T" + s[11:]
	}
	if strings.HasSuffix(s, "z") {
		s = s[:len(s)-1] + "Z"
	}
	return time.Parse(time.RFC3339Nano, s)
}

// Date is a calendar date (YYYY-MM-DD) without a zone; its meaning is tenant-local.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// UnmarshalYAML reads YYYY-MM-DD.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.Parse(time.DateOnly, n.Value)
	if err != nil {
		return nodeError(n, "parse date %q: want YYYY-MM-DD", n.Value)
	}
	d.Year, d.Month, d.Day = v.Date()
	return nil
}

// IsZero reports whether the date is unset.
func (d Date) IsZero() bool { return d.Year == 0 }

// In returns local midnight of the date in loc: the first instant of that local day. Where
// a clock change skips midnight (America/Santiago, America/Havana, Atlantic/Azores) or
// repeats it, time.Date may pick an instant on the day before or the later midnight; the
// day then starts at the change, or at the earlier midnight.
func (d Date) In(loc *time.Location) time.Time {
	t := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
	start, end := t.ZoneBounds()
	if y, m, dd := t.Date(); !end.IsZero() && (Date{y, m, dd}) != normalized(d) {
		return end // midnight skipped: t is the day before, the day begins at the change
	}
	if !start.IsZero() {
		_, now := t.Zone()
		_, before := start.Add(-time.Nanosecond).Zone()
		e := t.Add(time.Duration(now-before) * time.Second)
		if e.Before(start) && e.Year() == t.Year() && e.YearDay() == t.YearDay() && e.Hour() == 0 && e.Minute() == 0 && e.Second() == 0 {
			return e // midnight repeated: the first one
		}
	}
	return t
}

// normalized is d as time.Date normalizes it (2026-02-30 is 2026-03-02).
func normalized(d Date) Date {
	y, m, dd := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Date()
	return Date{y, m, dd}
}

// String formats the date as YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// DateOrTime is either an RFC 3339 instant or a bare date that means tenant-local midnight.
type DateOrTime struct {
	Time time.Time
	Date Date
	// IsDate is true for a bare date.
	IsDate bool
}

// UnmarshalYAML reads either form.
func (d *DateOrTime) UnmarshalYAML(n *yaml.Node) error {
	if !strings.ContainsAny(n.Value, "Tt ") {
		var dd Date
		if err := dd.UnmarshalYAML(n); err != nil {
			return err
		}
		d.Date, d.IsDate = dd, true
		return nil
	}
	var ts Timestamp
	if err := ts.UnmarshalYAML(n); err != nil {
		return err
	}
	d.Time = ts.Time
	return nil
}

// In resolves the value to an instant, a bare date at local midnight in loc.
func (d DateOrTime) In(loc *time.Location) time.Time {
	if d.IsDate {
		return d.Date.In(loc)
	}
	return d.Time
}

// Tenant returns the tenant with the given id, or nil.
func (c *Config) Tenant(id string) *Tenant {
	for i := range c.Tenants {
		if c.Tenants[i].ID == id {
			return &c.Tenants[i]
		}
	}
	return nil
}
