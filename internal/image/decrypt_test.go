package image

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecryptConfigReadsPrivateKeysAndRefusesSymlinks(t *testing.T) {
	dc, err := decryptConfig(filepath.Join(t.TempDir(), "missing"))
	if err != nil || dc == nil || len(dc.Parameters) != 0 {
		t.Fatalf("missing directory: %+v, %v; want an empty configuration", dc, err)
	}

	dir := t.TempDir()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "sub", "k.pem")
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	dc, err = decryptConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(dc.Parameters["privkeys"]); n != 1 {
		t.Errorf("decrypt configuration has %d private keys, want 1: %v", n, dc.Parameters)
	}

	if err := os.Symlink(key, filepath.Join(dir, "link.pem")); err != nil {
		t.Fatal(err)
	}
	if _, err := decryptConfig(dir); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("a symbolic link in the keys directory: err = %v, want it refused", err)
	}
}
