package e2e

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/testcert"
	"github.com/crio/crio/test/framework"
)

// The streaming server over TLS with a client CA: crictl with a client
// certificate from that CA runs commands; without one it is refused.
func TestStreamingTLSWithClientCA(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := testcert.New(t, nil, nil, "crio test CA", true)
	srv, srvKey := testcert.New(t, ca, caKey, "127.0.0.1", false)
	cli, cliKey := testcert.New(t, ca, caKey, "kubelet", false)
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
	other, otherKey := testcert.New(t, nil, nil, "other CA", true)
	stranger, strangerKey := testcert.New(t, other, otherKey, "stranger", false)
	out, err = e.crictlCmd(t, "exec", "--tls-ca", caPath,
		"--tls-cert", write("x.crt", "CERTIFICATE", stranger.Raw), "--tls-key", write("x.key", "EC PRIVATE KEY", keyDER(strangerKey)),
		id, "echo", "over-tls").CombinedOutput()
	if err == nil || strings.Contains(string(out), "over-tls\n") || !strings.Contains(string(out), "certificate") {
		t.Errorf("crictl exec with a certificate of another CA: %q, %v; want a TLS refusal", out, err)
	}
}
