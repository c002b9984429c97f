package streaming

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"

	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/oci"
	"github.com/crio/crio/internal/testcert"
)

func testAPI() config.APIConfig {
	api := config.Default().API
	api.StreamAddress, api.StreamPort = "127.0.0.1", "0"
	return api
}

func noContainers(id string) (*oci.Container, func(), error) {
	return nil, nil, fmt.Errorf("container %s not found", id)
}

func TestURLNamesBoundPort(t *testing.T) {
	s, err := New(testAPI(), &Runtime{Container: noContainers}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := s.GetExec(&runtimeapi.ExecRequest{ContainerId: "c1", Cmd: []string{"sh"}, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Url, "http://127.0.0.1:") || strings.HasPrefix(resp.Url, "http://127.0.0.1:0/") {
		t.Errorf("exec URL %s does not name the bound port", resp.Url)
	}
	if _, err := s.GetExec(&runtimeapi.ExecRequest{ContainerId: "c1", Cmd: []string{"sh"}, Tty: true, Stderr: true}); err == nil {
		t.Error("tty with stderr accepted")
	}
}

// newNetNS makes a network namespace with its loopback up, named after
// the test so that parallel runs do not collide.
func newNetNS(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	name := fmt.Sprintf("crio-stream-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", name).Run() })
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	return filepath.Join("/run/netns", name)
}

// listenIn listens on the loopback of the namespace at path.
func listenIn(t *testing.T, path string) net.Listener {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatal(err)
	}
	l, lerr := net.Listen("tcp", "127.0.0.1:0")
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		panic(err)
	}
	if lerr != nil {
		t.Fatal(lerr)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// spdyPortForward connects to a port-forward URL and forwards one
// connection to port, as kubectl and crictl do.
func spdyPortForward(t *testing.T, url string, port int) (data httpstream.Stream, errs <-chan string, err error) {
	t.Helper()
	rt, err := spdy.NewRoundTripper(nil)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set(httpstream.HeaderProtocolVersion, portforward.ProtocolV1Name)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, nil, err
	}
	conn, err := rt.NewConnection(resp)
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { conn.Close() })
	h := http.Header{}
	h.Set(portforward.StreamType, portforward.StreamTypeError)
	h.Set(portforward.PortHeader, fmt.Sprint(port))
	h.Set(portforward.PortForwardRequestIDHeader, "0")
	es, err := conn.CreateStream(h)
	if err != nil {
		return nil, nil, err
	}
	es.Close()
	ch := make(chan string, 1)
	go func() { b, _ := io.ReadAll(es); ch <- string(b) }()
	h.Set(portforward.StreamType, portforward.StreamTypeData)
	ds, err := conn.CreateStream(h)
	if err != nil {
		return nil, nil, err
	}
	return ds, ch, nil
}

func TestPortForwardReachesPodLoopbackOnly(t *testing.T) {
	nsPath := newNetNS(t)
	l := listenIn(t, nsPath)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				fmt.Fprintf(c, "pod got %s", line)
			}()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	// The port exists in the pod's namespace only.
	if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
		c.Close()
		t.Skipf("port %d is also open on the host; cannot tell namespaces apart", port)
	}

	s, err := New(testAPI(), &Runtime{Container: noContainers, NetNS: func(id string) (string, error) {
		if id != "pod1" {
			return "", fmt.Errorf("pod %s not found", id)
		}
		return nsPath, nil
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := s.GetPortForward(&runtimeapi.PortForwardRequest{PodSandboxId: "pod1", Port: []int32{int32(port)}})
	if err != nil {
		t.Fatal(err)
	}
	data, errs, err := spdyPortForward(t, resp.Url, port)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(data, "hello\n")
	data.Close()
	got, err := io.ReadAll(data)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "pod got hello\n" {
		t.Errorf("forwarded answer %q, want %q", got, "pod got hello\n")
	}
	select {
	case e := <-errs:
		if e != "" {
			t.Errorf("error stream: %s", e)
		}
	case <-time.After(10 * time.Second):
		t.Error("error stream not closed")
	}

	// The token was used: a second connection is refused.
	if _, _, err := spdyPortForward(t, resp.Url, port); err == nil {
		t.Error("second use of a port-forward URL succeeded")
	}

	// A closed port is reported on the error stream.
	resp, err = s.GetPortForward(&runtimeapi.PortForwardRequest{PodSandboxId: "pod1"})
	if err != nil {
		t.Fatal(err)
	}
	data, errs, err = spdyPortForward(t, resp.Url, 1)
	if err != nil {
		// The server may see the refused connection and reset the
		// streams before the client has opened both: that reports the
		// closed port too.
		if !strings.Contains(err.Error(), "reset") {
			t.Fatal(err)
		}
		return
	}
	data.Close()
	select {
	case e := <-errs:
		if !strings.Contains(e, "refused") {
			t.Errorf("error stream for a closed port: %q, want connection refused", e)
		}
	case <-time.After(10 * time.Second):
		t.Error("no error for a closed port")
	}
}

func TestTLSRequiresClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := testcert.New(t, nil, nil, "test CA", true)
	srv, srvKey := testcert.New(t, ca, caKey, "127.0.0.1", false)
	cli, cliKey := testcert.New(t, ca, caKey, "client", false)
	write := func(name string, der []byte, typ string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
		return p
	}
	api := testAPI()
	api.StreamEnableTLS = true
	api.StreamTLSCert = write("srv.crt", srv.Raw, "CERTIFICATE")
	api.StreamTLSKey = write("srv.key", marshalKey(t, srvKey), "EC PRIVATE KEY")
	api.StreamTLSCA = write("ca.crt", ca.Raw, "CERTIFICATE")
	s, err := New(api, &Runtime{Container: noContainers}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := s.GetExec(&runtimeapi.ExecRequest{ContainerId: "c1", Cmd: []string{"sh"}, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Url, "https://") {
		t.Fatalf("URL %s is not https", resp.Url)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	get := func(certs []tls.Certificate) (*http.Response, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}}
		return c.Get(resp.Url)
	}
	if r, err := get(nil); err == nil {
		r.Body.Close()
		t.Error("a client without a certificate was served")
	}
	r, err := get([]tls.Certificate{{Certificate: [][]byte{cli.Raw}, PrivateKey: cliKey}})
	if err != nil {
		t.Fatalf("client with a CA-signed certificate: %v", err)
	}
	r.Body.Close()
	// A plain GET is no stream upgrade; the handshake passing is the point.
	if r.StatusCode == http.StatusNotFound {
		t.Errorf("exec URL answered 404 to its first use")
	}

	api.StreamTLSKey = filepath.Join(dir, "missing.key")
	if _, err := New(api, &Runtime{}, nil); err == nil {
		t.Error("TLS with a missing key accepted")
	}
}

func marshalKey(t *testing.T, k *ecdsa.PrivateKey) []byte {
	b, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
