package testregistry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// epoch is the timestamp of every file and image so that a rebuild of the
// cache produces the same digests.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// layerBuilder writes an uncompressed layer tar in memory. Entries are
// written in the order they are added; parents must be added first.
type layerBuilder struct {
	buf    bytes.Buffer
	tw     *tar.Writer
	err    error
	closed bool
}

func newLayer() *layerBuilder {
	l := &layerBuilder{}
	l.tw = tar.NewWriter(&l.buf)
	return l
}

func (l *layerBuilder) write(h *tar.Header, data []byte) {
	if l.err != nil {
		return
	}
	h.ModTime = epoch
	h.Format = tar.FormatPAX
	if h.Uname == "" && h.Uid == 0 {
		h.Uname = "root"
	}
	if h.Gname == "" && h.Gid == 0 {
		h.Gname = "root"
	}
	if err := l.tw.WriteHeader(h); err != nil {
		l.err = fmt.Errorf("tar header %s: %w", h.Name, err)
		return
	}
	if len(data) > 0 {
		if _, err := l.tw.Write(data); err != nil {
			l.err = fmt.Errorf("tar data %s: %w", h.Name, err)
		}
	}
}

// dir adds a directory owned by root. mode may carry the sticky bit.
func (l *layerBuilder) dir(name string, mode int64) {
	l.write(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode}, nil)
}

// dirs adds each directory with mode 0755.
func (l *layerBuilder) dirs(names ...string) {
	for _, n := range names {
		l.dir(n, 0o755)
	}
}

// file adds a regular file owned by root. mode may carry the setuid bit.
func (l *layerBuilder) file(name string, mode int64, data []byte) {
	l.write(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data))}, data)
}

// link adds a hard link name -> target (both paths inside the layer).
func (l *layerBuilder) link(name, target string) {
	l.write(&tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o755}, nil)
}

// symlink adds a symbolic link name -> target.
func (l *layerBuilder) symlink(name, target string) {
	l.write(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}, nil)
}

// tarBytes closes the tar (once) and returns it, uncompressed. Nothing
// may be added after.
func (l *layerBuilder) tarBytes() ([]byte, error) {
	if l.err != nil {
		return nil, l.err
	}
	if !l.closed {
		if err := l.tw.Close(); err != nil {
			return nil, fmt.Errorf("close layer tar: %w", err)
		}
		l.closed = true
	}
	return l.buf.Bytes(), nil
}

// layer closes the tar and returns it as a gzip-compressed image layer.
func (l *layerBuilder) layer() (v1.Layer, error) {
	data, err := l.tarBytes()
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithCompressionLevel(gzip.BestSpeed))
}

// parentDirs lists the parent directories of p, outermost first.
func parentDirs(p string) []string {
	var out []string
	for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
		out = append([]string{d}, out...)
	}
	return out
}
