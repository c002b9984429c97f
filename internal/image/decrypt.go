package image

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	encconfig "github.com/containers/ocicrypt/config"
	cryptutils "github.com/containers/ocicrypt/utils"
	"go.podman.io/image/v5/types"
)

// encrypted reports whether any layer is encrypted by ocicrypt (its media
// type ends in "+encrypted").
func encrypted(layers []types.BlobInfo) bool {
	return slices.ContainsFunc(layers, func(l types.BlobInfo) bool { return strings.HasSuffix(l.MediaType, "+encrypted") })
}

// decryptConfig reads the private keys in dir (crio.runtime.
// decryption_keys_path) for go.podman.io/image's ocicrypt support, as CRI-O
// does: every regular file below dir is a key (JWE/PKCS#8 private key,
// PKCS#7 certificate or GPG key ring; ocicrypt sorts them by kind), and a
// symbolic link is refused. They are read at each pull of an encrypted
// image, so keys added or removed apply without a restart. A missing
// directory gives a configuration with no keys, never nil: without one
// go.podman.io/image would store the layer still encrypted, where this way
// the pull fails saying that it could not decrypt.
func decryptConfig(dir string) (*encconfig.DecryptConfig, error) {
	if dir == "" {
		return &encconfig.DecryptConfig{}, nil
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return &encconfig.DecryptConfig{}, nil
	}
	var keys []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s is a symbolic link, which decryption_keys_path may not hold", path)
		case d.IsDir():
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reading decryption key: %w", err)
		}
		keys = append(keys, base64.StdEncoding.EncodeToString(b))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("crio.runtime.decryption_keys_path: %w", err)
	}
	if len(keys) == 0 {
		return &encconfig.DecryptConfig{}, nil
	}
	params, err := cryptutils.SortDecryptionKeys(strings.Join(keys, ","))
	if err != nil {
		return nil, fmt.Errorf("crio.runtime.decryption_keys_path %s: %w", dir, err)
	}
	return encconfig.InitDecryption(params).DecryptConfig, nil
}
