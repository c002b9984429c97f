package testcert

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"path/filepath"
	"testing"
	"time"
)

func TestIssueChainsToItsCA(t *testing.T) {
	ca, caKey := Issue(t, nil, nil, Spec{Subject: pkix.Name{CommonName: "ca"}, IsCA: true, Lifetime: 24 * time.Hour})
	leaf, leafKey := Issue(t, ca, caKey, Spec{
		Subject:     pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}},
		DNSNames:    []string{"n1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	})
	if leaf.IsCA || leaf.KeyUsage&x509.KeyUsageCertSign != 0 {
		t.Errorf("leaf may sign certificates: IsCA %v, key usage %v", leaf.IsCA, leaf.KeyUsage)
	}
	if got := leaf.Subject.Organization; len(got) != 1 || got[0] != "system:nodes" {
		t.Errorf("organization %v, want [system:nodes]", got)
	}
	if d := ca.NotAfter.Sub(time.Now()); d < 23*time.Hour {
		t.Errorf("CA valid for %s more, want about 24h", d)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, o := range []x509.VerifyOptions{
		{Roots: pool, DNSName: "n1"},
		{Roots: pool, DNSName: "127.0.0.1", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
	} {
		if _, err := leaf.Verify(o); err != nil {
			t.Errorf("verify %+v: %v", o, err)
		}
	}

	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")
	WriteFiles(t, certFile, keyFile, leaf, leafKey)
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		t.Errorf("written pair does not load: %v", err)
	}
}
