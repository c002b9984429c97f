package network

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/crio/crio/internal/sandbox"
)

func TestAddCheckDelOnAPinnedNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/usr/lib/cni/loopback"); err != nil {
		t.Skip("CNI loopback plugin not installed")
	}
	confDir := t.TempDir()
	os.WriteFile(filepath.Join(confDir, "10-lo.conflist"), []byte(`{"cniVersion":"1.0.0","name":"lo-test","plugins":[{"type":"loopback"}]}`), 0o644)
	w, err := NewWatcher(confDir, "", []string{"/usr/lib/cni"}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	pins, err := sandbox.Pin(sandbox.PinOptions{Dir: t.TempDir(), ID: "cni-test", Net: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pins.Release()
	m := NewManager([]string{"/usr/lib/cni"}, t.TempDir(), w)
	a, err := m.Prepare(Pod{ID: "cni-test", NetNS: pins.Net, Name: "p", Namespace: "ns", UID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := m.Add(ctx, a); err != nil {
		t.Fatal(err)
	}
	if len(a.IPs) == 0 || a.IPs[0] != "127.0.0.1" {
		t.Errorf("loopback ADD IPs %v; want 127.0.0.1 first", a.IPs)
	}
	if err := m.Check(ctx, a); err != nil {
		t.Errorf("CHECK after ADD: %v", err)
	}
	if err := m.Del(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := m.Del(ctx, a); err != nil {
		t.Errorf("second DEL: %v; DEL must be idempotent", err)
	}
}
