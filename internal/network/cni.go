package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Bandwidth annotations the kubelet copies from the pod.
const (
	IngressBandwidthAnnotation = "kubernetes.io/ingress-bandwidth"
	EgressBandwidthAnnotation  = "kubernetes.io/egress-bandwidth"
)

// IfName is the pod's interface name.
const IfName = "eth0"

// Manager runs CNI plugins for pods.
type Manager struct {
	cni     *libcni.CNIConfig
	watcher *Watcher
	// podCIDRs are the node's pod ranges from UpdateRuntimeConfig, passed
	// to plugins that take the ipRanges capability.
	podCIDRs atomic.Pointer[[]string]
}

// SetPodCIDRs records the node's pod CIDRs ("10.1.0.0/24" or, dual-stack,
// "10.1.0.0/24,fd00::/64", as the kubelet sends them) for pods set up from
// now on; "" clears them.
func (m *Manager) SetPodCIDRs(cidrs string) error {
	var out []string
	for _, c := range strings.Split(cidrs, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if _, _, err := net.ParseCIDR(c); err != nil {
			return fmt.Errorf("pod CIDR %q: %w", c, err)
		}
		out = append(out, c)
	}
	m.podCIDRs.Store(&out)
	return nil
}

// PodCIDRs returns the pod CIDRs in force.
func (m *Manager) PodCIDRs() []string {
	if p := m.podCIDRs.Load(); p != nil {
		return *p
	}
	return nil
}

// NewManager runs plugins from pluginDirs, keeps libcni's cache in
// cacheDir, and takes the network to use from w.
func NewManager(pluginDirs []string, cacheDir string, w *Watcher) *Manager {
	// An explicit exec: libcni sets its default lazily, unsynchronized,
	// which races when pods are set up concurrently.
	exec := &invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: os.Stderr}, PluginDecoder: version.PluginDecoder{}}
	return &Manager{cni: libcni.NewCNIConfigWithCacheDir(pluginDirs, cacheDir, exec), watcher: w}
}

// Watcher is the conf-dir watcher the manager reads its network from.
func (m *Manager) Watcher() *Watcher { return m.watcher }

// Pod is what a pod's network set-up needs.
type Pod struct {
	ID, NetNS            string
	Name, Namespace, UID string
	PortMappings         []*runtimeapi.PortMapping
	Annotations          map[string]string
}

// Attachment records one ADD with everything the matching DEL needs: the
// network config as it was (the conf dir may have changed since) and the
// runtime arguments. It is saved next to the sandbox before ADD runs, so
// a daemon that crashes mid-ADD can still DEL.
type Attachment struct {
	ConfList       json.RawMessage `json:"confList"`
	Network        string          `json:"network"`
	ContainerID    string          `json:"containerId"`
	NetNS          string          `json:"netns"`
	IfName         string          `json:"ifName"`
	Args           [][2]string     `json:"args"`
	CapabilityArgs map[string]any  `json:"capabilityArgs,omitempty"`
	Result         json.RawMessage `json:"result,omitempty"`
	IPs            []string        `json:"ips,omitempty"`
}

func (a *Attachment) runtimeConf() *libcni.RuntimeConf {
	return &libcni.RuntimeConf{ContainerID: a.ContainerID, NetNS: a.NetNS, IfName: a.IfName, Args: a.Args, CapabilityArgs: a.CapabilityArgs}
}

// Prepare resolves the network and builds the attachment for pod without
// running anything.
func (m *Manager) Prepare(pod Pod) (*Attachment, error) {
	list, err := m.watcher.Network()
	if err != nil {
		return nil, err
	}
	caps := map[string]any{}
	if pms := portMappings(pod.PortMappings); len(pms) > 0 {
		caps["portMappings"] = pms
	}
	bw, err := bandwidth(pod.Annotations)
	if err != nil {
		return nil, err
	}
	if bw != nil {
		caps["bandwidth"] = bw
	}
	if cidrs := m.PodCIDRs(); len(cidrs) > 0 {
		// One range set per CIDR, as host-local's ipRanges takes them.
		ranges := make([][]map[string]string, 0, len(cidrs))
		for _, c := range cidrs {
			ranges = append(ranges, []map[string]string{{"subnet": c}})
		}
		caps["ipRanges"] = ranges
	}
	return &Attachment{
		ConfList:    list.Bytes,
		Network:     list.Name,
		ContainerID: pod.ID,
		NetNS:       pod.NetNS,
		IfName:      IfName,
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", pod.Namespace},
			{"K8S_POD_NAME", pod.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", pod.ID},
			{"K8S_POD_UID", pod.UID},
		},
		CapabilityArgs: caps,
	}, nil
}

// Add runs CNI ADD for a and records the result and IPs in it. When ADD
// fails part-way it runs DEL, so that no interface or IP lease stays.
func (m *Manager) Add(ctx context.Context, a *Attachment) error {
	list, err := libcni.ConfListFromBytes(a.ConfList)
	if err != nil {
		return fmt.Errorf("parsing CNI network %s: %w", a.Network, err)
	}
	res, err := m.cni.AddNetworkList(ctx, list, a.runtimeConf())
	if err != nil {
		addErr := fmt.Errorf("CNI network %q ADD: %w", a.Network, err)
		if delErr := m.del(context.WithoutCancel(ctx), list, a); delErr != nil {
			return errors.Join(addErr, fmt.Errorf("and DEL after the failed ADD: %w", delErr))
		}
		return addErr
	}
	r, err := types100.NewResultFromResult(res)
	if err != nil {
		_ = m.del(context.WithoutCancel(ctx), list, a)
		return fmt.Errorf("CNI network %q: converting result: %w", a.Network, err)
	}
	a.Result, _ = json.Marshal(r)
	a.IPs = nil
	for _, ip := range r.IPs {
		a.IPs = append(a.IPs, ip.Address.IP.String())
	}
	return nil
}

// Del runs CNI DEL with the arguments ADD had.
func (m *Manager) Del(ctx context.Context, a *Attachment) error {
	list, err := libcni.ConfListFromBytes(a.ConfList)
	if err != nil {
		return fmt.Errorf("parsing CNI network %s: %w", a.Network, err)
	}
	return m.del(ctx, list, a)
}

// del runs DEL on the whole list; if that fails (a plugin binary missing,
// say), it runs DEL plugin by plugin, last first, so that the plugins
// that can still free what they hold do.
func (m *Manager) del(ctx context.Context, list *libcni.NetworkConfigList, a *Attachment) error {
	rt := a.runtimeConf()
	err := m.cni.DelNetworkList(ctx, list, rt)
	if err == nil {
		return nil
	}
	var errs []error
	for i := len(list.Plugins) - 1; i >= 0; i-- {
		p := list.Plugins[i]
		one := &libcni.NetworkConfigList{Name: list.Name, CNIVersion: list.CNIVersion, Plugins: []*libcni.PluginConfig{p}, Bytes: list.Bytes}
		if _, ferr := invoke.FindInPath(p.Network.Type, m.cni.Path); ferr != nil {
			continue // nothing ran, nothing to free
		}
		if err := m.cni.DelNetworkList(ctx, one, rt); err != nil {
			errs = append(errs, fmt.Errorf("plugin %s: %w", p.Network.Type, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("CNI network %q DEL: %w", a.Network, errors.Join(errs...))
	}
	return nil
}

// Check runs CNI CHECK for a.
func (m *Manager) Check(ctx context.Context, a *Attachment) error {
	list, err := libcni.ConfListFromBytes(a.ConfList)
	if err != nil {
		return fmt.Errorf("parsing CNI network %s: %w", a.Network, err)
	}
	return m.cni.CheckNetworkList(ctx, list, a.runtimeConf())
}

// portMapping is the portmap plugin's runtime argument.
type portMapping struct {
	HostPort      int32  `json:"hostPort"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

func portMappings(in []*runtimeapi.PortMapping) []portMapping {
	var out []portMapping
	for _, p := range in {
		if p.GetHostPort() <= 0 {
			continue // only host ports need a mapping
		}
		out = append(out, portMapping{
			HostPort: p.GetHostPort(), ContainerPort: p.GetContainerPort(),
			Protocol: strings.ToLower(p.GetProtocol().String()), HostIP: p.GetHostIp(),
		})
	}
	return out
}

// bandwidthEntry is the bandwidth plugin's runtime argument, in bits/s.
type bandwidthEntry struct {
	IngressRate  int64 `json:"ingressRate,omitempty"`
	IngressBurst int64 `json:"ingressBurst,omitempty"`
	EgressRate   int64 `json:"egressRate,omitempty"`
	EgressBurst  int64 `json:"egressBurst,omitempty"`
}

// bandwidth reads the pod's bandwidth annotations; the burst is what the
// kubelet's dockershim used (effectively unlimited).
func bandwidth(ann map[string]string) (*bandwidthEntry, error) {
	parse := func(key string) (int64, error) {
		v, ok := ann[key]
		if !ok {
			return 0, nil
		}
		n, err := parseQuantity(v)
		if err != nil {
			return 0, fmt.Errorf("annotation %s=%q: %w", key, v, err)
		}
		if n < 1 || n > 32*1000*1000*1000*1000*1000 {
			return 0, fmt.Errorf("annotation %s=%q: out of range (1 to 32Pbit/s)", key, v)
		}
		return n, nil
	}
	in, err := parse(IngressBandwidthAnnotation)
	if err != nil {
		return nil, err
	}
	eg, err := parse(EgressBandwidthAnnotation)
	if err != nil {
		return nil, err
	}
	if in == 0 && eg == 0 {
		return nil, nil
	}
	b := &bandwidthEntry{IngressRate: in, EgressRate: eg}
	if in > 0 {
		b.IngressBurst = math.MaxInt32
	}
	if eg > 0 {
		b.EgressBurst = math.MaxInt32
	}
	return b, nil
}

// parseQuantity reads a Kubernetes quantity ("10M", "1Gi", "500k") as an
// integer. Only the suffixes a bandwidth takes are accepted; the
// apimachinery parser would pull a large dependency tree for this one use.
func parseQuantity(s string) (int64, error) {
	suffixes := []struct {
		s string
		m float64
	}{
		{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"Pi", 1 << 50},
		{"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15},
	}
	mult := 1.0
	num := s
	for _, suf := range suffixes {
		if strings.HasSuffix(s, suf.s) {
			mult, num = suf.m, strings.TrimSuffix(s, suf.s)
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || strings.ContainsAny(num, "eE") {
		return 0, fmt.Errorf("not a quantity like 10M or 1Gi")
	}
	v := f * mult
	if v > math.MaxInt64/2 {
		return 0, fmt.Errorf("too large")
	}
	return int64(math.Ceil(v)), nil
}

// SplitIPs returns the first IPv4 and the rest, as the CRI reports them:
// a primary IP and additional ones.
func SplitIPs(ips []string) (string, []string) {
	if len(ips) == 0 {
		return "", nil
	}
	primary := 0
	for i, s := range ips {
		if ip := net.ParseIP(s); ip != nil && ip.To4() != nil {
			primary = i
			break
		}
	}
	var rest []string
	for i, s := range ips {
		if i != primary {
			rest = append(rest, s)
		}
	}
	return ips[primary], rest
}

// LoadAttachment reads an attachment saved as JSON.
func LoadAttachment(path string) (*Attachment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	a := &Attachment{}
	if err := json.Unmarshal(data, a); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	return a, nil
}
