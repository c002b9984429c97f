// Package systemd asks systemd, over its D-Bus API, for the transient
// scope units the systemd cgroup driver puts processes in: conmon and a
// pod's infra process. (runc makes the containers' own scopes.) Where
// systemd owns the cgroup tree, writing cgroup.procs behind its back
// works until systemd next reorganises the tree; a unit does not.
package systemd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	sd "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

var (
	mu   sync.Mutex
	conn *sd.Conn
)

// connection returns the process's one connection to systemd, dialled
// on first use and again after systemd restarts (daemon-reexec closes
// it). The private socket needs no dbus-daemon; the system bus is the
// fallback where it is not reachable.
func connection(ctx context.Context) (*sd.Conn, error) {
	mu.Lock()
	defer mu.Unlock()
	if conn != nil && conn.Connected() {
		return conn, nil
	}
	if conn != nil {
		conn.Close()
		conn = nil
	}
	// godbus closes a connection when the context it was dialled with is
	// done: dialled with a request's, the one shared connection died with
	// that request, and the next pod's StartScope failed with "use of
	// closed network connection".
	dctx := context.WithoutCancel(ctx)
	c, err := sd.NewSystemdConnectionContext(dctx)
	if err != nil {
		var err2 error
		if c, err2 = sd.NewSystemConnectionContext(dctx); err2 != nil {
			return nil, fmt.Errorf("connecting to systemd: %w (system bus: %v)", err, err2)
		}
	}
	conn = c
	return c, nil
}

// ScopeName is the unit a process of prefix and id runs in, as runc and
// CRI-O name them ("crio-ID.scope", "crio-conmon-ID.scope").
func ScopeName(prefix, id string) string { return prefix + "-" + id + ".scope" }

// StartScope makes the transient scope unit name in slice and moves pid
// into it, returning once systemd has done so. Delegate lets the process's
// children (runc's cgroup below conmon's, say) be managed below it.
func StartScope(ctx context.Context, name, slice string, pid int, description string) error {
	if !strings.HasSuffix(name, ".scope") || !strings.HasSuffix(slice, ".slice") {
		return fmt.Errorf("systemd scope %q in %q: not a scope in a slice", name, slice)
	}
	c, err := connection(ctx)
	if err != nil {
		return err
	}
	props := []sd.Property{
		sd.PropSlice(slice),
		sd.PropDescription(description),
		sd.PropPids(uint32(pid)),
		{Name: "Delegate", Value: godbus.MakeVariant(true)},
		// Without it the scope would be ordered after (and stopped
		// with) shutdown.target's dependencies like a service; a
		// container's monitor must not be stopped before its container.
		{Name: "DefaultDependencies", Value: godbus.MakeVariant(false)},
	}
	done := make(chan string, 1)
	if _, err := c.StartTransientUnitContext(ctx, name, "replace", props, done); err != nil {
		return fmt.Errorf("starting systemd unit %s in %s: %w", name, slice, err)
	}
	select {
	case res := <-done:
		if res != "done" {
			return fmt.Errorf("starting systemd unit %s in %s: job %s", name, slice, res)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("starting systemd unit %s: %w", name, ctx.Err())
	}
}

// SliceLimits are a slice's resource properties; a zero field is left
// as it is.
type SliceLimits struct {
	MemoryMax int64  // bytes
	CPUWeight uint64 // cgroup v2 weight
	CPUQuota  int64  // microseconds per period; -1 is unlimited
	CPUPeriod uint64 // microseconds
}

func (l SliceLimits) properties() []sd.Property {
	var props []sd.Property
	if l.MemoryMax > 0 {
		props = append(props, sd.Property{Name: "MemoryMax", Value: godbus.MakeVariant(uint64(l.MemoryMax))})
	}
	if l.CPUWeight > 0 {
		props = append(props, sd.Property{Name: "CPUWeight", Value: godbus.MakeVariant(l.CPUWeight)})
	}
	period := l.CPUPeriod
	if period == 0 {
		period = 100000
	}
	if l.CPUPeriod > 0 {
		props = append(props, sd.Property{Name: "CPUQuotaPeriodUSec", Value: godbus.MakeVariant(period)})
	}
	switch {
	case l.CPUQuota > 0:
		// systemd's quota is per second; runc rounds it up to whole
		// percent-of-a-CPU steps of 10 ms the same way.
		perSec := uint64(l.CPUQuota) * 1_000_000 / period
		if perSec%10000 != 0 {
			perSec = (perSec/10000 + 1) * 10000
		}
		props = append(props, sd.Property{Name: "CPUQuotaPerSecUSec", Value: godbus.MakeVariant(perSec)})
	case l.CPUQuota < 0:
		props = append(props, sd.Property{Name: "CPUQuotaPerSecUSec", Value: godbus.MakeVariant(uint64(math.MaxUint64))})
	}
	return props
}

// ErrNoSlice is SetSliceLimits' error for a slice systemd does not have.
var ErrNoSlice = errors.New("systemd has no such slice")

// SetSliceLimits sets a pod slice's resource properties, so that systemd,
// which owns the slice's cgroup, keeps the limits rather than resetting
// files written behind its back. The slice is the kubelet's (it makes
// each pod's before RunPodSandbox and removes it after the pod); one
// systemd does not have is ErrNoSlice, not made here, since nothing here
// would remove it.
func SetSliceLimits(ctx context.Context, slice string, l SliceLimits) error {
	if !strings.HasSuffix(slice, ".slice") {
		return fmt.Errorf("systemd slice %q: not a slice", slice)
	}
	active, err := UnitActive(ctx, slice)
	if err != nil {
		return err
	}
	if !active {
		return fmt.Errorf("%w: %s is not active", ErrNoSlice, slice)
	}
	c, err := connection(ctx)
	if err != nil {
		return err
	}
	if err := c.SetUnitPropertiesContext(ctx, slice, true, l.properties()...); err != nil {
		return fmt.Errorf("setting the properties of systemd unit %s: %w", slice, err)
	}
	return nil
}

// StopUnit stops the unit, killing what is left in it, and waits for the
// stop to finish. A unit systemd does not know is already stopped.
func StopUnit(ctx context.Context, name string) error {
	c, err := connection(ctx)
	if err != nil {
		return err
	}
	done := make(chan string, 1)
	if _, err := c.StopUnitContext(ctx, name, "replace", done); err != nil {
		if isNoSuchUnit(err) {
			return nil
		}
		return fmt.Errorf("stopping systemd unit %s: %w", name, err)
	}
	select {
	case res := <-done:
		if res != "done" {
			return fmt.Errorf("stopping systemd unit %s: job %s", name, res)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stopping systemd unit %s: %w", name, ctx.Err())
	}
}

// UnitActive reports whether systemd has the unit loaded and active.
func UnitActive(ctx context.Context, name string) (bool, error) {
	c, err := connection(ctx)
	if err != nil {
		return false, err
	}
	p, err := c.GetUnitPropertyContext(ctx, name, "ActiveState")
	if err != nil {
		if isNoSuchUnit(err) {
			return false, nil
		}
		return false, fmt.Errorf("systemd unit %s: %w", name, err)
	}
	s, _ := p.Value.Value().(string)
	return s == "active" || s == "activating" || s == "reloading", nil
}

func isNoSuchUnit(err error) bool {
	var de godbus.Error
	if errors.As(err, &de) {
		return de.Name == "org.freedesktop.systemd1.NoSuchUnit"
	}
	return strings.Contains(err.Error(), "not loaded")
}

// Check connects to systemd and asks its version: the systemd driver
// cannot work on a host where this fails.
func Check(ctx context.Context) (version string, err error) {
	c, err := connection(ctx)
	if err != nil {
		return "", err
	}
	v, err := c.GetManagerProperty("Version")
	if err != nil {
		return "", fmt.Errorf("asking systemd its version: %w", err)
	}
	return strings.Trim(v, `"`), nil
}

// ScopeResult is a scope unit's Result ("success", "oom-kill", ...), or
// "" when systemd no longer has the unit. A scope whose process the
// kernel OOM-killed stays loaded, failed with "oom-kill", until it is
// reset: unlike its cgroup, which systemd removes once it is empty.
func ScopeResult(ctx context.Context, name string) (string, error) {
	c, err := connection(ctx)
	if err != nil {
		return "", err
	}
	p, err := c.GetUnitTypePropertyContext(ctx, name, "Scope", "Result")
	if err != nil {
		if isNoSuchUnit(err) {
			return "", nil
		}
		return "", fmt.Errorf("systemd unit %s: %w", name, err)
	}
	s, _ := p.Value.Value().(string)
	return s, nil
}
