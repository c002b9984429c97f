// Package peercred tells which process is at the other end of a unix
// socket: a daemon killed while forking leaves its listening socket open
// in the child until that child execs, so "the socket answers" is not
// "this daemon answers".
package peercred

import (
	"net"
	"syscall"
)

// ListenerPID is the pid of the process that made the listening socket c
// is connected to (SO_PEERCRED), or 0 when unknown.
func ListenerPID(c net.Conn) int {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0
	}
	pid := 0
	_ = raw.Control(func(fd uintptr) {
		if cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED); err == nil {
			pid = int(cred.Pid)
		}
	})
	return pid
}
