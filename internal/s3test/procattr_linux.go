package s3test

import "syscall"

// procAttr kills the server if the test process dies without stopping it.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
