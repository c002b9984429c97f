package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	encconfig "github.com/containers/ocicrypt/config"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/hack/testregistry"
	"github.com/crio/crio/test/framework"
)

// TestEncryptedImagePullsWithTheKeyInDecryptionKeysPath: busybox with its
// layer encrypted (ocicrypt, JWE to an RSA key made here) does not pull
// while decryption_keys_path holds no key, and the error says decryption
// failed; once the private key is there (read at each pull, no restart) it
// pulls, and a container runs from it.
func TestEncryptedImagePullsWithTheKeyInDecryptionKeysPath(t *testing.T) {
	reg := sharedRegistry(t)
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := encconfig.EncryptWithJwe([][]byte{pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})})
	if err != nil {
		t.Fatal(err)
	}
	baseRef, err := name.ParseReference(reg.Ref(testregistry.LibraryBusyboxImage), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	base, err := remote.Image(baseRef, remote.WithContext(framework.Ctx(t)))
	if err != nil {
		t.Fatalf("reading busybox from the test registry: %v", err)
	}
	img, err := testregistry.EncryptLayers(base, cc.EncryptConfig)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := img.Manifest(); err != nil || len(m.Layers) != 1 || m.Layers[0].MediaType != testregistry.EncryptedOCIGzipLayer {
		t.Fatalf("the image to serve has no encrypted layer: %+v, %v", m, err)
	}
	const repo = "crio-test/busybox-encrypted:latest"
	if err := reg.Push(framework.Ctx(t), repo, img); err != nil {
		t.Fatal(err)
	}
	ref := reg.Ref(repo)

	keys := t.TempDir()
	d := containerDaemon(t)
	d.WriteDropIn("60-keys.conf", "[crio.runtime]\ndecryption_keys_path = \""+keys+"\"\n")
	d.Stop()
	d.Start()

	_, err = pull(t, d, ref, nil)
	if err == nil {
		t.Fatal("an encrypted image pulled with no key in decryption_keys_path")
	}
	t.Logf("pull without the key: %v", err)
	if msg := err.Error(); !strings.Contains(msg, "decrypt") || !strings.Contains(msg, "decryption_keys_path") {
		t.Errorf("pull error does not say decryption failed for want of a key: %v", err)
	}

	if err := os.WriteFile(filepath.Join(keys, "busybox.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	mustPull(t, d, ref)
	podID, pc := pod(t, d, "decrypted")
	id := run(t, d, podID, pc, ctrConfig("dec", []string{"sh", "-c", "echo decrypted-$((6*7))"}, func(c *runtimeapi.ContainerConfig) {
		c.Image = &runtimeapi.ImageSpec{Image: ref}
	}))
	if st := waitExited(t, d, id, 30*time.Second); st.ExitCode != 0 {
		t.Fatalf("container from the decrypted image exited %d: %s", st.ExitCode, st.Message)
	}
	if out := strings.Join(logText(t, filepath.Join(pc.LogDirectory, "dec.log")), "\n"); !strings.Contains(out, "decrypted-42") {
		t.Errorf("container from the decrypted image did not run its command; log:\n%s", out)
	}
}
