package streaming

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// dialLoopback connects to port on the loopback of the network namespace
// at netns (the host's when empty), trying IPv4 then IPv6.
func dialLoopback(ctx context.Context, netns string, port int) (*net.TCPConn, error) {
	var errs []error
	for _, ip := range []string{"127.0.0.1", "::1"} {
		c, err := dialIn(ctx, netns, net.JoinHostPort(ip, strconv.Itoa(port)))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// dialIn dials addr from inside the network namespace at netns. The
// socket is made on a thread switched into the namespace and keeps
// belonging to it after the thread switches back. addr is a literal IP
// so that the dial stays on this goroutine (no parallel dials on other
// threads, which would be in the host's namespace).
func dialIn(ctx context.Context, netns, addr string) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if netns == "" {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return c.(*net.TCPConn), nil
	}
	target, err := os.Open(netns)
	if err != nil {
		return nil, fmt.Errorf("opening the pod's network namespace: %w", err)
	}
	defer target.Close()
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer orig.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("entering the pod's network namespace: %w", err)
	}
	c, dialErr := d.DialContext(ctx, "tcp", addr)
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked and ends with this goroutine rather
		// than run other goroutines in the pod's namespace.
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("leaving the pod's network namespace: %w", err)
	}
	runtime.UnlockOSThread()
	if dialErr != nil {
		return nil, dialErr
	}
	return c.(*net.TCPConn), nil
}
