package notify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/shopspring/decimal"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// testConfig matches testdata/fixture.sql.
func testConfig() *schemas.Config {
	return &schemas.Config{Tenants: []schemas.Tenant{
		{ID: "acme", Name: "Acme Learning", Overage: schemas.Overage{Policy: "bill", PricePerCredit: dec("0.05")},
			Notify: schemas.Notify{Thresholds: []decimal.Decimal{dec("0.9"), dec("1.0")}, Email: []string{"billing@acme.example"}}},
		{ID: "zero", Name: "Zéro Formation", Overage: schemas.Overage{Policy: "block"},
			Notify: schemas.Notify{Thresholds: []decimal.Decimal{dec("1"), dec("0.9"), dec("0.90")}, Email: []string{"ops@zero.example", "cfo@zero.example"}}},
		{ID: "quiet", Name: "Quiet Co", Overage: schemas.Overage{Policy: "bill", PricePerCredit: dec("0.1")}},
	}}
}

// openRun opens a warehouse file (kept across "runs" of a test) and a connection with the
// per-run tables of fixture.sql (and more.sql when more).
func openRun(t *testing.T, path string, more bool) *sql.Conn {
	t.Helper()
	files := []string{"fixture.sql"}
	if more {
		files = append(files, "more.sql")
	}
	return openRunWith(t, path, files...)
}

func openRunWith(t *testing.T, path string, files ...string) *sql.Conn {
	t.Helper()
	ctx := context.Background()
	db, err := warehouse.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := warehouse.Exec(ctx, conn, "config_tables.sql"); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range warehouse.Statements(string(b)) {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s: %v\n%s", f, err, stmt)
			}
		}
	}
	return conn
}

// run is one run's notify part: Record and Render inside a transaction, as jobs/run.go does.
func run(t *testing.T, conn *sql.Conn, cfg *schemas.Config, seq int, out string) []byte {
	t.Helper()
	ctx := context.Background()
	err := warehouse.InTx(ctx, conn, func() error {
		if err := Record(ctx, conn, cfg, seq); err != nil {
			return err
		}
		return Render(ctx, conn, out)
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "notifications", "outbox.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func outboxLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if l == "" {
			continue
		}
		d := json.NewDecoder(strings.NewReader(l))
		d.UseNumber()
		m := map[string]any{}
		if err := d.Decode(&m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestRecordCrossings(t *testing.T) {
	dir := t.TempDir()
	wh := filepath.Join(dir, "w.duckdb")
	cfg := testConfig()
	conn := openRun(t, wh, false)
	b1 := run(t, conn, cfg, 1, filepath.Join(dir, "out1"))
	got := outboxLines(t, b1)
	type want struct {
		tenant, start, threshold, crossed, event, used, limit, left string
		util                                                        any
	}
	wants := []want{
		{"acme", "2026-01-01", "0.9", "2026-01-15T10:00:00Z", "a3", "230", "250", "20", json.Number("0.92")},
		{"acme", "2026-01-01", "1", "2026-01-20T10:00:00Z", "a4", "270", "250", "0", json.Number("1.08")},
		// the late event (occurred in January, billed in February) is funded first
		{"acme", "2026-02-01", "0.9", "2026-02-05T08:30:00Z", "b1", "160", "150", "0", json.Number("1.0667")},
		{"acme", "2026-02-01", "1", "2026-02-05T08:30:00Z", "b1", "160", "150", "0", json.Number("1.0667")},
		// nothing available: the first charged event crosses every threshold
		{"zero", "2026-01-01", "0.9", "2026-01-04T10:00:00Z", "z2", "0", "0", "0", nil},
		{"zero", "2026-01-01", "1", "2026-01-04T10:00:00Z", "z2", "0", "0", "0", nil},
	}
	if len(got) != len(wants) {
		t.Fatalf("%d notifications, want %d:\n%s", len(got), len(wants), b1)
	}
	for i, w := range wants {
		g := got[i]
		if g["tenant_id"] != w.tenant || g["period_start"] != w.start || g["threshold"] != json.Number(w.threshold) ||
			g["crossed_at"] != w.crossed || g["event_id"] != w.event || g["credits_used"] != json.Number(w.used) ||
			g["credits_limit"] != json.Number(w.limit) || g["credits_left"] != json.Number(w.left) || g["utilization"] != w.util ||
			g["status"] != "pending" || g["attempts"] != json.Number("0") {
			t.Errorf("notification %d = %v, want %+v", i, g, w)
		}
	}
	if got[0]["bank_at_period_start"] != json.Number("0") || got[0]["deposits_in_period"] != json.Number("150") ||
		got[2]["bank_at_period_start"] != json.Number("0") || got[2]["deposits_in_period"] != json.Number("50") {
		t.Errorf("denominator parts: %v / %v", got[0], got[2])
	}
	if got[0]["policy"] != "bill" || got[0]["price_per_credit"] != json.Number("0.05") || got[0]["currency"] != "EUR" ||
		got[4]["policy"] != "block" || got[4]["price_per_credit"] != nil {
		t.Errorf("policy fields: %v / %v", got[0], got[4])
	}
	if e, _ := got[4]["emails"].([]any); len(e) != 2 || e[0] != "ops@zero.example" {
		t.Errorf("emails %v", got[4]["emails"])
	}

	// A re-run with no new input: nothing new, the same bytes.
	b2 := run(t, conn, cfg, 2, filepath.Join(dir, "out2"))
	if !bytes.Equal(b1, b2) {
		t.Errorf("re-run changed the outbox:\n%s\n---\n%s", b1, b2)
	}

	// A later run (new connection: new per-run tables) with new input: January's crossings
	// stay as first recorded; March's are added.
	conn.Close()
	conn3 := openRun(t, wh, true)
	b3 := run(t, conn3, cfg, 3, filepath.Join(dir, "out3"))
	got3 := outboxLines(t, b3)
	if len(got3) != 8 {
		t.Fatalf("%d notifications after new input, want 8:\n%s", len(got3), b3)
	}
	if got3[0]["event_id"] != "a3" || got3[0]["crossed_at"] != "2026-01-15T10:00:00Z" {
		t.Errorf("January crossing was recomputed: %v", got3[0])
	}
	for _, i := range []int{4, 5} {
		g := got3[i]
		if g["period_start"] != "2026-03-01" || g["event_id"] != "m2" || g["credits_limit"] != json.Number("150") ||
			g["bank_at_period_start"] != json.Number("50") || g["credits_used"] != json.Number("180") || g["utilization"] != json.Number("1.2") {
			t.Errorf("March crossing %d: %v", i, g)
		}
	}
	if !bytes.Contains(b3, b1[:bytes.Index(b1, []byte("\n"))+1]) {
		t.Errorf("first line changed")
	}
}

// mailServer is a real SMTP server on 127.0.0.1 (go-smtp) that records what it accepts.
type mailServer struct {
	addr string
	port int
	srv  *smtp.Server
	mu   sync.Mutex
	fail bool // reject DATA with a temporary error
	msgs []mail
	user string
	pass string
}

type mail struct {
	from string
	to   []string
	data string
	tls  bool
	auth string
}

type session struct {
	s    *mailServer
	c    *smtp.Conn
	m    mail
	auth string
}

func (s *session) Reset()        { s.m = mail{} }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.s.user != "" && s.auth == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	s.m.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error { s.m.to = append(s.m.to, to); return nil }
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.s.mu.Lock()
	defer s.s.mu.Unlock()
	if s.s.fail {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: serverText}
	}
	_, s.m.tls = s.c.TLSConnectionState()
	s.m.data = string(b)
	s.m.auth = s.auth
	s.s.msgs = append(s.s.msgs, s.m)
	return nil
}
func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.s.user || pass != s.s.pass {
			return errors.New("bad credentials")
		}
		s.auth = user
		return nil
	}), nil
}

func startServer(t *testing.T, tlsCfg *tls.Config, user, pass string) *mailServer {
	t.Helper()
	ms := &mailServer{user: user, pass: pass}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: ms, c: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.AllowInsecureAuth = tlsCfg == nil
	srv.TLSConfig = tlsCfg
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms.addr = l.Addr().String()
	ms.port = l.Addr().(*net.TCPAddr).Port
	ms.srv = srv
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return ms
}

func (ms *mailServer) setFail(f bool) { ms.mu.Lock(); ms.fail = f; ms.mu.Unlock() }
func (ms *mailServer) received() []mail {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]mail(nil), ms.msgs...)
}

func decodeBody(t *testing.T, data string) string {
	t.Helper()
	_, body, ok := strings.Cut(data, "\r\n\r\n")
	if !ok {
		t.Fatalf("no header/body separator in %q", data)
	}
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// serverText is what the test server says when it refuses a message: words of another
// party, with internal names in them, that must never reach the outbox.
const serverText = "mailbox busy on relay-7.corp.internal (10.2.3.4), queue of ops@corp.internal full"

func TestDeliverFailureThenRetry(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	wh := filepath.Join(dir, "w.duckdb")
	ms := startServer(t, nil, "", "")
	cfg := testConfig()
	cfg.SMTP = &schemas.SMTP{Host: "127.0.0.1", Port: ms.port, From: "billing@creditmeter.example"}
	sender := NewSMTPSender(cfg.SMTP)
	sender.Username, sender.Password = "", ""
	now1 := time.Date(2026, 2, 10, 8, 0, 0, 0, time.UTC)

	// Run 1: the server rejects every message; the run goes on, all are failed.
	conn := openRun(t, wh, false)
	run(t, conn, cfg, 1, filepath.Join(dir, "out1"))
	ms.setFail(true)
	var logs bytes.Buffer
	sent, failed, err := Deliver(ctx, conn, cfg, sender, now1, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil || sent != 0 || failed != 6 {
		t.Fatalf("run 1: sent %d failed %d err %v", sent, failed, err)
	}
	ns, err := List(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.Status != StatusFailed || n.Attempts != 1 || n.LastError == nil || *n.LastError != "smtp 451 temporary failure" || n.SentAt != nil {
			t.Errorf("after failure: %+v (last_error %q)", n, deref(n.LastError))
		}
	}
	// the outbox others read carries our classification, never the server's words; the log
	// (at warn) has them whole
	if err := Render(ctx, conn, filepath.Join(dir, "out1b")); err != nil {
		t.Fatal(err)
	}
	outbox, err := os.ReadFile(filepath.Join(dir, "out1b", "notifications", "outbox.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(outbox), "corp.internal") || !strings.Contains(string(outbox), `"last_error":"smtp 451 temporary failure"`) {
		t.Errorf("outbox after failure:\n%s", outbox)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "relay-7.corp.internal") {
		t.Errorf("the server's text is not logged at warn:\n%s", logs.String())
	}

	// Run 2: the server is back; every failed one is retried and sent once.
	ms.setFail(false)
	now2 := now1.Add(6 * time.Hour)
	sent, failed, err = Deliver(ctx, conn, cfg, sender, now2, quietLog())
	if err != nil || sent != 6 || failed != 0 {
		t.Fatalf("run 2: sent %d failed %d err %v", sent, failed, err)
	}
	msgs := ms.received()
	if len(msgs) != 6 {
		t.Fatalf("%d messages received, want 6", len(msgs))
	}
	first := msgs[0]
	if first.from != "billing@creditmeter.example" || len(first.to) != 1 || first.to[0] != "billing@acme.example" {
		t.Errorf("envelope %+v", first)
	}
	body := strings.Join(strings.Fields(decodeBody(t, first.data)), " ")
	for _, want := range []string{"Acme Learning (tenant acme) has used 90% of the AI credits", "1 Jan 2026 – 31 Jan 2026",
		"Credits used: 230", "Credits left: 20", "Utilization: 92%",
		"invoiced after the period closes, at 0.05 EUR per credit.", "Credits available: 250 credits plan: 100",
		"bank at period start: 0 deposits in period: 150"} {
		if !strings.Contains(body, want) {
			t.Errorf("message body lacks %q:\n%s", want, body)
		}
	}
	if subj := decodedSubject(t, first.data); subj != "AI credits: Acme Learning has used 90% of its credits for 1 Jan 2026 – 31 Jan 2026" {
		t.Errorf("subject %q", subj)
	}
	if !strings.Contains(first.data, "Subject: =?utf-8?q?AI_credits:_Acme_Learning_has_used_90%_of_its_credits") {
		t.Errorf("headers:\n%s", first.data)
	}
	feb := decodeBody(t, msgs[2].data)
	if !strings.Contains(feb, "Credits beyond the available ones so far: 10.") || !strings.Contains(strings.Join(strings.Fields(feb), " "), "Utilization: 106.67%") {
		t.Errorf("February message:\n%s", feb)
	}
	for _, m := range msgs {
		for _, l := range strings.Split(decodeBody(t, m.data), "\r\n") {
			if len(l) > 76 {
				t.Errorf("line longer than 76: %q", l)
			}
		}
	}
	zero := decodeBody(t, msgs[4].data)
	if len(msgs[4].to) != 2 || !strings.Contains(zero, "Zéro Formation") || !strings.Contains(zero, "hard stop") ||
		!strings.Contains(zero, "blocked") || strings.Contains(zero, "Utilization") ||
		!strings.Contains(zero, "has no AI credits available") {
		t.Errorf("block message to %v:\n%s", msgs[4].to, zero)
	}
	ns, err = List(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.Status != StatusSent || n.Attempts != 2 || n.LastError != nil || n.SentAt == nil || !n.SentAt.Equal(now2) {
			t.Errorf("after retry: %+v", n)
		}
	}

	// Run 3 (a later run, new input recorded): only the new ones are sent; the outbox of a
	// re-run with nothing new is byte-identical.
	conn.Close()
	conn3 := openRun(t, wh, true)
	a := run(t, conn3, cfg, 3, filepath.Join(dir, "out3"))
	sent, failed, err = Deliver(ctx, conn3, cfg, sender, now2.Add(time.Hour), quietLog())
	if err != nil || sent != 2 || failed != 0 {
		t.Fatalf("run 3: sent %d failed %d err %v", sent, failed, err)
	}
	if len(ms.received()) != 8 {
		t.Fatalf("%d messages, want 8", len(ms.received()))
	}
	b := run(t, conn3, cfg, 4, filepath.Join(dir, "out4"))
	sent, failed, err = Deliver(ctx, conn3, cfg, sender, now2.Add(2*time.Hour), quietLog())
	if err != nil || sent != 0 || failed != 0 {
		t.Fatalf("run 4: sent %d failed %d err %v", sent, failed, err)
	}
	c := run(t, conn3, cfg, 5, filepath.Join(dir, "out5"))
	if bytes.Equal(a, b) || !bytes.Equal(b, c) {
		t.Errorf("outbox: delivery should show after the run that delivered, then stay put:\n%s\n---\n%s\n---\n%s", a, b, c)
	}
	if strings.Count(string(c), `"status":"sent"`) != 8 {
		t.Errorf("outbox:\n%s", c)
	}
}

func TestDeliverServerDown(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	cfg := testConfig()
	cfg.SMTP = &schemas.SMTP{Host: "127.0.0.1", Port: port, From: "billing@creditmeter.example"}
	sender := &SMTPSender{Host: "127.0.0.1", Port: port, Timeout: 5 * time.Second}
	conn := openRun(t, filepath.Join(dir, "w.duckdb"), false)
	run(t, conn, cfg, 1, filepath.Join(dir, "out1"))
	sent, failed, err := Deliver(ctx, conn, cfg, sender, time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC), quietLog())
	if err != nil || sent != 0 || failed != 1 {
		t.Fatalf("sent %d failed %d err %v (one attempt, then the rest wait)", sent, failed, err)
	}
	ns, err := List(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if ns[0].Status != StatusFailed || ns[1].Status != StatusPending || ns[1].Attempts != 0 {
		t.Errorf("states %s/%d %s/%d", ns[0].Status, ns[0].Attempts, ns[1].Status, ns[1].Attempts)
	}
	if got := deref(ns[0].LastError); got != "connection refused" {
		t.Errorf("last_error %q, want connection refused", got)
	}
	// No smtp block: nothing is attempted.
	cfg.SMTP = nil
	if s, f, err := Deliver(ctx, conn, cfg, NewSMTPSender(nil), time.Now(), quietLog()); err != nil || s != 0 || f != 0 {
		t.Errorf("without smtp: %d %d %v", s, f, err)
	}
}

// selfSigned makes a certificate for 127.0.0.1 and returns the server config and a client
// config that trusts it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "creditmeter test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

func TestDeliverStartTLSWithAuth(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srvTLS, cliTLS := selfSigned(t)
	ms := startServer(t, srvTLS, "mailer", "s3cret")
	t.Setenv("SMTP_USERNAME", "mailer")
	t.Setenv("SMTP_PASSWORD", "s3cret")
	cfg := testConfig()
	cfg.SMTP = &schemas.SMTP{Host: "127.0.0.1", Port: ms.port, From: "billing@creditmeter.example", StartTLS: true}
	conn := openRun(t, filepath.Join(dir, "w.duckdb"), false)
	run(t, conn, cfg, 1, filepath.Join(dir, "out1"))

	// Without trusting the self-signed certificate the handshake fails: nothing is sent.
	untrusting := NewSMTPSender(cfg.SMTP)
	untrusting.Timeout = 5 * time.Second
	sent, failed, err := Deliver(ctx, conn, cfg, untrusting, time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC), quietLog())
	if err != nil || sent != 0 || failed == 0 || len(ms.received()) != 0 {
		t.Fatalf("untrusted certificate: sent %d failed %d err %v", sent, failed, err)
	}
	ns, err := List(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := deref(ns[0].LastError); got != "tls handshake failed" {
		t.Errorf("last_error %q, want tls handshake failed", got)
	}

	sender := NewSMTPSender(cfg.SMTP)
	sender.TLSConfig = cliTLS
	sent, failed, err = Deliver(ctx, conn, cfg, sender, time.Date(2026, 2, 10, 1, 0, 0, 0, time.UTC), quietLog())
	if err != nil || sent != 6 || failed != 0 {
		t.Fatalf("sent %d failed %d err %v", sent, failed, err)
	}
	for _, m := range ms.received() {
		if !m.tls || m.auth != "mailer" {
			t.Errorf("message over TLS %v, authenticated as %q", m.tls, m.auth)
		}
	}
}

// Credentials go in clear only to a loopback server (the guard refuses any other host
// without TLS; isLoopback decides).
func TestAuthOnLoopback(t *testing.T) {
	ms := startServer(t, nil, "u", "p")
	s := &SMTPSender{Host: "localhost", Port: ms.port, Username: "u", Password: "p", Timeout: 5 * time.Second}
	if err := s.Send(context.Background(), "a@b.example", []string{"c@d.example"}, []byte("Subject: x\r\n\r\nx\r\n")); err != nil {
		t.Fatalf("loopback with auth: %v", err)
	}
	if got := ms.received(); len(got) != 1 || got[0].auth != "u" {
		t.Fatalf("received %+v", got)
	}
	s.Password = "wrong"
	if err := s.Send(context.Background(), "a@b.example", []string{"c@d.example"}, []byte("Subject: x\r\n\r\nx\r\n")); err == nil {
		t.Error("bad credentials accepted")
	}
	if !isLoopback("127.0.0.1") || !isLoopback("::1") || !isLoopback("localhost") || isLoopback("smtp.example.com") || isLoopback("192.0.2.1") {
		t.Error("isLoopback")
	}
}

func TestFinalPeriodsSkipped(t *testing.T) {
	dir := t.TempDir()
	// zero's January was final before thresholds were configured: no notification for it.
	conn := openRunWith(t, filepath.Join(dir, "w.duckdb"), "fixture.sql", "final.sql")
	got := outboxLines(t, run(t, conn, testConfig(), 1, filepath.Join(dir, "out")))
	if len(got) != 4 {
		t.Fatalf("%d notifications, want acme's 4", len(got))
	}
	for _, g := range got {
		if g["tenant_id"] != "acme" {
			t.Errorf("unexpected %v", g)
		}
	}
	// With no thresholds anywhere the outbox is an empty file.
	cfg := testConfig()
	for i := range cfg.Tenants {
		cfg.Tenants[i].Notify = schemas.Notify{}
	}
	conn2 := openRun(t, filepath.Join(dir, "w2.duckdb"), false)
	if b := run(t, conn2, cfg, 1, filepath.Join(dir, "out2")); len(b) != 0 {
		t.Errorf("outbox %q", b)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestDeliveryError: a failed send is recorded as a short text of our own, whatever the
// server or the network said.
func TestDeliveryError(t *testing.T) {
	wrap := func(stage string, err error) error {
		return &sendError{addr: "mail.example:587", stage: stage, err: err}
	}
	long := strings.Repeat("secret internal detail ", 1000)
	for _, c := range []struct {
		err  error
		want string
	}{
		{wrap(stageSend, &smtp.SMTPError{Code: 451, Message: long}), "smtp 451 temporary failure"},
		{wrap(stageSend, &smtp.SMTPError{Code: 550, Message: "5.1.1 <billing@acme.example>: user unknown"}), "smtp 550 permanent failure"},
		{wrap(stageAuth, &smtp.SMTPError{Code: 535, Message: "5.7.8 bad credentials for mailer"}), "smtp 535 authentication failed"},
		{wrap(stageAuth, &smtp.SMTPError{Code: 454, Message: "try later"}), "smtp 454 temporary failure"},
		{wrap(stageSend, &smtp.SMTPError{Code: 999, Message: long}), "smtp unexpected reply"},
		{wrap(stageDial, &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}), "connection refused"},
		{wrap(stageDial, &net.DNSError{Err: "no such host", Name: "mail.corp.internal", IsNotFound: true}), "host not found"},
		{wrap(stageDial, context.DeadlineExceeded), "timeout"},
		{wrap(stageSend, os.ErrDeadlineExceeded), "timeout"},
		{wrap(stageStartTLS, &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), "tls handshake failed"},
		{wrap(stageStartTLS, errors.New("smtp: server doesn't support STARTTLS")), "tls handshake failed"},
		{wrap(stageAuth, errCredentialsInClear), "credentials refused without tls"},
		{wrap(stageSend, io.ErrUnexpectedEOF), "connection lost"},
		{wrap(stageSend, syscall.ECONNRESET), "connection lost"},
		{errors.New(long), "delivery failed"},
	} {
		got := DeliveryError(c.err)
		if got != c.want {
			t.Errorf("DeliveryError(%.80v) = %q, want %q", c.err, got, c.want)
		}
		if strings.Contains(got, "secret") || strings.Contains(got, "corp") || len(got) > 40 {
			t.Errorf("DeliveryError leaks or grows: %q", got)
		}
	}
}

// TestFirstDeliverySuppressesFinalPeriods (issue 12): turning e-mail on for a deployment
// with history sent every pending notice at once (January's alerts in April). Given
// notifications recorded by runs without smtp:, when the first run with smtp: finalizes
// February while January was already final, then January's and February's pending
// notifications are suppressed with their reason (in the outbox, never sent) and only
// March's, whose period is open, are sent; a later run suppresses nothing more.
func TestFirstDeliverySuppressesFinalPeriods(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	wh := filepath.Join(dir, "w.duckdb")
	cfg := testConfig()

	// Run 1, without smtp: every crossing of January and February is recorded, pending.
	conn := openRun(t, wh, false)
	first := outboxLines(t, run(t, conn, cfg, 1, filepath.Join(dir, "out1")))
	if len(first) != 6 {
		t.Fatalf("run 1: %d notifications, want 6", len(first))
	}
	conn.Close()

	// Run 2, the first with smtp: January is final, the run finalizes February, March is open.
	ms := startServer(t, nil, "", "")
	cfg.SMTP = &schemas.SMTP{Host: "127.0.0.1", Port: ms.port, From: "billing@creditmeter.example"}
	sender := NewSMTPSender(cfg.SMTP)
	sender.Username, sender.Password = "", ""
	conn2 := openRun(t, wh, true)
	if _, err := conn2.ExecContext(ctx, `UPDATE cfg_periods SET was_final = period_idx = 0, finalize = period_idx <= 1`); err != nil {
		t.Fatal(err)
	}
	got := outboxLines(t, run(t, conn2, cfg, 2, filepath.Join(dir, "out2")))
	suppressed, pending := 0, 0
	for _, g := range got {
		switch g["status"] {
		case StatusSuppressed:
			suppressed++
			if g["period_start"] == "2026-03-01" {
				t.Errorf("an open period's notification suppressed: %v", g)
			}
			if r, _ := g["status_reason"].(string); !strings.Contains(r, "final when e-mail delivery was first enabled") {
				t.Errorf("status_reason %q", r)
			}
		case StatusPending:
			pending++
			if g["period_start"] != "2026-03-01" || g["status_reason"] != nil {
				t.Errorf("pending: %v", g)
			}
		default:
			t.Errorf("status %v", g)
		}
	}
	if suppressed != 6 || pending == 0 {
		t.Fatalf("run 2: %d suppressed, %d pending:\n%v", suppressed, pending, got)
	}
	sent, failed, err := Deliver(ctx, conn2, cfg, sender, time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), quietLog())
	if err != nil || sent != pending || failed != 0 {
		t.Fatalf("delivery: sent %d failed %d err %v, want %d sent", sent, failed, err, pending)
	}
	for _, m := range ms.received() {
		if !strings.Contains(decodeBody(t, m.data), "1 Mar 2026 – 31 Mar 2026") {
			t.Errorf("a message for another period than March:\n%s", decodeBody(t, m.data))
		}
	}

	// Run 3: delivery was enabled before; March is final now, nothing else is suppressed.
	if _, err := conn2.ExecContext(ctx, `UPDATE cfg_periods SET was_final = true, finalize = true`); err != nil {
		t.Fatal(err)
	}
	third := outboxLines(t, run(t, conn2, cfg, 3, filepath.Join(dir, "out3")))
	n := map[string]int{}
	for _, g := range third {
		n[g["status"].(string)]++
	}
	if n[StatusSuppressed] != 6 || n[StatusSent] != pending || len(third) != 6+pending {
		t.Errorf("run 3: %v", n)
	}
}

// decodedSubject reads a message's Subject header, RFC 2047 decoded.
func decodedSubject(t *testing.T, data string) string {
	t.Helper()
	for _, l := range strings.Split(data, "\r\n") {
		if v, ok := strings.CutPrefix(l, "Subject: "); ok {
			s, err := new(mime.WordDecoder).DecodeHeader(v)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	}
	t.Fatal("no Subject")
	return ""
}
