package kube

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/procstat"
	"github.com/crio/crio/test/peer"
)

// startContainerd starts Debian's containerd, the peer the kubelet's pod
// startup is measured against, with the same runc, registry and kind of
// network as the daemon under test, and returns its socket. Its shims
// outlive it: they are found by the socket they were given and killed when
// the node goes.
func (n *Node) startContainerd() string {
	t := n.t
	bin, err := exec.LookPath("containerd")
	if err != nil {
		t.Skip("containerd is not installed (apt-get install -y containerd)")
	}
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(n.Dir, "containerd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "containerd.sock")
	cni := filepath.Join(dir, "cni")
	n.Subnet = n.writeBridgeNetwork(cni)
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(peer.ContainerdConfig(dir, sock, cni, runc, n.Registry.Addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfg, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		for _, pid := range procstat.PIDs() {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil &&
				strings.Contains(string(b), "containerd-shim") && strings.Contains(string(b), sock) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		unmountUnder(dir)
	})
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// After the cleanups above, so it runs before them, on a live containerd.
	t.Cleanup(n.stop)
	n.Runtime = runtimeapi.NewRuntimeServiceClient(conn)
	n.Image = runtimeapi.NewImageServiceClient(conn)
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := n.Runtime.Version(ctx, &runtimeapi.VersionRequest{})
		cancel()
		if err == nil {
			return sock
		}
		select {
		case <-done:
			t.Fatalf("containerd exited at start; see %s", logf.Name())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd not answering after a minute: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
