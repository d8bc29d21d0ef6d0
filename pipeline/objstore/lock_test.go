package objstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creditmeter/creditmeter/pipeline/objstore"
)

// lockStores are a local output and an S3 one, each with no lock yet.
func lockStores(t *testing.T, bucket string) map[string]objstore.Store {
	t.Helper()
	ctx := context.Background()
	local, err := objstore.NewLocal(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	newBucket(t, ctx, bucket)
	s3, err := srv.Store(ctx, "s3://"+bucket+"/out")
	if err != nil {
		t.Fatal(err)
	}
	_ = s3.Delete(ctx, objstore.LockKey) // from an earlier -count repetition
	return map[string]objstore.Store{"local": local, "s3": s3}
}

// putLock writes a lock object as another run would have left it.
func putLock(t *testing.T, st objstore.Store, info objstore.LockInfo) {
	t.Helper()
	data, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(context.Background(), objstore.LockKey, bytes.NewReader(data), int64(len(data)), "application/json"); err != nil {
		t.Fatal(err)
	}
}

// TestLockTakeoverFromDeadProcess: a lock whose holder runs on this machine stands while
// its process lives, and is taken over at once when the process is gone (a crashed run
// blocked the next ones for 15 minutes while they exited 0), with a warning naming it.
func TestLockTakeoverFromDeadProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("process start times come from /proc")
	}
	ctx := context.Background()
	for name, st := range lockStores(t, "deadlock") {
		t.Run(name, func(t *testing.T) {
			// Given a run (a real child process) holding the lock, with a lease good for 10 minutes
			child := exec.Command("sleep", "60")
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
			holder, err := objstore.HolderOfProcess(child.Process.Pid)
			if err != nil {
				t.Fatal(err)
			}
			holder.Owner = "crashed-run"
			holder.Acquired = time.Now().UTC()
			holder.Expires = holder.Acquired.Add(10 * time.Minute)
			putLock(t, st, holder)

			// When another run tries while the holder lives, Then it is refused, naming the
			// holder and the lock at <store>/locks/run.lock
			var logs bytes.Buffer
			opts := objstore.LockOptions{RenewEvery: -1, Log: slog.New(slog.NewTextHandler(&logs, nil))}
			_, err = objstore.Lock(ctx, st, "run-b", opts)
			var held *objstore.HeldError
			if !errors.As(err, &held) || held.Holder.Owner != "crashed-run" {
				t.Fatalf("lock with a live holder: %v", err)
			}
			want := strings.TrimSuffix(st.String(), "/") + "/locks/run.lock"
			if l, ok := st.(*objstore.Local); ok {
				want = filepath.Join(l.Root(), "locks", "run.lock")
			}
			if held.Key != want || !strings.Contains(err.Error(), want+":") {
				t.Errorf("lock named %q in %q, want %q", held.Key, err, want)
			}

			// When the holder is killed, Then the next run takes the lock over at once
			if err := child.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = child.Wait()
			lease, err := objstore.Lock(ctx, st, "run-c", opts)
			if err != nil {
				t.Fatalf("lock of a dead holder not taken over: %v", err)
			}
			if prev, ok := lease.TookOver(); !ok || prev.Owner != "crashed-run" {
				t.Errorf("TookOver = %+v, %v", prev, ok)
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "crashed-run") {
				t.Errorf("takeover not logged as a warning naming the dead owner:\n%s", logs.String())
			}
			if info := lease.Info(); info.Owner != "run-c" || info.PID != os.Getpid() || info.PIDStart == "" || info.Host == "" {
				t.Errorf("new holder %+v", info)
			}
			if err := lease.Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLockHolderIdentity: a holder whose pid now belongs to another process (pid reuse) is
// dead; a holder on another host is obeyed until its lease expires, however dead its pid
// looks here; a lock whose expiry lies years ahead is refused loudly, not obeyed.
func TestLockHolderIdentity(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("process start times come from /proc")
	}
	ctx := context.Background()
	now := time.Now().UTC()
	for name, st := range lockStores(t, "lockident") {
		t.Run(name, func(t *testing.T) {
			opts := objstore.LockOptions{RenewEvery: -1, Log: slog.New(slog.DiscardHandler)}
			self, err := objstore.HolderOfProcess(os.Getpid())
			if err != nil {
				t.Fatal(err)
			}
			// pid reused: this very process, but "started" at another time
			reused := self
			reused.Owner, reused.PIDStart = "old-run", "1"
			reused.Acquired, reused.Expires = now, now.Add(10*time.Minute)
			putLock(t, st, reused)
			lease, err := objstore.Lock(ctx, st, "run-d", opts)
			if err != nil {
				t.Fatalf("holder with a reused pid: %v", err)
			}
			_ = lease.Release(ctx)

			// this very process with its true start time: alive
			live := self
			live.Owner, live.Acquired, live.Expires = "live-run", now, now.Add(10*time.Minute)
			putLock(t, st, live)
			if _, err := objstore.Lock(ctx, st, "run-e", opts); !errors.Is(err, objstore.ErrLockHeld) {
				t.Errorf("live holder on this machine: %v", err)
			}

			// another host: its pid means nothing here; the lease decides
			other := objstore.LockInfo{Owner: "remote-run", Host: "elsewhere.example", PID: 999999999, PIDStart: "5",
				Acquired: now, Expires: now.Add(10 * time.Minute)}
			putLock(t, st, other)
			if _, err := objstore.Lock(ctx, st, "run-f", opts); !errors.Is(err, objstore.ErrLockHeld) {
				t.Errorf("live lease elsewhere: %v", err)
			}
			other.Expires = now.Add(-time.Second)
			putLock(t, st, other)
			lease, err = objstore.Lock(ctx, st, "run-g", opts)
			if err != nil {
				t.Fatalf("expired lease elsewhere: %v", err)
			}
			_ = lease.Release(ctx)

			// a lock "held" until 2099: an error (exit 1), not a skipped run (exit 0)
			other.Expires = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
			putLock(t, st, other)
			_, err = objstore.Lock(ctx, st, "run-h", opts)
			if err == nil || errors.Is(err, objstore.ErrLockHeld) || !strings.Contains(err.Error(), "remove the lock") {
				t.Errorf("lock held until 2099: %v", err)
			}
			// odd pids are never signalled as process groups
			for _, pid := range []int{0, -1} {
				odd := self
				odd.PID, odd.Owner, odd.Acquired, odd.Expires = pid, "odd", now, now.Add(10*time.Minute)
				putLock(t, st, odd)
				if _, err := objstore.Lock(ctx, st, "run-i", opts); !errors.Is(err, objstore.ErrLockHeld) {
					t.Errorf("pid %d: %v", pid, err)
				}
			}
			// content that is no lock at all: taken over
			if err := st.Put(ctx, objstore.LockKey, strings.NewReader("garbage"), 7, "text/plain"); err != nil {
				t.Fatal(err)
			}
			lease, err = objstore.Lock(ctx, st, "run-j", opts)
			if err != nil {
				t.Fatalf("garbage lock: %v", err)
			}
			_ = lease.Release(ctx)
		})
	}
}

// TestLockDefaults: without options the lease is 2 minutes; longer than an hour is refused.
func TestLockDefaults(t *testing.T) {
	ctx := context.Background()
	st, _ := objstore.NewLocal(t.TempDir())
	lease, err := objstore.Lock(ctx, st, "run", objstore.LockOptions{RenewEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	if info := lease.Info(); info.Expires.Sub(info.Acquired) != 2*time.Minute {
		t.Errorf("default lease %v", info.Expires.Sub(info.Acquired))
	}
	_ = lease.Release(ctx)
	if _, err := objstore.Lock(ctx, st, "run", objstore.LockOptions{TTL: 2 * time.Hour}); err == nil {
		t.Error("a 2h lease was taken")
	}
}

// TestLocalLockOddFiles: a huge lock file is not read whole, and a lock path that is a
// pipe or a directory is an error, not a hang.
func TestLocalLockOddFiles(t *testing.T) {
	ctx := context.Background()
	opts := objstore.LockOptions{RenewEvery: -1, Log: slog.New(slog.DiscardHandler)}
	st, _ := objstore.NewLocal(t.TempDir())
	path := st.Path(objstore.LockKey)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(8 << 30); err != nil { // 8 GiB, sparse
		t.Fatal(err)
	}
	f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	lease, err := objstore.Lock(ctx, st, "run", opts)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("huge lock file: %v", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 32<<20 {
		t.Errorf("huge lock file: %d bytes allocated", d)
	}
	_ = lease.Release(ctx)

	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := objstore.Lock(ctx, st, "run", opts); done <- err }()
	select {
	case err := <-done:
		if err == nil || errors.Is(err, objstore.ErrLockHeld) {
			t.Errorf("lock path is a pipe: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Lock hangs on a pipe")
	}
}
