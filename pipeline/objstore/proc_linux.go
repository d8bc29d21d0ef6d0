//go:build linux

package objstore

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// processStart reads a process's start time (field 22 of /proc/<pid>/stat: clock ticks
// after boot, which tells a reused pid from its first owner) and state (field 3).
func processStart(pid int) (start string, state byte, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, err
	}
	// the command name (field 2) is in parentheses and may hold spaces and parentheses
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return "", 0, fmt.Errorf("parse /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return "", 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f)+2)
	}
	if _, err := strconv.ParseUint(f[19], 10, 64); err != nil {
		return "", 0, fmt.Errorf("parse /proc/%d/stat: start time %q", pid, f[19])
	}
	return f[19], f[0][0], nil
}
