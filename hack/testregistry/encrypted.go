package testregistry

import (
	"bytes"
	"fmt"
	"io"

	"github.com/containers/ocicrypt"
	encconfig "github.com/containers/ocicrypt/config"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// EncryptedOCIGzipLayer is the media type of a gzip layer encrypted by
// ocicrypt (imgcrypt's, as written by skopeo/podman --encryption-key).
const EncryptedOCIGzipLayer types.MediaType = "application/vnd.oci.image.layer.v1.tar+gzip+encrypted"

// EncryptLayers returns img as an OCI image whose layers are encrypted with
// ocicrypt for the recipients of ec (for instance
// encconfig.EncryptWithJwe(publicKeyPEMs)), each carrying the wrapped key
// in its descriptor's annotations, as a pull must find it. The layers must
// be gzip (the busybox images are); the config, and so the DiffIDs, stay.
// Tests push the result with Registry.Push, under a key of their own.
func EncryptLayers(img v1.Image, ec *encconfig.EncryptConfig) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config of the image to encrypt: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	var out []ociLayer
	for _, l := range layers {
		mt, err := l.MediaType()
		if err != nil {
			return nil, err
		}
		if mt != types.DockerLayer && mt != types.OCILayer {
			return nil, fmt.Errorf("layer of media type %s: only gzip layers are encrypted", mt)
		}
		el, ann, err := encryptLayer(l, ec)
		if err != nil {
			return nil, err
		}
		out = append(out, ociLayer{layer: el, annotations: ann})
	}
	return newOCIImage(cf.Config, out...)
}

// encryptLayer encrypts l's compressed blob, returning the encrypted layer
// and the annotations ocicrypt's finalizer gives (wrapped keys, options).
func encryptLayer(l v1.Layer, ec *encconfig.EncryptConfig) (v1.Layer, map[string]string, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	plain, err := io.ReadAll(rc)
	if err != nil {
		return nil, nil, fmt.Errorf("reading layer: %w", err)
	}
	r, finalize, err := ocicrypt.EncryptLayer(ec, bytes.NewReader(plain), ocispec.Descriptor{
		MediaType: string(types.OCILayer), Digest: digest.FromBytes(plain), Size: int64(len(plain)),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("encrypting layer: %w", err)
	}
	enc, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("encrypting layer: %w", err)
	}
	ann, err := finalize()
	if err != nil {
		return nil, nil, fmt.Errorf("encrypting layer: %w", err)
	}
	ur, err := l.Uncompressed()
	if err != nil {
		return nil, nil, err
	}
	defer ur.Close()
	tarData, err := io.ReadAll(ur)
	if err != nil {
		return nil, nil, fmt.Errorf("reading layer: %w", err)
	}
	el, err := newCompressedLayer(enc, tarData, EncryptedOCIGzipLayer)
	if err != nil {
		return nil, nil, err
	}
	return el, ann, nil
}
