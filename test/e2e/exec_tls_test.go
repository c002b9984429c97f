package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

// The streaming server over TLS with a client CA: crictl with a client
// certificate from that CA runs commands; without one it is refused.
func TestStreamingTLSWithClientCA(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := tlsCert(t, nil, nil, "crio test CA", true)
	srv, srvKey := tlsCert(t, ca, caKey, "127.0.0.1", false)
	cli, cliKey := tlsCert(t, ca, caKey, "kubelet", false)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	caPath := write("ca.crt", "CERTIFICATE", ca.Raw)
	e := newExecEnvConfig(t, fmt.Sprintf(`
[crio.api]
stream_enable_tls = true
stream_tls_cert = %q
stream_tls_key = %q
stream_tls_ca = %q
`, write("srv.crt", "CERTIFICATE", srv.Raw), write("srv.key", "EC PRIVATE KEY", keyDER(srvKey)), caPath))
	id := e.container(t, []string{"sleep", "3600"})

	resp, err := e.d.Runtime.Exec(framework.Ctx(t), &runtimeapi.ExecRequest{ContainerId: id, Cmd: []string{"true"}, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Url, "https://127.0.0.1:") {
		t.Errorf("exec URL %s is not https on the stream address", resp.Url)
	}

	out, err := e.crictlCmd(t, "exec", "--tls-ca", caPath,
		"--tls-cert", write("cli.crt", "CERTIFICATE", cli.Raw), "--tls-key", write("cli.key", "EC PRIVATE KEY", keyDER(cliKey)),
		id, "echo", "over-tls").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "over-tls" {
		t.Errorf("crictl exec with a client certificate: %q, %v", out, err)
	}
	// A client certificate from another CA is refused.
	other, otherKey := tlsCert(t, nil, nil, "other CA", true)
	stranger, strangerKey := tlsCert(t, other, otherKey, "stranger", false)
	out, err = e.crictlCmd(t, "exec", "--tls-ca", caPath,
		"--tls-cert", write("x.crt", "CERTIFICATE", stranger.Raw), "--tls-key", write("x.key", "EC PRIVATE KEY", keyDER(strangerKey)),
		id, "echo", "over-tls").CombinedOutput()
	if err == nil || strings.Contains(string(out), "over-tls\n") || !strings.Contains(string(out), "certificate") {
		t.Errorf("crictl exec with a certificate of another CA: %q, %v; want a TLS refusal", out, err)
	}
}

func tlsCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:        isCA, BasicConstraintsValid: true,
	}
	if ip := net.ParseIP(cn); ip != nil {
		// crictl verifies the name "localhost" unless told another.
		tmpl.IPAddresses, tmpl.DNSNames = []net.IP{ip}, []string{"localhost"}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}
