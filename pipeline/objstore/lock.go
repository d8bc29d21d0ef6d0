package objstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// LockKey is where the run lock lives under an output.
const LockKey = "locks/run.lock"

// ErrLockHeld is returned by Lock when another owner holds an unexpired lock.
var ErrLockHeld = errors.New("another run holds the lock")

// errConflict is a lock backend's "the lock is not in the state you expected".
var errConflict = errors.New("lock changed concurrently")

// DefaultLockTTL is how long the run lock stands without renewal unless LockOptions says
// otherwise; MaxLockTTL is the longest lease a run may take.
const (
	DefaultLockTTL = 2 * time.Minute
	MaxLockTTL     = time.Hour
)

// maxLockBytes bounds what is read of a lock object: a lock is a few hundred bytes.
const maxLockBytes = 64 << 10

// LockInfo is the content of a lock object. Host, BootID, PIDNS, PID and PIDStart name the
// holder's process, so that a run on the same machine can tell a holder that died (its
// process is gone, or its pid now belongs to a process started at another time) and take
// the lock over at once; a run elsewhere waits for Expires.
type LockInfo struct {
	Owner    string    `json:"owner"`
	Host     string    `json:"host,omitempty"`
	BootID   string    `json:"boot_id,omitempty"`
	PIDNS    string    `json:"pid_ns,omitempty"`
	PID      int       `json:"pid,omitempty"`
	PIDStart string    `json:"pid_start,omitempty"` // /proc/<pid>/stat field 22: clock ticks after boot
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
}

// HeldError says who holds the lock; it matches ErrLockHeld.
type HeldError struct {
	Key    string // where the lock is: <store>/locks/run.lock
	Holder LockInfo
}

// Error says who holds the lock and until when.
func (e *HeldError) Error() string {
	who := fmt.Sprintf("owner %q", e.Holder.Owner)
	if e.Holder.Host != "" && e.Holder.PID > 0 {
		who += fmt.Sprintf(" on host %q pid %d", e.Holder.Host, e.Holder.PID)
	}
	return fmt.Sprintf("%s (%s: %s, expires %s)", ErrLockHeld, e.Key, who, e.Holder.Expires.UTC().Format(time.RFC3339))
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
	TTL time.Duration    // how long the lock stands without renewal (0: DefaultLockTTL; at most MaxLockTTL)
	Now func() time.Time // nil: time.Now
	// RenewEvery is how often the lease is extended while held (0: TTL/3; <0: never).
	RenewEvery time.Duration
	// Log hears of a lock taken over from a dead run (nil: slog.Default()).
	Log *slog.Logger
}

// lockName is where a store's lock is, for messages: <store>/locks/run.lock.
func lockName(s Store, key string) string {
	if l, ok := s.(*Local); ok {
		return l.Path(key)
	}
	return strings.TrimSuffix(s.String(), "/") + "/" + key
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

	name     string    // where the lock is, for messages
	previous *LockInfo // the dead run's lock this lease took over, if any
}

// Lock takes the run lock of a store for owner: it creates the lock object if there is
// none (a conditional write: If-None-Match: * on S3, an exclusive create locally) and
// otherwise looks at the holder. A holder on this machine whose process is gone, or whose
// lease has expired (a holder elsewhere: once its lease has expired), is a dead run: its
// lock is taken over (a conditional write on the version read) and a warning names it.
// A live holder makes Lock fail with a *HeldError (errors.Is ErrLockHeld). A lock whose
// expiry lies further ahead than any lease could is refused with another error, so that it
// is noticed rather than obeyed for years.
func Lock(ctx context.Context, s Store, owner string, o LockOptions) (*Lease, error) {
	lk, ok := s.(locker)
	if !ok {
		return nil, fmt.Errorf("lock %s: the store does not support locking", s)
	}
	if o.Key == "" {
		o.Key = LockKey
	}
	if o.TTL <= 0 {
		o.TTL = DefaultLockTTL
	}
	if o.TTL > MaxLockTTL {
		return nil, fmt.Errorf("lock %s: lease of %v is longer than %v", lockName(s, o.Key), o.TTL, MaxLockTTL)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RenewEvery == 0 {
		o.RenewEvery = o.TTL / 3
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	name := lockName(s, o.Key)
	b := lk.lockBackend(o.Key)
	now := o.Now().UTC()
	m := thisMachine()
	info := LockInfo{Owner: owner, Host: m.Host, BootID: m.BootID, PIDNS: m.PIDNS, PID: os.Getpid(),
		Acquired: now, Expires: now.Add(o.TTL)}
	if start, _, err := processStart(info.PID); err == nil {
		info.PIDStart = start
	}
	data, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Lease, error) { return nil, fmt.Errorf("lock %s: %w", name, err) }
	var held LockInfo
	for attempt := 0; attempt < 3; attempt++ {
		version, err := b.create(ctx, data)
		if err == nil {
			return newLease(b, o, name, info, version, nil), nil
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
		held = LockInfo{}
		var why string
		switch jerr := json.Unmarshal(cur, &held); {
		case jerr != nil:
			why = "its content is not a lock"
		case sameMachine(held):
			if gone, reason := holderGone(held); gone {
				why = reason
			} else if now.Before(held.Expires) {
				return nil, &HeldError{Key: name, Holder: held}
			} else {
				why = "its lease expired " + held.Expires.UTC().Format(time.RFC3339)
			}
		case held.Expires.After(now.Add(2 * MaxLockTTL)):
			return fail(fmt.Errorf("held by %q until %s, further ahead than any lease (%v) allows: remove the lock if no run is going",
				held.Owner, held.Expires.UTC().Format(time.RFC3339), MaxLockTTL))
		case now.Before(held.Expires):
			return nil, &HeldError{Key: name, Holder: held}
		default:
			why = "its lease expired " + held.Expires.UTC().Format(time.RFC3339)
		}
		// a dead run's lock: take it over, unless someone else does first
		version, err = b.replace(ctx, data, curVersion)
		if err == nil {
			o.Log.Warn("took over the run lock of a dead run", "lock", name, "dead_owner", held.Owner,
				"dead_host", held.Host, "dead_pid", held.PID, "why", why)
			prev := held
			return newLease(b, o, name, info, version, &prev), nil
		}
		if !errors.Is(err, errConflict) {
			return fail(err)
		}
	}
	cur, _, err := b.read(ctx)
	held = LockInfo{}
	if err == nil && json.Unmarshal(cur, &held) == nil {
		return nil, &HeldError{Key: name, Holder: held}
	}
	return nil, &HeldError{Key: name}
}

func newLease(b lockBackend, o LockOptions, name string, info LockInfo, version string, previous *LockInfo) *Lease {
	l := &Lease{b: b, key: o.Key, name: name, info: info, version: version, opts: o, previous: previous,
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

// TookOver returns the lock of the dead run this lease took over, if it did.
func (l *Lease) TookOver() (LockInfo, bool) {
	if l.previous == nil {
		return LockInfo{}, false
	}
	return *l.previous, true
}

// Lost is closed when a renewal finds the lock taken by someone else, or when renewals fail
// until the lock would expire before the next attempt: the run must stop then.
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
		if err == nil {
			continue
		}
		if errors.Is(err, errConflict) {
			l.lose(fmt.Errorf("lost the run lock %s: another owner took it over", l.name))
			return
		}
		// Other errors: try again at the next tick, while the lock stands. If it would expire
		// before then, another run may take it over: this one must stop.
		if expires := l.Info().Expires; !l.opts.Now().Add(l.opts.RenewEvery).Before(expires) {
			l.lose(fmt.Errorf("lost the run lock %s: not renewed before it expires at %s: %w",
				l.name, expires.UTC().Format(time.RFC3339), err))
			return
		}
	}
}

func (l *Lease) lose(err error) {
	l.mu.Lock()
	l.lostErr = err
	l.mu.Unlock()
	close(l.lost)
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
		return fmt.Errorf("release lock %s: %w", l.name, err)
	}
	return nil
}
