package parse

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// benchLines makes n lines shaped like the benchmark's (../shared/bench/gen appendEvent:
// a uuid-like event_id, offsets UTC, zoned or fixed, attributes with one or two integer keys,
// names with escapes in some).
func benchLines(n int) []byte {
	rng := rand.New(rand.NewPCG(42, 1))
	types := []struct{ typ, unit string }{{"ai_coaching_chat", "attempt"}, {"ai_coaching_voice", "second"},
		{"ai_video_presenter", "second"}, {"ai_lesson_generation", "lesson"}, {"ai_assistant", "request"},
		{"ai_assessment_generation", "assessment"}}
	shares := []float64{0.25, 0.15, 0.05, 0.15, 0.35, 0.05}
	firstNames := []string{"Anna", "Luca", "Maria", "John", "Priya", "Kenji", "Chloé", "Zoë"}
	lastNames := []string{"Rossi", "Smith", "Müller", "Nguyễn", "O'Brien", `Jo \"JJ\" Lee`, "García", "Kumar"}
	zones := []*time.Location{time.UTC, time.FixedZone("", 3600), time.FixedZone("", -5*3600), time.FixedZone("", 5*3600+1800)}
	var b []byte
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for range n {
		r := rng.Float64()
		k := 0
		for k < len(shares)-1 && r >= shares[k] {
			r -= shares[k]
			k++
		}
		m := types[k]
		tn := 1 + rng.IntN(1000)
		u := rng.IntN(500)
		tm := time.Unix(start+rng.Int64N(365*86400), 0).In(zones[rng.IntN(len(zones))])
		b = fmt.Appendf(b, `{"event_id":"%08x-%04x-4%03x-%04x-%012x"`, rng.Uint32(), rng.Uint32()&0xffff,
			rng.Uint32()&0xfff, 0x8000|rng.Uint32()&0x3fff, rng.Uint64()&0xffffffffffff)
		b = append(b, `,"occurred_at":"`...)
		b = tm.AppendFormat(b, time.RFC3339)
		b = fmt.Appendf(b, `","tenant_id":"t%04d","domain_name":"t%04d.learn.example","user_id":"u-t%04d-%d"`, tn, tn, tn, u)
		b = fmt.Appendf(b, `,"event_type":"%s","event_value":`, m.typ)
		attrs := ""
		switch m.typ {
		case "ai_coaching_voice":
			conf := 300 * (1 + rng.IntN(4))
			b = strconv.AppendInt(b, int64(rng.IntN(conf+1)), 10)
			attrs = fmt.Sprintf(`{"configured_seconds":%d}`, conf)
		case "ai_video_presenter":
			b = fmt.Appendf(b, "%d.5", 1+rng.IntN(600))
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
			firstNames[u%len(firstNames)], lastNames[(u/8)%len(lastNames)])
	}
	return b
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkJSONLines parses benchmark-shaped lines into record batches of 8192 rows (the
// batches are released at once: the loader's cost is not measured here).
func BenchmarkJSONLines(b *testing.B) {
	const n = 100_000
	data := benchLines(n)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	mem := memory.NewGoAllocator()
	var rows int64
	cpu0 := cpuTime()
	for b.Loop() {
		st, err := JSONLines(context.Background(), bytes.NewReader(data), Source{}, Limits{}, mem, 8192,
			func(rec arrow.RecordBatch) error { rec.Release(); return nil })
		if err != nil || st.Lines != n {
			b.Fatalf("%v, %d lines", err, st.Lines)
		}
		rows += st.Lines
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "lines/s")
	// CPU time of the whole process (GC included): the cost of a line whatever else the
	// machine runs, where wall time is not
	b.ReportMetric(float64(rows)/(cpuTime()-cpu0).Seconds(), "lines/cpu-s")
	b.ReportMetric(float64(len(data))/n, "B/line")
}
