package kube

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crio/crio/internal/testcert"
)

const (
	// controlPlaneServiceCIDR is only virtual (no kube-proxy runs): it must
	// not overlap a network the host routes, nor the pods' bridge.
	controlPlaneServiceCIDR = "10.233.0.0/24"
	// controlPlaneServiceIP is the first address of the range, the
	// "kubernetes" service's, which the serving certificate must name.
	controlPlaneServiceIP = "10.233.0.1"
	// certLifetime outlasts any test run; New's hour could expire under a
	// long benchmark.
	certLifetime = 24 * time.Hour
	// controlPlaneTimeout bounds the start: a warm start takes seconds, but
	// two busy cores can stretch the apiserver's post-start hooks a lot.
	controlPlaneTimeout = 3 * time.Minute
)

// ControlPlane is etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler on 127.0.0.1, on ports picked at start, with certificates
// of their own CA; everything lives under Dir and goes when the test ends.
type ControlPlane struct {
	Dir string
	// Kubeconfig is the admin's (O=system:masters) kubeconfig.
	Kubeconfig   string
	APIServerURL string
	// CACertFile signs every certificate here: a kubelet's --client-ca-file
	// (the apiserver's client certificate) and its serving certificate's
	// issuer, which the apiserver checks.
	CACertFile string
	EtcdURL    string
	// SchedulerURL and ControllerManagerURL are the secure ports
	// (https://127.0.0.1:port), serving /healthz.
	SchedulerURL, ControllerManagerURL string
	// LogDir holds one log per process, <name>.log.
	LogDir string

	t       testing.TB
	kubectl string
	pki     string
	ca      *x509.Certificate
	caKey   *ecdsa.PrivateKey
	client  *http.Client // the admin's, trusting the CA
	procs   []*cpProcess
}

// cpProcess is one component; done closes once it has exited.
type cpProcess struct {
	name, log string
	cmd       *exec.Cmd
	done      chan struct{}
}

func (p *cpProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// StartControlPlane starts the control plane and waits until the apiserver
// is ready, kubectl lists nodes, the scheduler and the controller-manager
// are healthy and the controller-manager has made namespace default's
// service account (without it the first pods are refused). It skips under
// -short.
func StartControlPlane(t testing.TB) *ControlPlane {
	t.Helper()
	if testing.Short() {
		t.Skip("control-plane test: `make unit` (-short) starts no Kubernetes")
	}
	// Build before any directory is made, so a build failure leaves nothing.
	bins := map[string]string{}
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"} {
		bins[name] = Binary(t, name)
	}
	begin := time.Now()

	dir, err := os.MkdirTemp("", "kube-cp-")
	if err != nil {
		t.Fatal(err)
	}
	cp := &ControlPlane{
		t: t, Dir: dir, kubectl: bins["kubectl"],
		pki:    filepath.Join(dir, "pki"),
		LogDir: filepath.Join(dir, "logs"),
	}
	t.Cleanup(cp.cleanup)
	for _, d := range []string{cp.pki, cp.LogDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}

	ports := freeLoopbackPorts(t, 5)
	etcdPort, peerPort, apiPort, schedPort, kcmPort := ports[0], ports[1], ports[2], ports[3], ports[4]
	cp.EtcdURL = fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	cp.APIServerURL = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	cp.SchedulerURL = fmt.Sprintf("https://127.0.0.1:%d", schedPort)
	cp.ControllerManagerURL = fmt.Sprintf("https://127.0.0.1:%d", kcmPort)

	cp.makePKI()
	p := func(name string) string { return filepath.Join(cp.pki, name) }

	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	cp.start("etcd", bins["etcd"], []string{
		"--name=cp",
		"--data-dir=" + filepath.Join(dir, "etcd"),
		"--listen-client-urls=" + cp.EtcdURL, "--advertise-client-urls=" + cp.EtcdURL,
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=cp=" + peerURL,
		// The data is thrown away with Dir: waiting for the disk only slows
		// every write the apiserver makes.
		"--unsafe-no-fsync=true",
	})
	cp.waitUntil(begin, "etcd is healthy", func() error {
		body, err := cp.Get(cp.EtcdURL + "/health")
		if err != nil {
			return err
		}
		if !strings.Contains(body, `"health":"true"`) {
			return fmt.Errorf("etcd /health: %s", body)
		}
		return nil
	})

	cp.start("kube-apiserver", bins["kube-apiserver"], []string{
		"--etcd-servers=" + cp.EtcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", apiPort),
		"--cert-dir=" + filepath.Join(dir, "kube-apiserver"),
		"--tls-cert-file=" + p("apiserver.crt"), "--tls-private-key-file=" + p("apiserver.key"),
		"--client-ca-file=" + cp.CACertFile,
		"--service-cluster-ip-range=" + controlPlaneServiceCIDR,
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p("sa.pub"),
		"--service-account-signing-key-file=" + p("sa.key"),
		"--kubelet-client-certificate=" + p("apiserver-kubelet-client.crt"),
		"--kubelet-client-key=" + p("apiserver-kubelet-client.key"),
		"--kubelet-certificate-authority=" + cp.CACertFile,
		"--kubelet-preferred-address-types=InternalIP,Hostname",
		// The default reconciler would publish 127.0.0.1 as the kubernetes
		// service's endpoint, which endpoint validation refuses, and retry
		// forever; nothing in a test reaches the apiserver through the
		// service anyway.
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--profiling=false",
		"--v=2",
	})
	cp.writeKubeconfig("admin.kubeconfig", "admin")
	cp.Kubeconfig = filepath.Join(dir, "admin.kubeconfig")
	// The controller-manager and the scheduler exit at once when they
	// cannot read the authentication configmap, which the apiserver's RBAC
	// bootstrap only allows once it is ready.
	cp.waitUntil(begin, "kube-apiserver /readyz is ok", func() error {
		body, err := cp.Get(cp.APIServerURL + "/readyz")
		if err != nil {
			return err
		}
		if body != "ok" {
			return fmt.Errorf("/readyz: %s", body)
		}
		return nil
	})
	for _, c := range []struct {
		name string
		port int
	}{{"kube-controller-manager", kcmPort}, {"kube-scheduler", schedPort}} {
		kc := cp.writeKubeconfig(c.name+".kubeconfig", c.name)
		args := []string{
			"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
			"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", c.port),
			"--tls-cert-file=" + p(c.name+"-serving.crt"), "--tls-private-key-file=" + p(c.name+"-serving.key"),
			// One instance: an election would only delay the start by a
			// lease acquisition.
			"--leader-elect=false",
			"--v=2",
		}
		if c.name == "kube-controller-manager" {
			args = append(args,
				"--service-account-private-key-file="+p("sa.key"),
				"--root-ca-file="+cp.CACertFile,
				"--cluster-signing-cert-file="+cp.CACertFile, "--cluster-signing-key-file="+p("ca.key"),
				"--use-service-account-credentials=true",
				"--controllers=*",
				"--allocate-node-cidrs=false",
			)
		}
		cp.start(c.name, bins[c.name], args)
	}

	cp.waitUntil(begin, "kubectl lists nodes", func() error {
		_, err := cp.Kubectl("get", "nodes")
		return err
	})
	for _, u := range []string{cp.SchedulerURL, cp.ControllerManagerURL} {
		cp.waitUntil(begin, u+"/healthz is ok", func() error {
			_, err := cp.Get(u + "/healthz")
			return err
		})
	}
	cp.waitUntil(begin, "namespace default has its service account", func() error {
		_, err := cp.Get(cp.APIServerURL + "/api/v1/namespaces/default/serviceaccounts/default")
		return err
	})
	t.Logf("control plane up in %s (apiserver %s, logs in %s)", time.Since(begin).Round(time.Millisecond), cp.APIServerURL, cp.LogDir)
	return cp
}

// makePKI writes the CA, the components' certificates and the service
// account key pair under pki, and the admin's HTTP client.
func (cp *ControlPlane) makePKI() {
	t := cp.t
	t.Helper()
	cp.ca, cp.caKey = testcert.Issue(t, nil, nil, testcert.Spec{
		Subject: pkix.Name{CommonName: "crio-test-kubernetes-ca"}, IsCA: true, Lifetime: certLifetime,
	})
	cp.CACertFile = filepath.Join(cp.pki, "ca.crt")
	testcert.WriteFiles(t, cp.CACertFile, filepath.Join(cp.pki, "ca.key"), cp.ca, cp.caKey)

	loopback := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	cp.issue("apiserver", testcert.Spec{
		Subject: pkix.Name{CommonName: "kube-apiserver"},
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"},
		IPAddresses: append([]net.IP{net.ParseIP(controlPlaneServiceIP)}, loopback...),
	})
	for _, c := range []string{"kube-controller-manager", "kube-scheduler"} {
		cp.issue(c+"-serving", testcert.Spec{
			Subject: pkix.Name{CommonName: c}, DNSNames: []string{"localhost"}, IPAddresses: loopback,
		})
		cp.issue(c, testcert.Spec{Subject: pkix.Name{CommonName: "system:" + c}})
	}
	admin, adminKey := cp.issue("admin", testcert.Spec{
		Subject: pkix.Name{CommonName: "crio-test-admin", Organization: []string{"system:masters"}},
	})
	// What a kubelet's webhook authorizer is asked about: the apiserver
	// proxying exec, logs and port-forward must be allowed everything.
	cp.issue("apiserver-kubelet-client", testcert.Spec{
		Subject: pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}},
	})

	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cp.pki, "sa.key"), testcert.KeyPEM(t, saKey), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cp.pki, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		t.Fatal(err)
	}

	roots := x509.NewCertPool()
	roots.AddCert(cp.ca)
	cp.client = &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: roots,
			Certificates: []tls.Certificate{{
				Certificate: [][]byte{admin.Raw}, PrivateKey: adminKey, Leaf: admin,
			}},
		}},
	}
}

// issue makes a certificate signed by the CA and writes it to
// pki/name.crt and pki/name.key.
func (cp *ControlPlane) issue(name string, spec testcert.Spec) (*x509.Certificate, *ecdsa.PrivateKey) {
	cp.t.Helper()
	spec.Lifetime = certLifetime
	c, key := testcert.Issue(cp.t, cp.ca, cp.caKey, spec)
	testcert.WriteFiles(cp.t, filepath.Join(cp.pki, name+".crt"), filepath.Join(cp.pki, name+".key"), c, key)
	return c, key
}

// writeKubeconfig writes Dir/file for the client certificate pki/user.crt
// and returns its path.
func (cp *ControlPlane) writeKubeconfig(file, user string) string {
	cp.t.Helper()
	path := filepath.Join(cp.Dir, file)
	// JSON is YAML, and quoting it is encoding/json's business.
	conf := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: crio-test
  cluster:
    server: %q
    certificate-authority: %q
users:
- name: %q
  user:
    client-certificate: %q
    client-key: %q
contexts:
- name: crio-test
  context:
    cluster: crio-test
    user: %q
current-context: crio-test
`, cp.APIServerURL, cp.CACertFile, user,
		filepath.Join(cp.pki, user+".crt"), filepath.Join(cp.pki, user+".key"), user)
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		cp.t.Fatal(err)
	}
	return path
}

// KubeletKubeconfigFor returns a kubeconfig with a client certificate for
// node's kubelet (CN=system:node:<node>, O=system:nodes), the identity the
// Node authorizer lets register and update that node only. Failures are
// fatal to the test that started the control plane.
func (cp *ControlPlane) KubeletKubeconfigFor(node string) string {
	cp.t.Helper()
	user := "kubelet-" + node
	cp.issue(user, testcert.Spec{
		Subject: pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}},
	})
	return cp.writeKubeconfig(user+".kubeconfig", user)
}

// KubeletServingCert returns a serving certificate and key for node's
// kubelet at nodeIP, its InternalIP, signed by the CA the apiserver checks
// kubelets against. Failures are fatal to the test that started the
// control plane.
func (cp *ControlPlane) KubeletServingCert(node string, nodeIP net.IP) (certFile, keyFile string) {
	cp.t.Helper()
	ips := []net.IP{net.ParseIP("127.0.0.1"), nodeIP}
	name := "kubelet-serving-" + node
	cp.issue(name, testcert.Spec{
		Subject:     pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}},
		DNSNames:    []string{node, "localhost"},
		IPAddresses: ips,
	})
	return filepath.Join(cp.pki, name+".crt"), filepath.Join(cp.pki, name+".key")
}

// KubectlCommand is kubectl as the admin, for a caller that streams its
// input or output.
func (cp *ControlPlane) KubectlCommand(ctx context.Context, args ...string) *exec.Cmd {
	// Its own discovery cache: never the host user's ~/.kube.
	return exec.CommandContext(ctx, cp.kubectl, append([]string{"--kubeconfig=" + cp.Kubeconfig, "--cache-dir=" + filepath.Join(cp.Dir, "kubectl-cache")}, args...)...)
}

// Kubectl runs kubectl as the admin and returns its standard output; the
// error carries its standard error.
func (cp *ControlPlane) Kubectl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := cp.KubectlCommand(ctx, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Get fetches url (the apiserver's, etcd's or a component's) as the admin,
// trusting the control plane's CA, and returns the body; a status other
// than 200 is an error.
func (cp *ControlPlane) Get(url string) (string, error) {
	resp, err := cp.client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return string(body), nil
}

// waitUntil polls cond until it returns nil, failing the test when a
// component exits or controlPlaneTimeout after begin.
func (cp *ControlPlane) waitUntil(begin time.Time, what string, cond func() error) {
	cp.t.Helper()
	for {
		err := cond()
		if err == nil {
			return
		}
		if p := cp.dead(); p != nil {
			cp.t.Fatalf("waiting until %s: %s exited: %v (last error: %v)", what, p.name, p.cmd.ProcessState, err)
		}
		if time.Since(begin) > controlPlaneTimeout {
			cp.t.Fatalf("waited %s until %s: %v", controlPlaneTimeout, what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dead returns a component that has exited, or nil.
func (cp *ControlPlane) dead() *cpProcess {
	for _, p := range cp.procs {
		if p.exited() {
			return p
		}
	}
	return nil
}

// start launches a component in its own process group, its output to
// LogDir/name.log.
func (cp *ControlPlane) start(name, bin string, args []string) {
	cp.t.Helper()
	logPath := filepath.Join(cp.LogDir, name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		cp.t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = cp.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own group so that cleanup's kill reaches anything it forks; the
	// death signal so that a test binary killed on timeout, which runs no
	// cleanup, leaves no apiserver listening.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &cpProcess{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		defer close(p.done)
		defer logf.Close()
		// The death signal comes when the thread that forked the child
		// exits, not the process: this goroutine keeps its thread until
		// the child is gone (a locked goroutine's thread ends with it).
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		cp.t.Fatalf("starting %s: %v", name, err)
	}
	cp.procs = append(cp.procs, p)
}

// cleanup kills every component's process group, waits for the exits and
// removes Dir ($CRIO_KEEP_TEST_DIRS keeps it).
func (cp *ControlPlane) cleanup() {
	// SIGKILL at once: the state is thrown away, so a graceful stop (the
	// apiserver drains for seconds) would only slow every test down.
	for _, p := range cp.procs {
		if !p.exited() {
			if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				cp.t.Errorf("killing %s: %v", p.name, err)
			}
		}
	}
	for _, p := range cp.procs {
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			cp.t.Errorf("%s (pid %d) still running 30s after SIGKILL", p.name, p.cmd.Process.Pid)
		}
	}
	if cp.t.Failed() {
		for _, p := range cp.procs {
			cp.t.Logf("--- %s log (%s) ---\n%s", p.name, p.log, logTail(p.log, 40))
		}
	}
	if os.Getenv("CRIO_KEEP_TEST_DIRS") != "" {
		cp.t.Logf("control plane dir kept: %s", cp.Dir)
		return
	}
	if err := os.RemoveAll(cp.Dir); err != nil {
		cp.t.Errorf("removing %s: %v", cp.Dir, err)
	}
}

// logTail returns the last n lines of the file at path.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freeLoopbackPorts returns n distinct TCP ports on 127.0.0.1 that nothing
// listens on now: all are held open until the last is picked, so that the
// kernel cannot hand out one twice.
func freeLoopbackPorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
