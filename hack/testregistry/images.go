package testregistry

import (
	"fmt"
	"math/rand/v2"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Repository paths of the images, as served (without a registry host).
// registries.conf maps registry.k8s.io, k8s.gcr.io, gcr.io, docker.io and
// quay.io onto the registry keeping these paths.
const (
	BusyboxImage          = "e2e-test-images/busybox:1.29-2"
	NginxImage            = "e2e-test-images/nginx:1.14-2"
	HttpdImage            = "e2e-test-images/httpd:2.4.39-4"
	NoNewPrivsImage       = "e2e-test-images/nonewprivs:1.3"
	PauseImage            = "pause:3.10" // the daemon's default sandbox image
	PauseImageCritest     = "pause:3.9"  // critest pulls and removes this one
	HostNetNginxImage     = "k8s-staging-cri-tools/hostnet-nginx-amd64:latest"
	MultiLayerImage       = "crio-test/multilayer:latest"
	BigImage              = "crio-test/big:latest"
	CrioTestBusyboxImage  = "crio-test/busybox:latest"
	LibraryBusyboxImage   = "library/busybox:latest"
	crictlTestImagePrefix = "k8s-staging-cri-tools/"

	// The busybox rootfs of CrioTestBusyboxImage (the same DiffID) in an
	// OCI image whose one layer is application/vnd.oci.image.layer.v1.tar+zstd:
	// plain zstd, and zstd:chunked (with the TOC annotations on the
	// layer's descriptor). A label gives each its own image ID; the layer
	// is shared, so a store that holds one has the other's layer too.
	ZstdBusyboxImage        = "crio-test/busybox-zstd:latest"
	ZstdChunkedBusyboxImage = "crio-test/busybox-zstd-chunked:latest"
)

// DefaultPath is the PATH of every busybox-based image.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// multiLayerCount and multiLayerSize shape crio-test/multilayer: layers of
// incompressible data for pull-throughput benchmarks.
const (
	multiLayerCount = 5
	multiLayerSize  = 8 << 20
)

// bigLayerCount and bigLayerSize shape crio-test/big, the pull benchmark's
// large image: busybox plus 9 layers of incompressible data, 10 layers and
// about 200 MB in all, compressed or not.
const (
	bigLayerCount = 9
	bigLayerSize  = 22 << 20
)

// randomLayers makes n layers of size bytes of incompressible data each,
// layer i holding data/blob-<seed+i>. Seeded, so a rebuilt cache has the
// same digests; different seeds give different layers.
func randomLayers(n, size, seed int) []*layerBuilder {
	out := make([]*layerBuilder, 0, n)
	for i := range n {
		rng := rand.NewChaCha8([32]byte{byte(seed + i + 1)})
		data := make([]byte, size)
		_, _ = rng.Read(data)
		l := newLayer()
		l.dir("data", 0o755)
		l.file(fmt.Sprintf("data/blob-%d", seed+i), 0o644, data)
		out = append(out, l)
	}
	return out
}

// namedImage is one built image and the repository:tag names it is pushed under.
type namedImage struct {
	names []string
	img   v1.Image
}

// newImage makes a linux/amd64 image from cfg and layers.
func newImage(cfg v1.Config, layers ...v1.Layer) (v1.Image, error) {
	adds := make([]mutate.Addendum, 0, len(layers))
	for _, l := range layers {
		adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "crio testregistry"}})
	}
	return imageOn(empty.Image, cfg, adds)
}

// imageOn makes a linux/amd64 image from cfg and layers on base (empty.Image
// with perhaps other media types).
func imageOn(base v1.Image, cfg v1.Config, adds []mutate.Addendum) (v1.Image, error) {
	img, err := mutate.ConfigFile(base, &v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Created:      v1.Time{Time: epoch},
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Append(img, adds...)
}

// busyboxConfig is the config of docker's busybox image, plus extra labels.
func busyboxConfig(labels map[string]string) v1.Config {
	return v1.Config{Env: []string{DefaultPath}, Cmd: []string{"sh"}, Labels: labels}
}

// buildImages builds every test image. work is a scratch directory.
func buildImages(work, deb string, logf func(string, ...any)) ([]namedImage, error) {
	logf("testregistry: compiling helper programs")
	bins, err := buildTools(work)
	if err != nil {
		return nil, err
	}
	bbl, err := busyboxLayer(work, deb, bins)
	if err != nil {
		return nil, err
	}
	busyboxLayer, err := bbl.layer()
	if err != nil {
		return nil, err
	}
	var out []namedImage
	add := func(img v1.Image, err error, names ...string) error {
		if err != nil {
			return fmt.Errorf("build %s: %w", names[0], err)
		}
		out = append(out, namedImage{names: names, img: img})
		return nil
	}
	// onBusybox makes a busybox-based image with extra layers.
	onBusybox := func(cfg v1.Config, extra ...*layerBuilder) (v1.Image, error) {
		layers := []v1.Layer{busyboxLayer}
		for _, b := range extra {
			l, err := b.layer()
			if err != nil {
				return nil, err
			}
			layers = append(layers, l)
		}
		return newImage(cfg, layers...)
	}

	steps := []func() error{
		func() error {
			img, err := onBusybox(busyboxConfig(nil))
			return add(img, err, BusyboxImage, CrioTestBusyboxImage, LibraryBusyboxImage)
		},
		func() error { // the busybox rootfs again, zstd and zstd:chunked
			tarData, err := bbl.tarBytes()
			if err != nil {
				return err
			}
			zl, err := zstdLayer(tarData)
			if err != nil {
				return err
			}
			img, err := newOCIImage(busyboxConfig(map[string]string{"io.crio.testregistry.image": "busybox-zstd"}), ociLayer{layer: zl})
			if err := add(img, err, ZstdBusyboxImage); err != nil {
				return err
			}
			cl, ann, err := zstdChunkedLayer(tarData)
			if err != nil {
				return err
			}
			img, err = newOCIImage(busyboxConfig(map[string]string{"io.crio.testregistry.image": "busybox-zstd-chunked"}), ociLayer{layer: cl, annotations: ann})
			return add(img, err, ZstdChunkedBusyboxImage)
		},
		func() error { // pause images: distinct IDs, critest removes pause:3.9 by ID
			for _, v := range []string{"3.9", "3.10"} {
				l := newLayer()
				l.file("pause", 0o755, bins["pause"])
				pl, err := l.layer()
				if err != nil {
					return err
				}
				img, err := newImage(v1.Config{
					Entrypoint: []string{"/pause"},
					User:       "65535:65535",
					Env:        []string{DefaultPath},
					Labels:     map[string]string{"io.crio.testregistry.pause-version": v},
				}, pl)
				if err := add(img, err, "pause:"+v); err != nil {
					return err
				}
			}
			return nil
		},
		func() error {
			img, err := onBusybox(nginxConfig(80), nginxLayer(bins))
			return add(img, err, NginxImage)
		},
		func() error {
			port := newLayer()
			port.dir("etc/crio-test", 0o755)
			port.file("etc/crio-test/port", 0o644, []byte("12003\n"))
			img, err := onBusybox(nginxConfig(12003), nginxLayer(bins), port)
			return add(img, err, HostNetNginxImage)
		},
		func() error {
			l := newLayer()
			l.dirs("usr/local/apache2", "usr/local/apache2/bin", "usr/local/apache2/htdocs", "usr/local/apache2/logs")
			l.file("usr/local/apache2/bin/httpd", 0o755, bins["httpd"])
			l.link("usr/local/apache2/bin/httpd-foreground", "usr/local/apache2/bin/httpd")
			l.file("usr/local/apache2/htdocs/index.html", 0o644, []byte("<html><body><h1>It works!</h1></body></html>\n"))
			img, err := onBusybox(v1.Config{
				Env:          []string{"PATH=/usr/local/apache2/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HTTPD_PREFIX=/usr/local/apache2"},
				Cmd:          []string{"httpd-foreground"},
				WorkingDir:   "/usr/local/apache2",
				ExposedPorts: map[string]struct{}{"80/tcp": {}},
			}, l)
			return add(img, err, HttpdImage)
		},
		func() error {
			l := newLayer()
			l.file("usr/local/bin/nnp", 0o4755, bins["nnp"])
			img, err := onBusybox(v1.Config{Env: []string{DefaultPath}, Cmd: []string{"/usr/local/bin/nnp"}}, l)
			return add(img, err, NoNewPrivsImage)
		},
		func() error { // distinct IDs through distinct labels
			for _, n := range []string{"test-image-1", "test-image-2", "test-image-3", "test-image-latest"} {
				img, err := onBusybox(busyboxConfig(map[string]string{"io.crio.testregistry.image": n}))
				if err := add(img, err, crictlTestImagePrefix+n+":latest"); err != nil {
					return err
				}
			}
			img, err := onBusybox(busyboxConfig(map[string]string{"io.crio.testregistry.image": "test-image-tags"}))
			if err := add(img, err, crictlTestImagePrefix+"test-image-tags:1", crictlTestImagePrefix+"test-image-tags:2", crictlTestImagePrefix+"test-image-tags:3"); err != nil {
				return err
			}
			for _, tag := range []string{"test", "all"} {
				img, err := onBusybox(busyboxConfig(map[string]string{"io.crio.testregistry.image": "test-image-tag-" + tag}))
				if err := add(img, err, crictlTestImagePrefix+"test-image-tag:"+tag); err != nil {
					return err
				}
			}
			return nil
		},
		func() error {
			for _, u := range []struct{ name, user string }{
				{"test-image-user-uid", "1002"},
				{"test-image-user-username", "www-data"},
				{"test-image-user-uid-group", "1003:1004"},
				{"test-image-user-username-group", "www-data:1004"},
			} {
				cfg := busyboxConfig(nil)
				cfg.User = u.user
				img, err := onBusybox(cfg)
				if err := add(img, err, crictlTestImagePrefix+u.name+":latest"); err != nil {
					return err
				}
			}
			return nil
		},
		func() error {
			l := newLayer()
			l.file("etc/passwd", 0o644, []byte(busyboxPasswd+"default-user:x:1000:1000:Default User:/home/default-user:/bin/sh\n"))
			l.file("etc/group", 0o644, []byte(busyboxGroup+"default-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n"))
			l.dir("home/default-user", 0o755)
			cfg := busyboxConfig(nil)
			cfg.User = "1000"
			img, err := onBusybox(cfg, l)
			return add(img, err, crictlTestImagePrefix+"test-image-predefined-group:latest")
		},
		func() error {
			img, err := onBusybox(busyboxConfig(nil), randomLayers(multiLayerCount, multiLayerSize, 0)...)
			return add(img, err, MultiLayerImage)
		},
		func() error {
			img, err := onBusybox(busyboxConfig(map[string]string{"io.crio.testregistry.image": "big"}), randomLayers(bigLayerCount, bigLayerSize, 100)...)
			return add(img, err, BigImage)
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func nginxConfig(port int) v1.Config {
	return v1.Config{
		Env:          []string{DefaultPath, "NGINX_VERSION=1.14.2"},
		Cmd:          []string{"nginx", "-g", "daemon off;"},
		ExposedPorts: map[string]struct{}{fmt.Sprintf("%d/tcp", port): {}},
		StopSignal:   "SIGQUIT",
	}
}

func nginxLayer(bins map[string][]byte) *layerBuilder {
	l := newLayer()
	l.file("usr/sbin/nginx", 0o755, bins["nginx"])
	l.dirs("etc/nginx", "usr/share", "usr/share/nginx", "usr/share/nginx/html")
	l.file("usr/share/nginx/html/index.html", 0o644, []byte("<h1>Welcome to nginx!</h1>\n"))
	return l
}
