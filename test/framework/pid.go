package framework

// PID is the daemon's process ID, for tests that watch its resources
// (/proc/PID/fd, /proc/PID/status).
func (d *Daemon) PID() int {
	d.t.Helper()
	if d.cmd == nil || d.cmd.Process == nil {
		d.t.Fatal("daemon not started")
	}
	return d.cmd.Process.Pid
}
