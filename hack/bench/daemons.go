package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
	"github.com/crio/crio/test/peer"
)

// daemon is one CRI runtime under measurement: a process started by the
// harness with every path under its own directory.
type daemon struct {
	name   string // "crio" or "containerd"
	dir    string
	sock   string
	cmd    *exec.Cmd
	done   chan struct{}
	conn   *grpc.ClientConn
	rt     runtimeapi.RuntimeServiceClient
	img    runtimeapi.ImageServiceClient
	logf   *os.File
	bridge string
	subnet string
	net    string // CNI network name
	// monitors lists the per-pod processes that are not the container's
	// own: conmon and the infra process for crio, the shim and the pause
	// container for containerd. Keys are "monitor" and "infra".
	monitors func() map[string][]int
	// pprofSock is crio's metrics socket when profiling is on.
	pprofSock string
	// cfg is crio's configuration file (SIGHUP re-reads it).
	cfg string
}

// conflist is the CNI network both runtimes and the floor use: a private
// bridge, host-local addresses, portmap, no masquerade.
func conflist(name, bridge, subnet string) string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": %q,
  "plugins": [
    { "type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": %q }]], "routes": [{ "dst": %q }] } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
`, name, bridge, subnet, subnet)
}

func startCrio(ctx context.Context, o *options, dir, registriesConf string) (*daemon, error) {
	d := &daemon{name: "crio", dir: dir, sock: filepath.Join(dir, "crio.sock"),
		bridge: fmt.Sprintf("bcrio%d", os.Getpid()%100000), subnet: "10.236.0.0/16", net: fmt.Sprintf("bench-crio-%d", os.Getpid())}
	if err := os.MkdirAll(filepath.Join(dir, "cni"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "cni", "10-bench.conflist"), []byte(conflist(d.net, d.bridge, d.subnet)), 0o644); err != nil {
		return nil, err
	}
	metrics := ""
	if o.profile {
		d.pprofSock = filepath.Join(dir, "metrics.sock")
		metrics = fmt.Sprintf("[crio.metrics]\nenable_metrics = true\nenable_profile = true\nmetrics_socket = %q\n", d.pprofSock)
	}
	conf := framework.IsolatedConfig(dir, "warn") + fmt.Sprintf(`
[crio.runtime.runtimes.runc]
runtime_path = %q
runtime_root = %q

[crio.image]
registries_conf = %q
signature_policy = %q
%s`, o.runc, filepath.Join(dir, "runc"), registriesConf, filepath.Join(o.repo, "contrib/containers/policy.json"), metrics)
	cfg := filepath.Join(dir, "crio.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	d.cfg = cfg
	d.cmd = exec.Command(o.crio, "--config", cfg, "--config-dir", "")
	d.monitors = func() map[string][]int {
		m := map[string][]int{}
		filepath.Walk(filepath.Join(dir, "root"), func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Name() == "conmon.pid" {
				if pid, err := readPID(p); err == nil && alive(pid) {
					m["monitor"] = append(m["monitor"], pid)
				}
			}
			return nil
		})
		filepath.Walk(filepath.Join(dir, "run"), func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Name() == "conmon.pid" {
				if pid, err := readPID(p); err == nil && alive(pid) && !contains(m["monitor"], pid) {
					m["monitor"] = append(m["monitor"], pid)
				}
			}
			return nil
		})
		// Infra processes are crio-pause (or "crio pause") children of
		// the daemon (until it restarts).
		for _, pid := range childrenWithArgs(d.cmd.Process.Pid, "") {
			if a := cmdline(pid); len(a) > 0 && (strings.HasSuffix(a[0], "crio-pause") || (len(a) > 1 && a[1] == "pause")) {
				m["infra"] = append(m["infra"], pid)
			}
		}
		return m
	}
	return d, d.start(ctx)
}

func startContainerd(ctx context.Context, o *options, dir, registryAddr string) (*daemon, error) {
	d := &daemon{name: "containerd", dir: dir, sock: filepath.Join(dir, "containerd.sock"),
		bridge: fmt.Sprintf("bctrd%d", os.Getpid()%100000), subnet: "10.237.0.0/16", net: fmt.Sprintf("bench-ctrd-%d", os.Getpid())}
	if _, err := exec.LookPath(o.containerd); err != nil {
		return nil, fmt.Errorf("%s not found: install Debian's containerd (apt-get install -y containerd): %w", o.containerd, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "cni"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "cni", "10-bench.conflist"), []byte(conflist(d.net, d.bridge, d.subnet)), 0o644); err != nil {
		return nil, err
	}
	conf := peer.ContainerdConfig(dir, d.sock, filepath.Join(dir, "cni"), o.runc, registryAddr)
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	d.cmd = exec.Command(o.containerd, "--config", cfg, "--log-level", "warn")
	d.monitors = func() map[string][]int {
		m := map[string][]int{}
		// Shims are reparented to init; find them by the address they
		// were given.
		for _, pid := range allPIDs() {
			args := cmdline(pid)
			if len(args) > 0 && strings.HasSuffix(args[0], "containerd-shim-runc-v2") && containsArg(args, d.sock) {
				m["monitor"] = append(m["monitor"], pid)
				for _, c := range childrenWithArgs(pid, "") {
					if a := cmdline(c); len(a) > 0 && a[0] == "/pause" {
						m["infra"] = append(m["infra"], c)
					}
				}
			}
		}
		return m
	}
	return d, d.start(ctx)
}

func (d *daemon) start(ctx context.Context) error {
	var err error
	d.logf, err = os.Create(filepath.Join(d.dir, d.name+".log"))
	if err != nil {
		return err
	}
	d.cmd.Stdout, d.cmd.Stderr = d.logf, d.logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", d.name, err)
	}
	d.done = make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	d.conn, err = grpc.NewClient("unix://"+d.sock,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return err
	}
	d.rt = runtimeapi.NewRuntimeServiceClient(d.conn)
	d.img = runtimeapi.NewImageServiceClient(d.conn)
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-d.done:
			return fmt.Errorf("%s exited at start; log: %s", d.name, d.logf.Name())
		default:
		}
		if _, err := os.Stat(d.sock); err == nil {
			c, cancel := context.WithTimeout(ctx, 2*time.Second)
			st, err := d.rt.Status(c, &runtimeapi.StatusRequest{})
			cancel()
			if err == nil && networkReady(st) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after 60s; log: %s", d.name, d.logf.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func networkReady(st *runtimeapi.StatusResponse) bool {
	for _, c := range st.GetStatus().GetConditions() {
		if c.Type == runtimeapi.NetworkReady && !c.Status {
			return false
		}
	}
	return true
}

// stop terminates the daemon and waits for it.
func (d *daemon) stop() {
	if d.conn != nil {
		d.conn.Close()
	}
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	d.logf.Close()
}

// pid is the daemon's process id.
func (d *daemon) pid() int { return d.cmd.Process.Pid }

func readPID(p string) (int, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func containsArg(args []string, v string) bool {
	for _, a := range args {
		if a == v || strings.Contains(a, v) {
			return true
		}
	}
	return false
}

func allPIDs() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

func cmdline(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// ppid reads a process's parent from /proc/PID/stat.
func ppid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// childrenWithArgs lists parent's children whose argv[1] is arg1 (any
// when empty).
func childrenWithArgs(parent int, arg1 string) []int {
	var out []int
	for _, pid := range allPIDs() {
		if ppid(pid) != parent {
			continue
		}
		a := cmdline(pid)
		if arg1 == "" || (len(a) > 1 && a[1] == arg1) {
			out = append(out, pid)
		}
	}
	return out
}
