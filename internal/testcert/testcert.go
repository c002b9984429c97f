// Package testcert makes short-lived certificates for tests of TLS
// endpoints (the streaming server's, a test Kubernetes control plane's).
package testcert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"testing"
	"time"
)

// New makes a certificate for cn, valid for an hour either side of now,
// for server and client use, signed by parent (self-signed when parent is
// nil). A cn that is an IP address is also the certificate's IP SAN, with
// "localhost" as its DNS name: crictl verifies that name unless told
// another.
func New(t testing.TB, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	spec := Spec{Subject: pkix.Name{CommonName: cn}, IsCA: isCA}
	if ip := net.ParseIP(cn); ip != nil {
		spec.IPAddresses, spec.DNSNames = []net.IP{ip}, []string{"localhost"}
	}
	return Issue(t, parent, parentKey, spec)
}

// Spec describes a certificate for Issue beyond what New can say: the
// subject's organizations (Kubernetes reads them as groups), several SANs,
// a longer life.
type Spec struct {
	Subject     pkix.Name
	IsCA        bool
	DNSNames    []string
	IPAddresses []net.IP
	// Lifetime is how long from now the certificate stays valid; an hour
	// when zero. It is also valid from an hour ago, for clock skew.
	Lifetime time.Duration
}

// Issue makes a certificate to spec, signed by parent (self-signed when
// parent is nil). Unlike New's, a leaf may not sign certificates: a
// control plane's components check that a CA is one.
func Issue(t testing.TB, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, spec Spec) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	lifetime := spec.Lifetime
	if lifetime == 0 {
		lifetime = time.Hour
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      spec.Subject,
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(lifetime),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:        spec.IsCA, BasicConstraintsValid: true,
		DNSNames: spec.DNSNames, IPAddresses: spec.IPAddresses,
	}
	if spec.IsCA {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		tmpl.ExtKeyUsage = nil
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

// CertPEM encodes a certificate as a PEM CERTIFICATE block.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// KeyPEM encodes a private key (ECDSA, RSA, ed25519) as a PKCS #8 PEM
// block, the form every Go TLS server and Kubernetes' key loaders read.
func KeyPEM(t testing.TB, key crypto.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// WriteFiles writes c to certFile and key to keyFile (mode 0600: programs
// such as etcd refuse keys others can read).
func WriteFiles(t testing.TB, certFile, keyFile string, c *x509.Certificate, key crypto.PrivateKey) {
	t.Helper()
	if err := os.WriteFile(certFile, CertPEM(c), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, KeyPEM(t, key), 0o600); err != nil {
		t.Fatal(err)
	}
}
