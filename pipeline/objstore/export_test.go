package objstore

// HolderOfProcess is a LockInfo naming process pid of this machine, as a run of that
// process would write it (tests).
func HolderOfProcess(pid int) (LockInfo, error) {
	m := thisMachine()
	start, _, err := processStart(pid)
	if err != nil {
		return LockInfo{}, err
	}
	return LockInfo{Host: m.Host, BootID: m.BootID, PIDNS: m.PIDNS, PID: pid, PIDStart: start}, nil
}
