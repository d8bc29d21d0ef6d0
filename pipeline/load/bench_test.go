package load_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/creditmeter/creditmeter/pipeline/load"
	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/pull"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// benchMix is the event mix of ../shared/bench/gen: type, unit, share.
var benchMix = []struct {
	typ, unit string
	share     float64
}{
	{"ai_coaching_chat", "attempt", 0.25},
	{"ai_coaching_voice", "second", 0.15},
	{"ai_video_presenter", "second", 0.05},
	{"ai_lesson_generation", "lesson", 0.15},
	{"ai_assistant", "request", 0.35},
	{"ai_assessment_generation", "assessment", 0.05},
}

var (
	benchFirstNames = []string{"Anna", "Luca", "Maria", "John", "Priya", "Kenji", "Chloé", "Zoë"}
	benchLastNames  = []string{"Rossi", "Smith", "Müller", "Nguyễn", "O'Brien", `Jo \"JJ\" Lee`, "García", "Kumar"}
	benchZones      = []*time.Location{time.UTC, time.FixedZone("", 3600), time.FixedZone("", -5*3600),
		time.FixedZone("", -8*3600), time.FixedZone("", 10*3600), time.FixedZone("", 5*3600+1800)}
)

// appendBenchEvent appends one line shaped like ../shared/bench/gen's appendEvent: a
// uuid-like event_id, an instant in one of several offsets, the six event types with their
// values and attributes, preview absent, false or (3%) true, names with UTF-8 and a \"
// escape.
func appendBenchEvent(b []byte, rng *rand.Rand, tenant, users int, tm time.Time) []byte {
	r := rng.Float64()
	m := benchMix[len(benchMix)-1]
	for _, x := range benchMix {
		if r < x.share {
			m = x
			break
		}
		r -= x.share
	}
	u := rng.IntN(users)
	t := fmt.Sprintf("t%04d", tenant)
	b = fmt.Appendf(b, `{"event_id":"%08x-%04x-4%03x-%04x-%012x"`, rng.Uint32(), rng.Uint32()&0xffff,
		rng.Uint32()&0xfff, 0x8000|rng.Uint32()&0x3fff, rng.Uint64()&0xffffffffffff)
	b = append(b, `,"occurred_at":"`...)
	b = tm.AppendFormat(b, time.RFC3339)
	b = fmt.Appendf(b, `","tenant_id":"%s","domain_name":"%s.learn.example","user_id":"u-%s-%d"`, t, t, t, u)
	b = fmt.Appendf(b, `,"event_type":"%s","event_value":`, m.typ)
	attrs := ""
	switch m.typ {
	case "ai_coaching_voice":
		conf := 300 * (1 + rng.IntN(4))
		v := rng.IntN(conf + 1)
		if rng.Float64() < 0.05 {
			v = conf * 3 / 10
		}
		b = strconv.AppendInt(b, int64(v), 10)
		attrs = fmt.Sprintf(`{"configured_seconds":%d}`, conf)
	case "ai_video_presenter":
		v := 1 + rng.IntN(600)
		switch r := rng.Float64(); {
		case r < 0.05:
			b = strconv.AppendInt(b, int64(60*(1+rng.IntN(10))), 10)
		case r < 0.25:
			b = fmt.Appendf(b, "%d.5", v)
		default:
			b = strconv.AppendInt(b, int64(v), 10)
		}
	case "ai_assistant":
		b = append(b, '1')
		attrs = fmt.Sprintf(`{"input_tokens":%d,"output_tokens":%d}`, 10+rng.IntN(4000), 10+rng.IntN(2000))
	default:
		b = append(b, '1')
	}
	b = fmt.Appendf(b, `,"event_unit":"%s"`, m.unit)
	switch r := rng.Float64(); {
	case r < 0.03:
		b = append(b, `,"preview":true`...)
	case r < 0.5:
		b = append(b, `,"preview":false`...)
	}
	if attrs != "" {
		b = append(b, `,"attributes":`...)
		b = append(b, attrs...)
	}
	b = fmt.Appendf(b, `,"username":"user%d","first_name":"%s","last_name":"%s"}`+"\n", u,
		benchFirstNames[u%len(benchFirstNames)], benchLastNames[(u/8)%len(benchLastNames)])
	return b
}

// benchObjects writes n benchmark-shaped lines as files gzip-compressed JSON Lines objects
// (time windows of 2026, like the generator's) and returns their plain size.
func benchObjects(tb testing.TB, dir string, n, files int) int64 {
	tb.Helper()
	rng := rand.New(rand.NewPCG(42, 1))
	const tenants = 1000
	users := make([]int, tenants)
	for i := range users {
		users[i] = 5 + rng.IntN(200)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	window := 365 * 24 * time.Hour / time.Duration(files)
	var plain int64
	for f := range files {
		var text []byte
		for range n / files {
			tm := start.Add(time.Duration(f)*window + time.Duration(rng.Int64N(int64(window))))
			tm = tm.Truncate(time.Second).In(benchZones[rng.IntN(len(benchZones))])
			tn := rng.IntN(tenants)
			text = appendBenchEvent(text, rng, tn, users[tn], tm)
		}
		plain += int64(len(text))
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		if _, err := w.Write(text); err != nil {
			tb.Fatal(err)
		}
		if err := w.Close(); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("events-%04d.jsonl.gz", f)), b.Bytes(), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return plain
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLoad loads 200k benchmark-shaped lines in 4 gzip objects into a new warehouse
// file: stream, parse, stage, rank identities, commit, then CHECKPOINT (what a run's load
// leaves on disk; ../shared/bench's DuckDB load ends with one too). Opening the warehouse
// is not timed. Compare lines/s with the "load" rows of ../shared/bench/RESULTS.md.
func BenchmarkLoad(b *testing.B) {
	const n, files = 200_000, 4
	ctx := context.Background()
	dir := b.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		b.Fatal(err)
	}
	plain := benchObjects(b, src, n, files)
	store, err := objstore.NewLocal(src)
	if err != nil {
		b.Fatal(err)
	}
	listing, err := store.List(ctx)
	if err != nil {
		b.Fatal(err)
	}
	todo, _, _ := pull.Plan(listing, map[string]string{}, 0)
	var stored int64
	for _, o := range listing {
		stored += o.Size
	}
	b.SetBytes(plain)
	b.ReportAllocs()
	var lines int64
	var cpu, checkpoint time.Duration
	for i := range b.N {
		b.StopTimer()
		run := filepath.Join(dir, "run"+strconv.Itoa(i))
		stage := filepath.Join(run, "stage")
		if err := os.MkdirAll(stage, 0o755); err != nil {
			b.Fatal(err)
		}
		db, err := warehouse.Open(ctx, filepath.Join(run, "warehouse.duckdb"))
		if err != nil {
			b.Fatal(err)
		}
		conn, err := db.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		cpu0 := cpuTime()
		b.StartTimer()

		ld, err := load.New(ctx, load.Config{Conn: conn, RunSeq: 1, StageDir: stage})
		if err != nil {
			b.Fatal(err)
		}
		res, err := ld.Batch(ctx, store, todo, 1, nil)
		if err != nil {
			b.Fatal(err)
		}
		ck := time.Now()
		if _, err := conn.ExecContext(ctx, "CHECKPOINT"); err != nil {
			b.Fatal(err)
		}
		checkpoint += time.Since(ck)

		b.StopTimer()
		cpu += cpuTime() - cpu0
		if res.Lines != n || res.Objects != files {
			b.Fatalf("Batch = %+v, want %d lines in %d objects", res, n, files)
		}
		lines += res.Lines
		_ = conn.Close()
		_ = db.Close()
		_ = os.RemoveAll(run)
		b.StartTimer()
	}
	b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "lines/s")
	// CPU time of the whole process (DuckDB's threads included): the cost of a line whatever
	// else the machine runs, where wall time is not
	b.ReportMetric(float64(lines)/cpu.Seconds(), "lines/cpu-s")
	b.ReportMetric(checkpoint.Seconds()/float64(b.N), "checkpoint-s/op")
	b.ReportMetric(float64(plain)/n, "B/line")
	b.ReportMetric(float64(stored)/n, "gzB/line")
}
