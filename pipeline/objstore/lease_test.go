package objstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// flakyBackend is a lock backend whose renewals fail with a transient error.
type flakyBackend struct{}

func (flakyBackend) read(context.Context) ([]byte, string, error)   { return nil, "", ErrNotFound }
func (flakyBackend) create(context.Context, []byte) (string, error) { return "v1", nil }
func (flakyBackend) replace(context.Context, []byte, string) (string, error) {
	return "", errors.New("503 slow down")
}
func (flakyBackend) remove(context.Context, string) error { return nil }

// TestLeaseLostBeforeExpiryWhenRenewalsFail: a lease whose renewals keep failing gives up
// before it expires, when the next attempt would come too late; it used to keep the run
// going past its expiry, while a run elsewhere could take the lock over.
func TestLeaseLostBeforeExpiryWhenRenewalsFail(t *testing.T) {
	ttl := 3 * time.Second
	now := time.Now().UTC()
	o := LockOptions{Key: LockKey, TTL: ttl, RenewEvery: ttl / 3, Now: time.Now}
	l := newLease(flakyBackend{}, o, "out/locks/run.lock", LockInfo{Owner: "run", Acquired: now, Expires: now.Add(ttl)}, "v1", nil)
	defer l.Release(context.Background())
	select {
	case <-l.Lost():
		if at := time.Now(); !at.Before(now.Add(ttl)) {
			t.Errorf("lost at %v, after the lease expired", at.Sub(now))
		}
		if err := l.Err(); err == nil || !strings.Contains(err.Error(), "503 slow down") {
			t.Errorf("Err() = %v", err)
		}
	case <-time.After(3 * ttl):
		t.Fatal("a lease that cannot be renewed is never lost")
	}
}
