package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/store"
)

// HostResolvConf is copied for a pod the kubelet sends no DNSConfig for.
var HostResolvConf = "/etc/resolv.conf"

// ValidateDNS refuses DNS settings that would add lines to resolv.conf.
func ValidateDNS(dns *runtimeapi.DNSConfig) error {
	check := func(what string, vals []string) error {
		for _, v := range vals {
			if v == "" || strings.ContainsAny(v, "\n\r\x00 \t#;") {
				return fmt.Errorf("dns %s %q: empty or contains whitespace or a comment character", what, v)
			}
		}
		return nil
	}
	if err := check("server", dns.GetServers()); err != nil {
		return err
	}
	if err := check("search", dns.GetSearches()); err != nil {
		return err
	}
	return check("option", dns.GetOptions())
}

// WriteResolvConf writes the pod's resolv.conf: from dns, or a copy of the
// host's when the kubelet sends none.
func WriteResolvConf(path string, dns *runtimeapi.DNSConfig) error {
	if dns == nil {
		data, err := os.ReadFile(HostResolvConf)
		if err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("reading host resolv.conf: %w", err)
		}
		return store.ReplaceFile(path, data, 0o644)
	}
	var b strings.Builder
	if s := dns.GetSearches(); len(s) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(s, " "))
	}
	for _, s := range dns.GetServers() {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if o := dns.GetOptions(); len(o) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(o, " "))
	}
	return store.ReplaceFile(path, []byte(b.String()), 0o644)
}

// WriteHostname writes the pod's /etc/hostname.
func WriteHostname(path, hostname string) error {
	return store.ReplaceFile(path, []byte(hostname+"\n"), 0o644)
}

// WriteHosts writes the pod's /etc/hosts: localhost entries and, for each
// pod IP, the hostname.
func WriteHosts(path, hostname string, ips []string) error {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	for _, ip := range ips {
		fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
	}
	return store.ReplaceFile(path, []byte(b.String()), 0o644)
}

// HostHosts is copied for a host-network pod, which has the host's name
// and addresses.
var HostHosts = "/etc/hosts"

// CopyHostHosts writes a copy of the host's /etc/hosts to path.
func CopyHostHosts(path string) error {
	data, err := os.ReadFile(HostHosts)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("reading host /etc/hosts: %w", err)
	}
	return store.ReplaceFile(path, data, 0o644)
}

// Hostname is the pod's hostname: the kubelet's, else the pod name; for a
// host-network pod, the host's.
func Hostname(cfg *runtimeapi.PodSandboxConfig, hostNetwork bool) (string, error) {
	if hostNetwork {
		return os.Hostname()
	}
	h := cfg.GetHostname()
	if h == "" {
		h = cfg.GetMetadata().GetName()
	}
	if len(h) > 64 {
		h = h[:64]
	}
	if strings.ContainsAny(h, "\n\r\x00 \t/") {
		return "", fmt.Errorf("hostname %q contains whitespace or a slash", h)
	}
	return h, nil
}

// Dir returns the state directory of sandbox id below root.
func Dir(root, id string) string { return filepath.Join(root, id) }
