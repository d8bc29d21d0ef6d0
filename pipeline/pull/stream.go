package pull

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/klauspost/compress/gzip"

	"github.com/creditmeter/creditmeter/pipeline/objstore"
)

// ErrUnreadable marks an object whose content cannot be read as a whole: a corrupt or
// truncated gzip stream, or more bytes than the limit. The object is quarantined as
// unreadable_object (BILLING.md section 2) and the run goes on.
var ErrUnreadable = errors.New("unreadable object")

// SourceError is a failure of the store itself (the network, the server): the run fails
// and the next one reads the object again. It is never a reason to quarantine.
type SourceError struct{ Err error }

// Error returns the store's error text.
func (e *SourceError) Error() string { return e.Err.Error() }

// Unwrap returns the store's error.
func (e *SourceError) Unwrap() error { return e.Err }

// Stream is an open object: its plain text, decompressed as it is read, at most Limit
// bytes of it. Close it; after the text is read to the end, SHA256 is the checksum of the
// object's bytes as stored.
type Stream struct {
	raw   *rawReader
	text  io.Reader
	gz    *gzip.Reader
	limit int64
	n     int64
	key   string
}

// Open starts reading an object. limit bounds both its stored and its decompressed size:
// past it, reading fails with ErrUnreadable (a 14 MB gzip that expands to 3 GB is never
// expanded whole). An object whose listed size is already past the limit is refused before
// any byte is read.
func Open(ctx context.Context, store objstore.Store, o Todo, limit int64) (*Stream, error) {
	if limit > 0 && o.Size > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than limits.max_object_bytes (%d)", ErrUnreadable, o.Display, o.Size, limit)
	}
	body, err := store.Get(ctx, o.Key)
	if err != nil {
		return nil, &SourceError{fmt.Errorf("read object %s: %w", o.Display, err)}
	}
	s := &Stream{raw: &rawReader{r: body, h: sha256.New(), closer: body}, limit: limit, key: o.Display}
	s.text = s.raw
	if Gzipped(o.Key) && o.Format != FormatParquet {
		zr, err := gzip.NewReader(bufio.NewReaderSize(s.raw, 64<<10))
		if err != nil {
			_ = body.Close()
			if s.raw.err != nil {
				return nil, &SourceError{fmt.Errorf("read object %s: %w", o.Display, s.raw.err)}
			}
			return nil, fmt.Errorf("%w: %s is not a readable gzip stream (%v)", ErrUnreadable, o.Display, err)
		}
		zr.Multistream(true)
		s.gz, s.text = zr, zr
	}
	return s, nil
}

// Read reads decompressed text.
func (s *Stream) Read(p []byte) (int, error) {
	if s.limit > 0 {
		left := s.limit - s.n
		if left <= 0 {
			// one byte more tells a stream of exactly the limit from a longer one
			var one [1]byte
			for {
				n, err := s.text.Read(one[:])
				if n > 0 {
					return 0, fmt.Errorf("%w: %s expands to more than limits.max_object_bytes (%d)", ErrUnreadable, s.key, s.limit)
				}
				if err != nil {
					return 0, s.classify(err)
				}
			}
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := s.text.Read(p)
	s.n += int64(n)
	if err != nil {
		return n, s.classify(err)
	}
	return n, nil
}

// classify tells a failure of the store from a defect of the content.
func (s *Stream) classify(err error) error {
	if err == io.EOF {
		return err
	}
	if s.raw.err != nil {
		return &SourceError{fmt.Errorf("read object %s: %w", s.key, s.raw.err)}
	}
	return fmt.Errorf("%w: %s: %v", ErrUnreadable, s.key, err)
}

// Size is the number of plain bytes read so far.
func (s *Stream) Size() int64 { return s.n }

// Finish reads whatever of the stored bytes is left unread (gzip trailers, an early end of
// the parser) into the checksum, and returns the checksum of the object as stored.
func (s *Stream) Finish() (string, error) {
	if _, err := io.Copy(io.Discard, s.raw); err != nil {
		return "", &SourceError{fmt.Errorf("read object %s: %w", s.key, err)}
	}
	return hex.EncodeToString(s.raw.h.Sum(nil)), nil
}

// Close releases the object.
func (s *Stream) Close() error {
	if s.gz != nil {
		_ = s.gz.Close()
	}
	return s.raw.closer.Close()
}

// rawReader hashes the stored bytes and remembers an error of the store.
type rawReader struct {
	r      io.Reader
	h      hash.Hash
	closer io.Closer
	err    error
}

func (r *rawReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	_, _ = r.h.Write(p[:n])
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}
