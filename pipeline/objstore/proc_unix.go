//go:build unix

package objstore

import (
	"errors"
	"syscall"
)

// processExists asks the kernel whether pid exists (signal 0); known is false when the
// answer is neither yes nor no.
func processExists(pid int) (exists, known bool) {
	err := syscall.Kill(pid, 0)
	switch {
	case err == nil, errors.Is(err, syscall.EPERM):
		return true, true
	case errors.Is(err, syscall.ESRCH):
		return false, true
	}
	return false, false
}
