package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// SysctlError is a sysctl the pod may not set, or one the kernel refused.
// The server maps it to InvalidArgument.
type SysctlError struct {
	Key, Reason string
}

func (e *SysctlError) Error() string { return fmt.Sprintf("sysctl %q: %s", e.Key, e.Reason) }

// Sysctl is one validated setting; Path is below /proc/sys.
type Sysctl struct {
	Key, Value, Path string
}

// A key is dot- or slash-separated words; with slashes, dots are part of a
// word (an interface name like eth0.100), as in the kubelet.
var sysctlKeyRe = regexp.MustCompile(`^[a-z0-9]([-_a-z0-9]*[a-z0-9])?([./][a-z0-9]([-_.a-z0-9]*[a-z0-9])?)*$`)

// ipcSysctls are the IPC-namespaced sysctls (beside the fs.mqueue. prefix).
var ipcSysctls = map[string]bool{
	"kernel.sem": true, "kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true,
	"kernel.shm_rmid_forced": true, "kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true,
}

// ValidateSysctls checks the pod's sysctls: well-formed keys and values,
// namespaced (so setting them cannot change the host), and in a namespace
// the pod does not share with the host. They come back sorted by key.
func ValidateSysctls(in map[string]string, hostNetwork, hostIPC bool) ([]Sysctl, error) {
	out := make([]Sysctl, 0, len(in))
	for k, v := range in {
		if !sysctlKeyRe.MatchString(k) || strings.Contains(k, "..") {
			return nil, &SysctlError{k, "malformed key"}
		}
		// The value is written as is into one /proc/sys file; anything
		// that could read as a second setting is refused.
		if v == "" || strings.ContainsAny(v, "\n\r\x00=") {
			return nil, &SysctlError{k, fmt.Sprintf("malformed value %q: empty or contains a newline, NUL or '='", v)}
		}
		// Normalize to the dotted form and the /proc/sys path.
		var dotted, p string
		if strings.Contains(k, "/") {
			p = k
			dotted = strings.ReplaceAll(k, "/", ".")
		} else {
			p = strings.ReplaceAll(k, ".", "/")
			dotted = k
		}
		switch {
		case strings.HasPrefix(dotted, "net."):
			if hostNetwork {
				return nil, &SysctlError{k, "the pod uses the host network namespace"}
			}
		case ipcSysctls[dotted] || strings.HasPrefix(dotted, "fs.mqueue."):
			if hostIPC {
				return nil, &SysctlError{k, "the pod uses the host IPC namespace"}
			}
		default:
			return nil, &SysctlError{k, "not a namespaced sysctl: it would change the host"}
		}
		out = append(out, Sysctl{Key: k, Value: v, Path: p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// ParseDefaultSysctls turns [crio.runtime] default_sysctls ("k=v") into a
// map the pod's own sysctls override.
func ParseDefaultSysctls(defaults []string, pod map[string]string) map[string]string {
	out := make(map[string]string, len(defaults)+len(pod))
	for _, d := range defaults {
		if k, v, ok := strings.Cut(d, "="); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	for k, v := range pod {
		out[k] = v
	}
	return out
}

// applySysctls writes the settings through /proc/sys. It must run on the
// thread that is in the pod's namespaces: /proc/sys/net and the IPC files
// act on the writer's namespaces. A net sysctl whose file does not exist
// yet (one for eth0, which CNI has not made) is returned in deferred, to
// be applied with ApplyDeferredSysctls after the network is up.
func applySysctls(ss []Sysctl) (deferred []Sysctl, err error) {
	for _, s := range ss {
		p := filepath.Join("/proc/sys", s.Path)
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if os.IsNotExist(err) && strings.HasPrefix(s.Path, "net/") {
			deferred = append(deferred, s)
			continue
		}
		if os.IsNotExist(err) {
			return nil, &SysctlError{s.Key, "the kernel has no such sysctl"}
		}
		if err != nil {
			return nil, fmt.Errorf("setting sysctl %s: %w", s.Key, err)
		}
		_, err = f.WriteString(s.Value)
		f.Close()
		if err != nil {
			return nil, &SysctlError{s.Key, fmt.Sprintf("the kernel refused value %q: %v", s.Value, err)}
		}
	}
	return deferred, nil
}

// ApplyDeferredSysctls applies the sysctls Pin could not (their files
// appear with the pod's interfaces) in the pod's network namespace; any
// still missing is an error.
func ApplyDeferredSysctls(p *Pinned) error {
	if len(p.DeferredSysctls) == 0 {
		return nil
	}
	return inNetNamespace(p.Net, func() error {
		left, err := applySysctls(p.DeferredSysctls)
		if err != nil {
			return err
		}
		if len(left) > 0 {
			return &SysctlError{left[0].Key, "the kernel has no such sysctl in the pod's network namespace"}
		}
		return nil
	})
}
