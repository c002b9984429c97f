// Package pause is the infra process of a pod with a shared PID
// namespace: PID 1 there, reaping orphans until SIGTERM or SIGINT. It
// imports nothing but the standard library so that cmd/crio-pause, which
// is all it is, stays a small binary: every pod runs one.
package pause

import (
	"os"
	"os/signal"
	"syscall"
)

// Run reaps children on SIGCHLD and exits 0 on SIGTERM or SIGINT.
func Run() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig == syscall.SIGCHLD {
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		os.Exit(0)
	}
}
