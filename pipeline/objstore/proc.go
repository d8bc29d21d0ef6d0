package objstore

import (
	"fmt"
	"os"
	"strings"
	"sync"
)

// machine identifies this machine and process namespace for the run lock: the host name,
// the kernel's boot id and the pid namespace (empty where the system does not say). Two
// runs see each other's processes only when all three are the same; containers that share
// a host name but not a pid namespace, or a host that rebooted, are "elsewhere".
type machine struct {
	Host, BootID, PIDNS string
}

var thisMachine = sync.OnceValue(func() machine {
	host, _ := os.Hostname()
	m := machine{Host: host}
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		m.BootID = strings.TrimSpace(string(b))
	}
	if ns, err := os.Readlink("/proc/self/ns/pid"); err == nil {
		m.PIDNS = ns
	}
	return m
})

// sameMachine reports whether the holder's process is one this process can look at.
func sameMachine(h LockInfo) bool {
	m := thisMachine()
	return h.Host != "" && h.PID > 0 && h.Host == m.Host && h.BootID == m.BootID && h.PIDNS == m.PIDNS
}

// holderGone says whether the holder's process has ended, and why: its pid is free, it is
// a zombie, or the pid belongs to a process started at another time (reused). When the
// system cannot tell, the holder is alive.
func holderGone(h LockInfo) (gone bool, why string) {
	if h.PID <= 0 {
		return false, ""
	}
	start, state, err := processStart(h.PID)
	switch {
	case err == nil && (state == 'Z' || state == 'X'):
		return true, fmt.Sprintf("process %d has exited", h.PID)
	case err == nil && h.PIDStart != "" && start != h.PIDStart:
		return true, fmt.Sprintf("process %d is gone (its pid belongs to another process now)", h.PID)
	case err == nil:
		return false, ""
	}
	// No /proc entry (gone, or hidden from this user by hidepid), or no /proc: the kernel
	// tells whether the pid exists.
	if exists, known := processExists(h.PID); known && !exists {
		return true, fmt.Sprintf("process %d is gone", h.PID)
	}
	return false, ""
}
