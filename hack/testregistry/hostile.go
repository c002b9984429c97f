package testregistry

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Hostile images: what an attacker who controls an image can put in it,
// for the daemon's tests to pull and run. They are made in this process,
// lazily on first request, and served by hostileHandler in front of the
// registry (never stored in the shared cache, and never pushed: some of
// them cannot be, a registry would refuse a blob that does not match its
// digest). Each is busybox plus what makes it hostile, so that where the
// daemon accepts it a container can run from it.
//
// Served as HostilePrefix+case+":latest", e.g.
// "crio-test/hostile/dotdot:latest".
const HostilePrefix = "crio-test/hostile/"

// The hostile cases. The comment says what the image holds.
const (
	// A layer member "../../../../hostile-escape/dotdot": from a layer's
	// diff directory (<storage root>/overlay/<id>/diff) that is the
	// directory holding the storage root, i.e. a daemon test's own dir.
	HostileDotDot = "dotdot"
	// Absolute symlinks into HostileHostDir: /etc/passwd, /wd (WorkingDir
	// /wd/sub), /vol (VOLUME /vol/data) and /hostbin (holding
	// "hostile-cmd"); USER "hostile". Followed on the host instead of in
	// the rootfs, they reach files a test put in HostileHostDir.
	HostileSymlink = "symlink"
	// A hard link "evil-link" to "../../../../hostile-target" (next to the
	// storage root, like HostileDotDot).
	HostileHardlinkDotDot = "hardlink-dotdot"
	// A hard link "evil-passwd" to "/etc/passwd" (absolute) in a layer that
	// has no etc/passwd of its own: a link to the host's file if resolved
	// on the host.
	HostileHardlinkAbs = "hardlink-abs"
	// Device nodes: char 1:1 (/dev/mem) as /hostile-mem, block 8:0 (the
	// first SCSI disk) as /hostile-disk, and a fifo /hostile-fifo.
	HostileDevices = "devices"
	// A setuid-root 04777 /hostile-suid, a setgid 02755 /hostile-sgid, and
	// nonewprivs' setuid-root /usr/local/bin/nnp (prints "Effective uid: N").
	HostileSetuid = "setuid"
	// A PAX (GNU 1.0) sparse member /hostile-sparse of HostileSparseSize
	// bytes: one data block of 512 bytes at the end, the rest a hole. The
	// layer is a few hundred bytes compressed.
	HostileSparse = "sparse"
	// The same as an old-GNU sparse member (tar type 'S').
	HostileSparseGNU = "sparse-gnu"
	// A manifest of HostileBigSize bytes (an OCI manifest padded by an
	// annotation), streamed, never held in memory.
	HostileBigManifest = "big-manifest"
	// A config blob of HostileBigSize bytes (padded by a label); the
	// manifest states its true size.
	HostileBigConfig = "big-config"
	// /etc/passwd of HostilePasswdLines lines (about 30 MB); USER the last.
	HostilePasswdLines = "passwd-lines"
	// /etc/passwd with a line of 1 MiB between root and "hostile"; USER hostile.
	HostilePasswdLongLine = "passwd-longline"
	// USER "nosuchuser", which /etc/passwd lacks.
	HostileUserMissing = "user-missing"
	// Entrypoint /loop-a, a symlink to /loop-b, a symlink to /loop-a.
	HostileEntrypointLoop = "entrypoint-loop"
	// A config with HostileEnvCount Env entries.
	HostileEnv = "env-100k"
	// A layer whose served bytes do not match the digest in the manifest
	// (same size, one byte changed).
	HostileWrongDigest = "wrong-digest"
)

// HostileCases lists every hostile case.
var HostileCases = []string{
	HostileDotDot, HostileSymlink, HostileHardlinkDotDot, HostileHardlinkAbs, HostileDevices, HostileSetuid,
	HostileSparse, HostileSparseGNU, HostileBigManifest, HostileBigConfig, HostilePasswdLines,
	HostilePasswdLongLine, HostileUserMissing, HostileEntrypointLoop, HostileEnv, HostileWrongDigest,
}

// Sizes of the hostile cases.
const (
	// HostileHostDir is where HostileSymlink's absolute symlinks point. A
	// test that wants to see whether they were followed on the host puts
	// files there (it is fixed: the image is built once per process).
	HostileHostDir = "/tmp/crio-hostile-host"
	// HostileSparseSize is 1 GiB, not the 10 GiB of the threat: storage
	// unpacks a sparse member by writing its holes as zeros (its
	// extractor io.Copy's the tar reader into the file), so the apparent
	// size is written to disk: 10 GiB took about 35 s on the 2-core test
	// machine (2 GiB of zeros in 7 s), 1 GiB takes 3 to 4 s and shows the
	// same thing: a layer of a few hundred bytes costs its apparent size
	// on disk and nothing in the daemon's memory.
	HostileSparseSize = 1 << 30
	HostileBigSize    = 100 << 20
	// HostilePasswdLines is the line count of HostilePasswdLines' passwd.
	HostilePasswdLineCount = 1_000_000
	HostileEnvCount        = 100_000
)

// hostileContent is one served body: a manifest or a blob.
type hostileContent struct {
	size   int64
	digest v1.Hash
	open   func() io.Reader
}

func bytesContent(b []byte) hostileContent {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return hostileContent{size: int64(len(b)), digest: h, open: func() io.Reader { return bytes.NewReader(b) }}
}

// streamContent is a body made on the fly by open; its digest is
// computed once by reading it.
func streamContent(open func() io.Reader) (hostileContent, error) {
	h := sha256.New()
	n, err := io.Copy(h, open())
	if err != nil {
		return hostileContent{}, err
	}
	return hostileContent{size: n, digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, open: open}, nil
}

// hostileImage is what the handler serves for one case.
type hostileImage struct {
	mediaType types.MediaType
	manifest  hostileContent
	blobs     map[v1.Hash]hostileContent // blobs not in the registry's store
}

// hostileSet builds each case once, on first request.
type hostileSet struct {
	base  func() (busybox, nnp v1.Layer, err error)
	mu    sync.Mutex
	built map[string]*hostileImage
}

func newHostileSet(base func() (v1.Layer, v1.Layer, error)) *hostileSet {
	return &hostileSet{base: base, built: map[string]*hostileImage{}}
}

func (s *hostileSet) get(name string) (*hostileImage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if img, ok := s.built[name]; ok {
		return img, nil
	}
	img, err := s.build(name)
	if err != nil {
		return nil, fmt.Errorf("hostile image %s: %w", name, err)
	}
	s.built[name] = img
	return img, nil
}

// fromImage serves a v1.Image; its layers' blobs are served from memory
// (the busybox layer is in the registry's store already and is left to it).
func fromImage(img v1.Image, skip ...v1.Layer) (*hostileImage, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	out := &hostileImage{mediaType: mt, manifest: bytesContent(raw), blobs: map[v1.Hash]hostileContent{}}
	c := bytesContent(cfg)
	out.blobs[c.digest] = c
	skipped := map[v1.Hash]bool{}
	for _, l := range skip {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		skipped[d] = true
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		if skipped[d] {
			continue
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		out.blobs[d] = bytesContent(b)
	}
	return out, nil
}

func (s *hostileSet) build(name string) (*hostileImage, error) {
	bb, nnp, err := s.base()
	if err != nil {
		return nil, err
	}
	// onBusybox is busybox plus one layer l, with cfg.
	onBusybox := func(cfg v1.Config, ls ...*layerBuilder) (*hostileImage, error) {
		layers := []v1.Layer{bb}
		for _, l := range ls {
			layer, err := l.layer()
			if err != nil {
				return nil, err
			}
			layers = append(layers, layer)
		}
		img, err := newImage(cfg, layers...)
		if err != nil {
			return nil, err
		}
		return fromImage(img, bb)
	}
	cfg := busyboxConfig(map[string]string{"io.crio.testregistry.image": "hostile-" + name})
	l := newLayer()
	switch name {
	case HostileDotDot:
		l.file("../../../../hostile-escape/dotdot", 0o644, []byte("escaped\n"))
		return onBusybox(cfg, l)
	case HostileSymlink:
		l.symlink("etc/passwd", HostileHostDir+"/passwd")
		l.symlink("wd", HostileHostDir+"/wd")
		l.symlink("vol", HostileHostDir+"/vol")
		l.symlink("hostbin", HostileHostDir+"/bin")
		cfg.User = "hostile"
		cfg.WorkingDir = "/wd/sub"
		cfg.Volumes = map[string]struct{}{"/vol/data": {}}
		return onBusybox(cfg, l)
	case HostileHardlinkDotDot:
		l.link("evil-link", "../../../../hostile-target")
		return onBusybox(cfg, l)
	case HostileHardlinkAbs:
		l.link("evil-passwd", "/etc/passwd")
		return onBusybox(cfg, l)
	case HostileDevices:
		l.write(&tar.Header{Typeflag: tar.TypeChar, Name: "hostile-mem", Mode: 0o666, Devmajor: 1, Devminor: 1}, nil)
		l.write(&tar.Header{Typeflag: tar.TypeBlock, Name: "hostile-disk", Mode: 0o666, Devmajor: 8, Devminor: 0}, nil)
		l.write(&tar.Header{Typeflag: tar.TypeFifo, Name: "hostile-fifo", Mode: 0o666}, nil)
		return onBusybox(cfg, l)
	case HostileSetuid:
		l.file("hostile-suid", 0o4777, []byte("#!/bin/sh\nid\n"))
		l.file("hostile-sgid", 0o2755, []byte("#!/bin/sh\nid\n"))
		layers := []v1.Layer{bb, nnp}
		layer, err := l.layer()
		if err != nil {
			return nil, err
		}
		img, err := newImage(cfg, append(layers, layer)...)
		if err != nil {
			return nil, err
		}
		return fromImage(img, bb, nnp)
	case HostileSparse, HostileSparseGNU:
		tarData := sparseTar("hostile-sparse", HostileSparseSize, []byte("HOSTILE-END\n"), name == HostileSparseGNU)
		layer, err := layerFromTar(tarData)
		if err != nil {
			return nil, err
		}
		img, err := newImage(cfg, bb, layer)
		if err != nil {
			return nil, err
		}
		return fromImage(img, bb)
	case HostileBigManifest:
		return bigManifest(bb)
	case HostileBigConfig:
		return bigConfig(bb)
	case HostilePasswdLines:
		var b bytes.Buffer
		b.Grow(HostilePasswdLineCount * 32)
		b.WriteString(busyboxPasswd)
		for i := range HostilePasswdLineCount {
			fmt.Fprintf(&b, "u%07d:x:%d:%d::/:/bin/sh\n", i, 100000+i, 100000+i)
		}
		l.dir("etc", 0o755)
		l.file("etc/passwd", 0o644, b.Bytes())
		cfg.User = fmt.Sprintf("u%07d", HostilePasswdLineCount-1)
		return onBusybox(cfg, l)
	case HostilePasswdLongLine:
		passwd := "root:x:0:0:root:/root:/bin/sh\n" + "long:x:1:1:" + strings.Repeat("x", 1<<20) + ":/:/bin/sh\n" +
			"hostile:x:4242:4242::/:/bin/sh\n"
		l.dir("etc", 0o755)
		l.file("etc/passwd", 0o644, []byte(passwd))
		cfg.User = "hostile"
		return onBusybox(cfg, l)
	case HostileUserMissing:
		cfg.User = "nosuchuser"
		return onBusybox(cfg)
	case HostileEntrypointLoop:
		l.symlink("loop-a", "/loop-b")
		l.symlink("loop-b", "/loop-a")
		cfg.Entrypoint = []string{"/loop-a"}
		cfg.Cmd = nil
		return onBusybox(cfg, l)
	case HostileEnv:
		env := make([]string, 0, HostileEnvCount+1)
		env = append(env, DefaultPath)
		for i := range HostileEnvCount {
			env = append(env, fmt.Sprintf("HOSTILE_%06d=x", i))
		}
		cfg.Env = env
		return onBusybox(cfg)
	case HostileWrongDigest:
		l.file("wrong-digest", 0o644, []byte("the registry serves other bytes under this layer's digest\n"))
		img, err := onBusybox(cfg, l)
		if err != nil {
			return nil, err
		}
		var m struct {
			Layers []v1.Descriptor `json:"layers"`
		}
		b, _ := io.ReadAll(img.manifest.open())
		if err := json.Unmarshal(b, &m); err != nil || len(m.Layers) != 2 {
			return nil, fmt.Errorf("manifest %s: %v", b, err)
		}
		d := m.Layers[1].Digest
		good, _ := io.ReadAll(img.blobs[d].open())
		bad := bytes.Clone(good)
		bad[len(bad)/2] ^= 0xff
		img.blobs[d] = hostileContent{size: int64(len(bad)), digest: d, open: func() io.Reader { return bytes.NewReader(bad) }}
		return img, nil
	}
	return nil, fmt.Errorf("no such hostile case %q", name)
}

// layerFromTar is a gzip layer of a tar made by hand.
func layerFromTar(data []byte) (v1.Layer, error) {
	l := &layerBuilder{closed: true}
	l.buf.Write(data)
	return l.layer()
}

// sparseTar makes a tar of one sparse regular file of realSize bytes
// whose only data is tail, at its end. Go's tar.Writer cannot write
// sparse files, so the blocks are written by hand: a PAX extended header
// with the GNU 1.0 sparse records and the sparse map at the start of the
// data (what GNU tar --sparse --format=pax writes), or an old-GNU 'S'
// header with the map in the header.
func sparseTar(name string, realSize int64, tail []byte, oldGNU bool) []byte {
	data := make([]byte, 512)
	copy(data, tail)
	off := realSize - 512
	var out bytes.Buffer
	if oldGNU {
		h := tarBlock(name, 'S', 512)
		copy(h[257:265], "ustar  \x00")
		octal(h[386:398], off) // sparse[0].offset
		octal(h[398:410], 512) // sparse[0].numbytes
		octal(h[483:495], realSize)
		checksum(h)
		out.Write(h)
		out.Write(data)
	} else {
		rec := func(k, v string) string {
			s := " " + k + "=" + v + "\n"
			n := len(s) + 1
			for len(strconv.Itoa(n))+len(s) != n {
				n = len(strconv.Itoa(n)) + len(s)
			}
			return strconv.Itoa(n) + s
		}
		pax := rec("GNU.sparse.major", "1") + rec("GNU.sparse.minor", "0") + rec("GNU.sparse.name", name) +
			rec("GNU.sparse.realsize", strconv.FormatInt(realSize, 10))
		x := tarBlock("./PaxHeaders/"+name, 'x', int64(len(pax)))
		checksum(x)
		out.Write(x)
		out.Write(pad512([]byte(pax)))
		sparseMap := pad512([]byte(fmt.Sprintf("1\n%d\n512\n", off)))
		h := tarBlock("GNUSparseFile.0/"+name, '0', int64(len(sparseMap)+len(data)))
		checksum(h)
		out.Write(h)
		out.Write(sparseMap)
		out.Write(data)
	}
	out.Write(make([]byte, 1024)) // end of archive
	return out.Bytes()
}

// tarBlock is a ustar header block (checksum not yet set).
func tarBlock(name string, typ byte, size int64) []byte {
	h := make([]byte, 512)
	copy(h[0:100], name)
	octal(h[100:108], 0o644)
	octal(h[108:116], 0)
	octal(h[116:124], 0)
	octal(h[124:136], size)
	octal(h[136:148], epoch.Unix())
	h[156] = typ
	copy(h[257:265], "ustar\x0000")
	copy(h[265:297], "root")
	copy(h[297:329], "root")
	return h
}

// octal writes v as a NUL-terminated octal field filling f.
func octal(f []byte, v int64) {
	s := strconv.FormatInt(v, 8)
	s = strings.Repeat("0", len(f)-1-len(s)) + s
	copy(f, s)
	f[len(f)-1] = 0
}

func checksum(h []byte) {
	copy(h[148:156], "        ")
	var sum int64
	for _, b := range h {
		sum += int64(b)
	}
	copy(h[148:155], fmt.Sprintf("%06o\x00", sum))
}

func pad512(b []byte) []byte {
	if r := len(b) % 512; r != 0 {
		b = append(b, make([]byte, 512-r)...)
	}
	return b
}

// paddedJSON streams prefix, n bytes of 'x', suffix.
func paddedJSON(prefix string, n int64, suffix string) func() io.Reader {
	return func() io.Reader {
		return io.MultiReader(strings.NewReader(prefix), io.LimitReader(repeatReader('x'), n), strings.NewReader(suffix))
	}
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func descriptorJSON(mt types.MediaType, c hostileContent) string {
	return fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d}`, mt, c.digest, c.size)
}

// bigConfig is an OCI image of busybox whose config is HostileBigSize bytes.
func bigConfig(bb v1.Layer) (*hostileImage, error) {
	diffID, err := bb.DiffID()
	if err != nil {
		return nil, err
	}
	layerDesc, err := layerDescriptor(bb)
	if err != nil {
		return nil, err
	}
	prefix := `{"architecture":"amd64","os":"linux","config":{"Env":["` + DefaultPath + `"],"Cmd":["sh"],"Labels":{"pad":"`
	suffix := `"}},"rootfs":{"type":"layers","diff_ids":["` + diffID.String() + `"]}}`
	cfg, err := streamContent(paddedJSON(prefix, HostileBigSize-int64(len(prefix)+len(suffix)), suffix))
	if err != nil {
		return nil, err
	}
	m := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":` +
		descriptorJSON(types.OCIConfigJSON, cfg) + `,"layers":[` + layerDesc + `]}`
	return &hostileImage{mediaType: types.OCIManifestSchema1, manifest: bytesContent([]byte(m)), blobs: map[v1.Hash]hostileContent{cfg.digest: cfg}}, nil
}

// bigManifest is an OCI manifest of busybox padded to HostileBigSize bytes
// by an annotation.
func bigManifest(bb v1.Layer) (*hostileImage, error) {
	img, err := newImage(busyboxConfig(map[string]string{"io.crio.testregistry.image": "hostile-big-manifest"}), bb)
	if err != nil {
		return nil, err
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	cfg := bytesContent(raw)
	layerDesc, err := layerDescriptor(bb)
	if err != nil {
		return nil, err
	}
	prefix := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":` +
		descriptorJSON(types.OCIConfigJSON, cfg) + `,"layers":[` + layerDesc + `],"annotations":{"pad":"`
	suffix := `"}}`
	m, err := streamContent(paddedJSON(prefix, HostileBigSize-int64(len(prefix)+len(suffix)), suffix))
	if err != nil {
		return nil, err
	}
	return &hostileImage{mediaType: types.OCIManifestSchema1, manifest: m, blobs: map[v1.Hash]hostileContent{cfg.digest: cfg}}, nil
}

// layerDescriptor is l's descriptor as an OCI gzip layer (the busybox
// layer's bytes are gzip whatever the media type it was built with).
func layerDescriptor(l v1.Layer) (string, error) {
	d, err := l.Digest()
	if err != nil {
		return "", err
	}
	n, err := l.Size()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d}`, types.OCILayer, d, n), nil
}

// hostileHandler serves the hostile images' manifests and blobs, and
// passes everything else (the busybox layer they share, other images) to
// next.
func hostileHandler(next http.Handler, set *hostileSet, logf func(string, ...any)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/v2/"+HostilePrefix)
		if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			next.ServeHTTP(w, r)
			return
		}
		name, rest, _ := strings.Cut(rest, "/")
		kind, ref, _ := strings.Cut(rest, "/")
		img, err := set.get(name)
		if err != nil {
			logf("testregistry: %v", err)
			next.ServeHTTP(w, r) // unknown: the registry's own 404
			return
		}
		var c hostileContent
		var mt string
		switch {
		case kind == "manifests" && (ref == "latest" || ref == img.manifest.digest.String()):
			c, mt = img.manifest, string(img.mediaType)
			w.Header().Set("Docker-Content-Digest", c.digest.String())
		case kind == "blobs":
			h, err := v1.NewHash(ref)
			if b, ok := img.blobs[h]; err == nil && ok {
				c, mt = b, "application/octet-stream"
				break
			}
			next.ServeHTTP(w, r)
			return
		default:
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", mt)
		w.Header().Set("Content-Length", strconv.FormatInt(c.size, 10))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = io.Copy(w, c.open())
		}
	})
}

// hostileBase finds the busybox layer and nonewprivs' nnp layer in the
// built images.
func hostileBase(images map[string]v1.Image) func() (v1.Layer, v1.Layer, error) {
	return func() (v1.Layer, v1.Layer, error) {
		bb, ok := images[BusyboxImage]
		nn, ok2 := images[NoNewPrivsImage]
		if !ok || !ok2 {
			return nil, nil, fmt.Errorf("the image cache lacks %s or %s", BusyboxImage, NoNewPrivsImage)
		}
		bl, err := bb.Layers()
		if err != nil || len(bl) == 0 {
			return nil, nil, fmt.Errorf("layers of %s: %v", BusyboxImage, err)
		}
		nl, err := nn.Layers()
		if err != nil || len(nl) < 2 {
			return nil, nil, fmt.Errorf("layers of %s: %v", NoNewPrivsImage, err)
		}
		return bl[0], nl[len(nl)-1], nil
	}
}
