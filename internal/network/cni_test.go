package network

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestParseQuantity(t *testing.T) {
	for in, want := range map[string]int64{"10M": 10_000_000, "1Gi": 1 << 30, "500k": 500_000, "1.5M": 1_500_000, "100": 100} {
		if got, err := parseQuantity(in); err != nil || got != want {
			t.Errorf("parseQuantity(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "-1M", "1e3", "abc", "10X"} {
		if got, err := parseQuantity(in); err == nil {
			t.Errorf("parseQuantity(%q) = %d; want an error", in, got)
		}
	}
}

func TestPrepareArgsPortsAndBandwidth(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "10-a.conflist"), []byte(`{"cniVersion":"1.0.0","name":"a","plugins":[{"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}},{"type":"bandwidth","capabilities":{"bandwidth":true}}]}`), 0o644)
	w, err := NewWatcher(dir, "", nil, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	m := NewManager([]string{"/usr/lib/cni"}, t.TempDir(), w)
	a, err := m.Prepare(Pod{
		ID: "abc", NetNS: "/run/netns/x", Name: "p", Namespace: "ns", UID: "u",
		PortMappings: []*runtimeapi.PortMapping{
			{Protocol: runtimeapi.Protocol_UDP, ContainerPort: 53, HostPort: 5353},
			{Protocol: runtimeapi.Protocol_TCP, ContainerPort: 80}, // no host port: no mapping
		},
		Annotations: map[string]string{IngressBandwidthAnnotation: "10M"},
	})
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]string{}
	for _, kv := range a.Args {
		args[kv[0]] = kv[1]
	}
	if args["K8S_POD_NAMESPACE"] != "ns" || args["K8S_POD_NAME"] != "p" || args["K8S_POD_INFRA_CONTAINER_ID"] != "abc" || args["K8S_POD_UID"] != "u" {
		t.Errorf("CNI args %v", a.Args)
	}
	pms, _ := a.CapabilityArgs["portMappings"].([]portMapping)
	if len(pms) != 1 || pms[0].HostPort != 5353 || pms[0].Protocol != "udp" {
		t.Errorf("portMappings %+v; want one udp 5353->53", a.CapabilityArgs["portMappings"])
	}
	bw, _ := a.CapabilityArgs["bandwidth"].(*bandwidthEntry)
	if bw == nil || bw.IngressRate != 10_000_000 || bw.EgressRate != 0 {
		t.Errorf("bandwidth %+v; want ingress 10M", a.CapabilityArgs["bandwidth"])
	}
	if _, err := m.Prepare(Pod{Annotations: map[string]string{EgressBandwidthAnnotation: "lots"}}); err == nil {
		t.Error("Prepare with a malformed bandwidth annotation succeeded")
	}
}

func TestWatcherFollowsConfDir(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWatcher(dir, "", nil, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Network(); err == nil {
		t.Fatal("empty dir: network ready")
	}
	wait := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			l, err := w.Network()
			got := ""
			if err == nil {
				got = l.Name
			}
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("network %q (%v); want %q", got, err, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	os.WriteFile(filepath.Join(dir, "20-b.conflist"), []byte(`{"cniVersion":"1.0.0","name":"b","plugins":[{"type":"loopback"}]}`), 0o644)
	wait("b")
	os.WriteFile(filepath.Join(dir, "10-a.conflist"), []byte(`{"cniVersion":"1.0.0","name":"a","plugins":[{"type":"loopback"}]}`), 0o644)
	wait("a") // first by name wins
	os.Remove(filepath.Join(dir, "10-a.conflist"))
	os.Remove(filepath.Join(dir, "20-b.conflist"))
	wait("")
}

func TestSplitIPsPrefersIPv4(t *testing.T) {
	p, rest := SplitIPs([]string{"fd00::2", "10.0.0.2"})
	if p != "10.0.0.2" || len(rest) != 1 || rest[0] != "fd00::2" {
		t.Errorf("SplitIPs = %q %v", p, rest)
	}
}

func TestWatcherSkipsNetworkWithMissingPlugin(t *testing.T) {
	dir, plugins := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(plugins, "present"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "10-a.conflist"), []byte(`{"cniVersion":"1.0.0","name":"a","plugins":[{"type":"present"},{"type":"absent"}]}`), 0o644)
	w, err := NewWatcher(dir, "", []string{plugins}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Network(); err == nil || !strings.Contains(err.Error(), `"absent"`) {
		t.Fatalf("network with a missing plugin: %v; want not ready naming the plugin", err)
	}
	os.WriteFile(filepath.Join(dir, "20-b.conflist"), []byte(`{"cniVersion":"1.0.0","name":"b","plugins":[{"type":"present"}]}`), 0o644)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if l, err := w.Network(); err == nil && l.Name == "b" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the next network by name, whose plugins exist, was not picked")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
