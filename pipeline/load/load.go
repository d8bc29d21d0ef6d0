// Package load puts fetched objects into the warehouse: every non-blank line becomes a row
// of lines, parsed in DuckDB (parse_lines.sql). A batch of objects is committed together
// with its manifest rows, or not at all.
package load

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/creditmeter/creditmeter/pipeline/pull"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// Loader loads batches of fetched objects on one warehouse connection.
type Loader struct {
	conn   *sql.Conn
	log    *slog.Logger
	runSeq int
}

// Config configures a Loader.
type Config struct {
	Conn   *sql.Conn
	Log    *slog.Logger
	RunSeq int
}

// New returns a Loader.
func New(cfg Config) (*Loader, error) {
	if cfg.Conn == nil {
		return nil, errors.New("new loader: no warehouse connection")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Loader{conn: cfg.Conn, log: cfg.Log, runSeq: cfg.RunSeq}, nil
}

// Known returns the manifest: key -> ETag of every object read before.
func Known(ctx context.Context, conn *sql.Conn) (map[string]string, error) {
	rows, err := warehouse.Query(ctx, conn, "known_objects.sql")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, e string
		if err := rows.Scan(&k, &e); err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		out[k] = e
	}
	return out, rows.Err()
}

// Batch loads the objects in one transaction and returns the number of event lines staged.
func (l *Loader) Batch(ctx context.Context, objs []pull.Fetched) (int64, error) {
	if len(objs) == 0 {
		return 0, nil
	}
	var lines int64
	err := warehouse.InTx(ctx, l.conn, func() error {
		n, err := l.batch(ctx, objs)
		lines = n
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("load batch: %w", err)
	}
	return lines, nil
}

// batch stages, parses and records the objects; Batch holds the transaction.
func (l *Loader) batch(ctx context.Context, objs []pull.Fetched) (lines int64, err error) {
	if err := warehouse.Exec(ctx, l.conn, "load_clear.sql"); err != nil {
		return 0, err
	}
	for _, o := range objs {
		if err := warehouse.Exec(ctx, l.conn, "load_replace.sql", o.Key); err != nil {
			return 0, err
		}
	}
	err = warehouse.Append(ctx, l.conn, "stage_objects", func(add func(...driver.Value) error) error {
		for _, o := range objs {
			var sum any
			if o.SHA256 != "" {
				sum = o.SHA256
			}
			if err := add(o.Key, o.ETag, o.Size, o.Format, sum); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	err = warehouse.Append(ctx, l.conn, "stage_files", func(add func(...driver.Value) error) error {
		for _, o := range objs {
			if o.Format == pull.FormatJSON {
				if err := add(o.Path, o.Key, o.Format); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, o := range objs {
		switch o.Format {
		case pull.FormatParquet:
			if err := warehouse.Exec(ctx, l.conn, "stage_parquet.sql", o.Path, o.Key); err != nil {
				return 0, fmt.Errorf("load object %s: %w", o.Key, err)
			}
		case pull.FormatCSV:
			if err := l.stageCSV(ctx, o); err != nil {
				return 0, err
			}
		case pull.FormatUsers:
			if err := warehouse.Exec(ctx, l.conn, "load_users.sql", o.Path, o.Key); err != nil {
				return 0, fmt.Errorf("load user directory %s: %w", o.Key, err)
			}
		}
	}
	if err := warehouse.Exec(ctx, l.conn, "load_json.sql"); err != nil {
		return 0, err
	}
	if err := warehouse.Exec(ctx, l.conn, "parse_lines.sql"); err != nil {
		return 0, err
	}
	if err := warehouse.Exec(ctx, l.conn, "load_commit.sql", l.runSeq); err != nil {
		return 0, err
	}
	rows, err := warehouse.Query(ctx, l.conn, "load_count.sql")
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		if err := rows.Scan(&lines); err != nil {
			_ = rows.Close()
			return 0, fmt.Errorf("count loaded lines: %w", err)
		}
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("count loaded lines: %w", err)
	}
	return lines, nil
}

// stageCSV turns each data row of a CSV object into a line whose doc is a JSON object of
// the row's non-empty fields (all strings; parse_lines.sql types them). A row that cannot be
// read, or has a different number of fields than the header, gets a NULL doc: malformed.
func (l *Loader) stageCSV(ctx context.Context, o pull.Fetched) error {
	data, err := os.ReadFile(o.Path)
	if err != nil {
		return fmt.Errorf("read object %s: %w", o.Key, err)
	}
	return warehouse.Append(ctx, l.conn, "stage_lines", func(add func(...driver.Value) error) error {
		return SplitCSV(data, func(line int64, raw string, doc []byte) error {
			var d any
			if doc != nil {
				d = string(doc)
			}
			return add(o.Key, line, pull.FormatCSV, raw, d)
		})
	})
}

// SplitCSV reads CSV text with a header row and calls emit for every non-blank data row
// with its line number (1 = header), its raw text and its fields as a JSON object (nil when
// the row is malformed).
func SplitCSV(data []byte, emit func(line int64, raw string, doc []byte) error) error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		// an unreadable header makes every line malformed
		return emitRawLines(data, emit)
	}
	names := make([]string, len(header))
	for i, h := range header {
		names[i] = strings.TrimSpace(h)
	}
	prev := r.InputOffset()
	obj := make(map[string]string, len(names))
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		end := r.InputOffset()
		raw := strings.Trim(string(data[prev:end]), "\r\n")
		var line int
		if err == nil {
			line, _ = r.FieldPos(0)
		} else {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return fmt.Errorf("read csv: %w", err)
			}
			line = pe.StartLine
		}
		prev = end
		if strings.TrimSpace(raw) == "" {
			continue
		}
		if err != nil || len(rec) != len(names) {
			if err := emit(int64(line), raw, nil); err != nil {
				return err
			}
			continue
		}
		clear(obj)
		for i, v := range rec {
			if v != "" {
				obj[names[i]] = v
			}
		}
		doc, jerr := json.Marshal(obj)
		if jerr != nil {
			return fmt.Errorf("encode csv row: %w", jerr)
		}
		if err := emit(int64(line), raw, doc); err != nil {
			return err
		}
	}
}

// emitRawLines reports every line after the header (the first non-blank line) as malformed.
func emitRawLines(data []byte, emit func(int64, string, []byte) error) error {
	header := true
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		if header {
			header = false
			continue
		}
		if err := emit(int64(i+1), l, nil); err != nil {
			return err
		}
	}
	return nil
}
