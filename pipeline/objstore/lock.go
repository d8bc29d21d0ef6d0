package objstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// LockKey is where the run lock lives under an output.
const LockKey = "locks/run.lock"

// ErrLockHeld is returned by Lock when another owner holds an unexpired lock.
var ErrLockHeld = errors.New("another run holds the lock")

// errConflict is a lock backend's "the lock is not in the state you expected".
var errConflict = errors.New("lock changed concurrently")

// LockInfo is the content of a lock object.
type LockInfo struct {
	Owner    string    `json:"owner"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
}

// HeldError says who holds the lock; it matches ErrLockHeld.
type HeldError struct {
	Key    string
	Holder LockInfo
}

// Error says who holds the lock and until when.
func (e *HeldError) Error() string {
	return fmt.Sprintf("%s (%s: owner %q, expires %s)", ErrLockHeld, e.Key, e.Holder.Owner, e.Holder.Expires.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLockHeld) true.
func (e *HeldError) Is(target error) bool { return target == ErrLockHeld }

// lockBackend is the compare-and-swap a store offers on one key. version identifies a
// state of the lock object (an ETag, a checksum).
type lockBackend interface {
	// read returns the lock's content and version; ErrNotFound when there is none.
	read(ctx context.Context) ([]byte, string, error)
	// create writes the lock only if there is none (errConflict otherwise).
	create(ctx context.Context, data []byte) (string, error)
	// replace writes the lock only if it is still at version (errConflict otherwise).
	replace(ctx context.Context, data []byte, version string) (string, error)
	// remove deletes the lock only if it is still at version (errConflict otherwise).
	remove(ctx context.Context, version string) error
}

type locker interface {
	lockBackend(key string) lockBackend
}

// LockOptions tunes Lock.
type LockOptions struct {
	Key string           // "": LockKey
	TTL time.Duration    // how long the lock stands without renewal (0: 15 minutes)
	Now func() time.Time // nil: time.Now
	// RenewEvery is how often the lease is extended while held (0: TTL/3; <0: never).
	RenewEvery time.Duration
}

// Lease is a held lock. It is renewed in the background until Release.
type Lease struct {
	b       lockBackend
	key     string
	info    LockInfo
	version string
	opts    LockOptions

	mu      sync.Mutex
	stop    chan struct{}
	done    chan struct{}
	lost    chan struct{}
	lostErr error
}

// Lock takes the run lock of a store for owner: it creates the lock object if there is
// none (a conditional write: If-None-Match: * on S3, an exclusive create locally), takes it
// over if it has expired (a conditional write on the expired version) and otherwise fails
// with a *HeldError (errors.Is ErrLockHeld).
func Lock(ctx context.Context, s Store, owner string, o LockOptions) (*Lease, error) {
	lk, ok := s.(locker)
	if !ok {
		return nil, fmt.Errorf("lock %s: the store does not support locking", s)
	}
	if o.Key == "" {
		o.Key = LockKey
	}
	if o.TTL <= 0 {
		o.TTL = 15 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RenewEvery == 0 {
		o.RenewEvery = o.TTL / 3
	}
	b := lk.lockBackend(o.Key)
	now := o.Now().UTC()
	info := LockInfo{Owner: owner, Acquired: now, Expires: now.Add(o.TTL)}
	data, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Lease, error) { return nil, fmt.Errorf("lock %s%s: %w", s, o.Key, err) }
	for attempt := 0; attempt < 3; attempt++ {
		version, err := b.create(ctx, data)
		if err == nil {
			return newLease(b, o, info, version), nil
		}
		if !errors.Is(err, errConflict) {
			return fail(err)
		}
		cur, curVersion, err := b.read(ctx)
		if errors.Is(err, ErrNotFound) {
			continue // released meanwhile
		}
		if err != nil {
			return fail(err)
		}
		var held LockInfo
		if jerr := json.Unmarshal(cur, &held); jerr == nil && now.Before(held.Expires) {
			return nil, &HeldError{Key: s.String() + o.Key, Holder: held}
		}
		// expired (or unreadable): take it over, unless someone else does first
		version, err = b.replace(ctx, data, curVersion)
		if err == nil {
			return newLease(b, o, info, version), nil
		}
		if !errors.Is(err, errConflict) {
			return fail(err)
		}
	}
	cur, _, err := b.read(ctx)
	var held LockInfo
	if err == nil && json.Unmarshal(cur, &held) == nil {
		return nil, &HeldError{Key: s.String() + o.Key, Holder: held}
	}
	return nil, &HeldError{Key: s.String() + o.Key}
}

func newLease(b lockBackend, o LockOptions, info LockInfo, version string) *Lease {
	l := &Lease{b: b, key: o.Key, info: info, version: version, opts: o,
		stop: make(chan struct{}), done: make(chan struct{}), lost: make(chan struct{})}
	if o.RenewEvery > 0 {
		go l.renew()
	} else {
		close(l.done)
	}
	return l
}

// Info is the lock as written by this lease.
func (l *Lease) Info() LockInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.info
}

// Lost is closed when a renewal finds the lock taken by someone else.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Err says why the lease was lost.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lostErr
}

func (l *Lease) renew() {
	defer close(l.done)
	t := time.NewTicker(l.opts.RenewEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.opts.RenewEvery)
		err := l.extend(ctx)
		cancel()
		if errors.Is(err, errConflict) {
			l.mu.Lock()
			l.lostErr = fmt.Errorf("lost the run lock %s: another owner took it over", l.key)
			l.mu.Unlock()
			close(l.lost)
			return
		}
		// other errors: try again at the next tick; the lock stands until it expires
	}
}

func (l *Lease) extend(ctx context.Context) error {
	l.mu.Lock()
	info := l.info
	version := l.version
	l.mu.Unlock()
	info.Expires = l.opts.Now().UTC().Add(l.opts.TTL)
	data, err := json.Marshal(info)
	if err != nil {
		return err
	}
	v, err := l.b.replace(ctx, data, version)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.info, l.version = info, v
	l.mu.Unlock()
	return nil
}

// Release stops renewing and deletes the lock, if it is still this lease's.
func (l *Lease) Release(ctx context.Context) error {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
	select {
	case <-l.lost:
		return nil
	default:
	}
	l.mu.Lock()
	version := l.version
	l.mu.Unlock()
	if err := l.b.remove(ctx, version); err != nil && !errors.Is(err, errConflict) && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("release lock %s: %w", l.key, err)
	}
	return nil
}
