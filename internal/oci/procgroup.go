package oci

import (
	"strconv"
	"time"

	"github.com/crio/crio/internal/procstat"
)

// killWait bounds the wait for the processes of a killed exec or conmon
// to exit: a process stuck in the kernel (D state on a dead mount) must
// not hold the caller forever.
const killWait = 2 * time.Second

// waitGroupsExited returns once no member of the groups is alive (gone or
// a zombie: a child reparented to a container init that never reaps stays
// one), or after max.
func waitGroupsExited(groups []int, max time.Duration) {
	deadline := time.Now().Add(max)
	for _, g := range groups {
		for time.Now().Before(deadline) && anyAlive(groupMembers(g)) {
			time.Sleep(2 * time.Millisecond)
		}
	}
}

type groupMember struct {
	pid   int
	state byte
}

func anyAlive(ms []groupMember) bool {
	for _, m := range ms {
		if m.state != 'Z' && m.state != 'X' {
			return true
		}
	}
	return false
}

// groupMembers lists the processes of process group pgid, from /proc.
func groupMembers(pgid int) []groupMember {
	want := strconv.Itoa(pgid)
	var ms []groupMember
	for _, pid := range procstat.PIDs() {
		if f, err := procstat.Fields(pid); err == nil && f[2] == want {
			ms = append(ms, groupMember{pid: pid, state: f[0][0]})
		}
	}
	return ms
}
