package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/shopspring/decimal"

	"github.com/creditmeter/creditmeter/schemas"
)

// SMTPSender delivers messages to one mail server. With StartTLS the session is upgraded
// before anything else is sent and a server without STARTTLS is an error; credentials are
// never sent over an unencrypted connection, except to a loopback address.
type SMTPSender struct {
	Host     string
	Port     int
	StartTLS bool
	Username string
	Password string
	// TLSConfig is used for STARTTLS (nil: the system roots, ServerName = Host). Tests set
	// RootCAs to trust a self-signed certificate.
	TLSConfig *tls.Config
	// Timeout bounds one whole delivery (dial to QUIT); 0 means 30 seconds.
	Timeout time.Duration
	// LocalName is sent in EHLO; empty means "localhost".
	LocalName string
}

// NewSMTPSender builds the sender for the configuration's smtp block, with the credentials
// from SMTP_USERNAME and SMTP_PASSWORD. It returns nil when no server is configured.
func NewSMTPSender(c *schemas.SMTP) *SMTPSender {
	if c == nil || c.Host == "" {
		return nil
	}
	return &SMTPSender{Host: c.Host, Port: c.Port, StartTLS: c.StartTLS,
		Username: os.Getenv("SMTP_USERNAME"), Password: os.Getenv("SMTP_PASSWORD")}
}

// Addr is host:port; the port defaults to 587 with STARTTLS and 25 without.
func (s *SMTPSender) Addr() string {
	port := s.Port
	if port == 0 {
		port = 25
		if s.StartTLS {
			port = 587
		}
	}
	return net.JoinHostPort(s.Host, strconv.Itoa(port))
}

// Send delivers msg from from to every address of to in one SMTP transaction. Its errors
// carry the server's own words; DeliveryError says what may be published of them.
func (s *SMTPSender) Send(ctx context.Context, from string, to []string, msg []byte) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fail := func(stage string, err error) error {
		return &sendError{addr: s.Addr(), stage: stage, err: err}
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr())
	if err != nil {
		return fail(stageDial, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var c *smtp.Client
	if s.StartTLS {
		cfg := &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}
		if s.TLSConfig != nil {
			cfg = s.TLSConfig.Clone()
			if cfg.ServerName == "" {
				cfg.ServerName = s.Host
			}
		}
		c, err = smtp.NewClientStartTLS(conn, cfg)
		if err != nil {
			_ = conn.Close()
			return fail(stageStartTLS, err)
		}
	} else {
		c = smtp.NewClient(conn)
	}
	defer c.Close() // after QUIT the connection is closed already; the error says nothing
	name := s.LocalName
	if name == "" {
		name = "localhost"
	}
	if err := c.Hello(name); err != nil {
		return fail(stageHello, err)
	}
	if s.Username != "" {
		_, tlsOn := c.TLSConnectionState()
		if !tlsOn && !isLoopback(s.Host) {
			return fail(stageAuth, errCredentialsInClear)
		}
		if err := c.Auth(sasl.NewPlainClient("", s.Username, s.Password)); err != nil {
			return fail(stageAuth, err)
		}
	}
	if err := c.SendMail(from, to, bytes.NewReader(msg)); err != nil {
		return fail(stageSend, err)
	}
	if err := c.Quit(); err != nil {
		return nil // accepted; the goodbye does not change that
	}
	return nil
}

// Stages of an SMTP delivery, as a sendError names them.
const (
	stageDial     = "dial"
	stageStartTLS = "starttls"
	stageHello    = "hello"
	stageAuth     = "auth"
	stageSend     = "send"
)

var errCredentialsInClear = errors.New("refusing to send credentials without TLS (set starttls: true)")

// sendError is a failed delivery: where it failed and the error as it came, server text
// included (for the log, never for the outbox).
type sendError struct {
	addr, stage string
	err         error
}

// Error names the server, the stage and the cause.
func (e *sendError) Error() string { return fmt.Sprintf("smtp %s: %s: %v", e.addr, e.stage, e.err) }

// Unwrap returns the cause.
func (e *sendError) Unwrap() error { return e.err }

// DeliveryError classifies a failed send into a short text of our own, the only thing
// recorded in notifications.last_error and published in notifications/outbox.jsonl: the
// server's reply (which may name internal hosts, accounts or policies) never is. The full
// error goes to the log. Examples: "smtp 451 temporary failure", "smtp 550 permanent
// failure", "smtp 535 authentication failed", "connection refused", "tls handshake failed",
// "timeout".
func DeliveryError(err error) string {
	if err == nil {
		return ""
	}
	var se *sendError
	stage := ""
	if errors.As(err, &se) {
		stage = se.stage
	}
	var reply *smtp.SMTPError
	var dns *net.DNSError
	var ne net.Error
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case errors.As(err, &reply) && reply.Code >= 400 && reply.Code <= 599:
		switch {
		case stage == stageAuth && reply.Code >= 500:
			return fmt.Sprintf("smtp %d authentication failed", reply.Code)
		case reply.Code < 500:
			return fmt.Sprintf("smtp %d temporary failure", reply.Code)
		default:
			return fmt.Sprintf("smtp %d permanent failure", reply.Code)
		}
	case errors.As(err, &reply):
		return "smtp unexpected reply"
	case errors.Is(err, errCredentialsInClear):
		return "credentials refused without tls"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &dns):
		return "host not found"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &cv), errors.As(err, &rh), errors.As(err, &alert), stage == stageStartTLS:
		return "tls handshake failed"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "connection lost"
	case stage == stageDial:
		return "connection failed"
	}
	return "delivery failed"
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ranOut reports whether a run-out notification says the credits have run out already (the
// credits used reached those available), not that they will.
func (n Notification) ranOut() bool { return n.CreditsUsed.GreaterThanOrEqual(n.CreditsLimit) }

// runoutDay is the run-out day of a run-out notification as people read it.
func (n Notification) runoutDay() string {
	if n.RunsOutOn == nil {
		return "-"
	}
	t, err := time.Parse(time.DateOnly, *n.RunsOutOn)
	if err != nil {
		return *n.RunsOutOn
	}
	return t.Format("2 Jan 2006")
}

// Subject is the message's subject line.
func Subject(n Notification) string {
	if n.Kind == KindRunout {
		if n.ranOut() {
			return fmt.Sprintf("AI credits: %s has run out of its credits for %s", n.TenantName, periodText(n.PeriodStart, n.PeriodEnd))
		}
		return fmt.Sprintf("AI credits: %s is projected to run out of credits on %s", n.TenantName, n.runoutDay())
	}
	return fmt.Sprintf("AI credits: %s has used %s%% of its credits for %s",
		n.TenantName, percent(n.Threshold), periodText(n.PeriodStart, n.PeriodEnd))
}

// Body is the plain-text message: tenant, period, threshold, credits used and left, and
// what happens next under the tenant's overage policy. Lines stay under 76 characters.
func Body(n Notification) string {
	var b strings.Builder
	period := periodText(n.PeriodStart, n.PeriodEnd)
	b.WriteString("Hello,\n\n")
	row := func(k, v string) { fmt.Fprintf(&b, "  %-24s %s\n", k+":", v) }
	if n.Kind == KindRunout {
		within := "-"
		if n.RunoutWithin != nil {
			within = *n.RunoutWithin
		}
		if n.ranOut() {
			fmt.Fprintf(&b, "%s (tenant %s) has used all the AI credits available for\n"+
				"the billing period %s (plan and credits bank), on %s.\n\n", n.TenantName, n.TenantID, period, n.runoutDay())
		} else {
			fmt.Fprintf(&b, "At its daily burn so far, %s (tenant %s) is projected\n"+
				"to run out of the AI credits available for the billing period\n"+
				"%s (plan and credits bank) on %s, within %s of its\n"+
				"latest usage counted.\n\n", n.TenantName, n.TenantID, period, n.runoutDay(), within)
		}
		row("Runs out on", n.runoutDay())
		row("Forecast as of", n.CrossedAt.UTC().Format("2006-01-02 15:04:05")+" UTC")
		row("Credits available", n.CreditsLimit.String())
		row("  credits plan", n.CreditsPlan.String())
		row("  bank at period start", n.BankAtStart.String())
		row("  deposits in period", n.DepositsInPeriod.String())
		row("Credits used", n.CreditsUsed.String())
		row("Credits left", n.CreditsLeft.String())
		if n.Utilization != nil {
			row("Utilization", percent(*n.Utilization)+"%")
		}
		b.WriteString("\nWhat happens next:\n")
		writeNext(&b, n)
		b.WriteString("\nThe forecast takes the credits used by the period's own events per\n" +
			"day so far (days in the tenant's time zone, up to the day of the latest\n" +
			"usage counted) and projects them over the days left; the usage workbook\n" +
			"shows it on its Plan sheet.\n\n" +
			"This message was sent automatically by creditmeter to the billing\n" +
			"contacts of the tenant.\n")
		return b.String()
	}
	if n.CreditsLimit.IsZero() {
		fmt.Fprintf(&b, "%s (tenant %s) has no AI credits available for the\n"+
			"billing period %s, and AI features were used:\n"+
			"the %s%% usage threshold is reached.\n\n", n.TenantName, n.TenantID, period, percent(n.Threshold))
	} else {
		fmt.Fprintf(&b, "%s (tenant %s) has used %s%% of the AI credits\n"+
			"available for the billing period %s.\n\n", n.TenantName, n.TenantID, percent(n.Threshold), period)
	}
	row("Threshold", percent(n.Threshold)+"%")
	row("Reached at", n.CrossedAt.UTC().Format("2006-01-02 15:04:05")+" UTC")
	row("Event", n.EventID)
	row("Credits available", n.CreditsLimit.String())
	row("  credits plan", n.CreditsPlan.String())
	row("  bank at period start", n.BankAtStart.String())
	row("  deposits in period", n.DepositsInPeriod.String())
	row("Credits used", n.CreditsUsed.String())
	row("Credits left", n.CreditsLeft.String())
	if n.Utilization != nil {
		row("Utilization", percent(*n.Utilization)+"%")
	}
	b.WriteString("\nWhat happens next:\n")
	writeNext(&b, n)
	b.WriteString("\nThe figures are as of the event that reached the threshold; the usage\n" +
		"report for the period shows the current numbers.\n\n" +
		"This message was sent automatically by creditmeter to the billing\n" +
		"contacts of the tenant.\n")
	return b.String()
}

// writeNext says what happens next under the tenant's overage policy.
func writeNext(b *strings.Builder, n Notification) {
	switch n.Policy {
	case schemas.PolicyBlock:
		b.WriteString("  Your contract has a hard stop. AI usage beyond the remaining credits\n" +
			"  is blocked: it is reported as blocked credits and never invoiced.\n" +
			"  Credits are available again when the next billing period starts or\n" +
			"  when credits are added to the credits bank.\n")
	default:
		price := "the agreed price per credit"
		if n.PricePerCredit != nil {
			price = strings.TrimSpace(n.PricePerCredit.String() + " " + n.Currency + " per credit")
		}
		b.WriteString("  AI features keep working. Credits used beyond the remaining credits\n" +
			"  are exceeding credits; they are invoiced after the period closes,\n")
		fmt.Fprintf(b, "  at %s.\n", price)
		if over := n.CreditsUsed.Sub(n.CreditsLimit); over.IsPositive() {
			fmt.Fprintf(b, "  Credits beyond the available ones so far: %s.\n", over)
		}
	}
}

// Message renders the whole email: headers, then the body in quoted-printable UTF-8 text.
// The Message-ID is derived from the notification, so a retried message has the same one.
func Message(n Notification, from string, to []string, now time.Time) []byte {
	var b bytes.Buffer
	domain := "creditmeter.invalid"
	if _, d, ok := strings.Cut(from, "@"); ok && d != "" {
		domain = d
	}
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", from)
	h("To", strings.Join(to, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", Subject(n)))
	h("Date", now.UTC().Format(time.RFC1123Z))
	if n.Kind == KindRunout {
		h("Message-ID", fmt.Sprintf("<runout.%s.%s@%s>", sanitize(n.TenantID), n.PeriodStart, domain))
	} else {
		h("Message-ID", fmt.Sprintf("<threshold.%s.%s.%s@%s>", sanitize(n.TenantID), n.PeriodStart, n.Threshold.String(), domain))
	}
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	h("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	var body bytes.Buffer
	w := quotedprintable.NewWriter(&body)
	_, _ = w.Write([]byte(strings.ReplaceAll(Body(n), "\n", "\r\n")))
	_ = w.Close()
	b.Write(body.Bytes())
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e || r == '<' || r == '>' || r == '@' {
			return '_'
		}
		return r
	}, s)
}

// percent writes a ratio as a percentage: 0.9 -> "90", 1.0825 -> "108.25".
func percent(d decimal.Decimal) string { return d.Shift(2).String() }

// periodText writes a period as people read it, with its inclusive last day: "1 Jan 2026 –
// 31 Jan 2026" (start and the exclusive end are YYYY-MM-DD), as every human-facing
// document does.
func periodText(start, end string) string {
	day := func(s string, back int) string {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return s
		}
		return t.AddDate(0, 0, -back).Format("2 Jan 2006")
	}
	return day(start, 0) + " – " + day(end, 1)
}
