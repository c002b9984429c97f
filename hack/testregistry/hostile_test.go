package testregistry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// hostileGet fetches a hostile image's manifest (what is "manifests/latest")
// or a blob, returning the body, its Content-Type and Docker-Content-Digest.
func hostileGet(t *testing.T, name, what string) (io.ReadCloser, *http.Response) {
	t.Helper()
	url := fmt.Sprintf("http://%s/v2/%s%s/%s", shared.Addr, HostilePrefix, name, what)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return resp.Body, resp
}

type hostileManifest struct {
	MediaType string          `json:"mediaType"`
	Config    v1.Descriptor   `json:"config"`
	Layers    []v1.Descriptor `json:"layers"`
}

func hostileManifestOf(t *testing.T, name string) hostileManifest {
	t.Helper()
	body, resp := hostileGet(t, name, "manifests/latest")
	defer body.Close()
	raw, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if got := resp.Header.Get("Docker-Content-Digest"); got != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("%s: Docker-Content-Digest %s is not the body's", name, got)
	}
	var m hostileManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s manifest: %v", name, err)
	}
	return m
}

// hostileBlob fetches a blob and checks it against its digest unless the
// case is meant to serve a wrong one.
func hostileBlob(t *testing.T, name string, d v1.Hash) []byte {
	t.Helper()
	body, _ := hostileGet(t, name, "blobs/"+d.String())
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hostileConfig(t *testing.T, name string) *v1.ConfigFile {
	t.Helper()
	m := hostileManifestOf(t, name)
	var cfg v1.ConfigFile
	if err := json.Unmarshal(hostileBlob(t, name, m.Config.Digest), &cfg); err != nil {
		t.Fatalf("%s config: %v", name, err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("%s is %s/%s; want linux/amd64", name, cfg.OS, cfg.Architecture)
	}
	return &cfg
}

// lastLayerHeaders reads the tar headers (and small files' data) of the
// image's last layer.
func lastLayerHeaders(t *testing.T, name string) ([]*tar.Header, map[string][]byte) {
	t.Helper()
	m := hostileManifestOf(t, name)
	if len(m.Layers) < 2 {
		t.Fatalf("%s has %d layers; want busybox and more", name, len(m.Layers))
	}
	l := m.Layers[len(m.Layers)-1]
	blob := hostileBlob(t, name, l.Digest)
	if h, _, _ := v1.SHA256(bytes.NewReader(blob)); h != l.Digest {
		t.Fatalf("%s layer digest %s, served %s", name, l.Digest, h)
	}
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var hdrs []*tar.Header
	data := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s layer tar: %v", name, err)
		}
		hdrs = append(hdrs, h)
		if h.Typeflag == tar.TypeReg && h.Size < 64<<20 {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			data[h.Name] = b
		}
	}
	return hdrs, data
}

func findHeader(hdrs []*tar.Header, name string) *tar.Header {
	for _, h := range hdrs {
		if h.Name == name {
			return h
		}
	}
	return nil
}

func TestHostileLayersHoldWhatTheyClaim(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(t *testing.T, hdrs []*tar.Header, data map[string][]byte)
	}{
		{HostileDotDot, func(t *testing.T, hdrs []*tar.Header, _ map[string][]byte) {
			if h := findHeader(hdrs, "../../../../hostile-escape/dotdot"); h == nil || h.Typeflag != tar.TypeReg {
				t.Errorf("no ../ regular file member in %v", names(hdrs))
			}
		}},
		{HostileSymlink, func(t *testing.T, hdrs []*tar.Header, _ map[string][]byte) {
			for _, n := range []string{"etc/passwd", "wd", "vol", "hostbin"} {
				h := findHeader(hdrs, n)
				if h == nil || h.Typeflag != tar.TypeSymlink || !strings.HasPrefix(h.Linkname, HostileHostDir+"/") {
					t.Errorf("%s: %+v; want a symlink into %s", n, h, HostileHostDir)
				}
			}
		}},
		{HostileHardlinkDotDot, func(t *testing.T, hdrs []*tar.Header, _ map[string][]byte) {
			if h := findHeader(hdrs, "evil-link"); h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "../../../../hostile-target" {
				t.Errorf("evil-link: %+v", h)
			}
		}},
		{HostileHardlinkAbs, func(t *testing.T, hdrs []*tar.Header, _ map[string][]byte) {
			if h := findHeader(hdrs, "evil-passwd"); h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "/etc/passwd" {
				t.Errorf("evil-passwd: %+v", h)
			}
			if findHeader(hdrs, "etc/passwd") != nil {
				t.Error("the layer has its own etc/passwd: the link would not point out of it")
			}
		}},
		{HostileDevices, func(t *testing.T, hdrs []*tar.Header, _ map[string][]byte) {
			mem, disk, fifo := findHeader(hdrs, "hostile-mem"), findHeader(hdrs, "hostile-disk"), findHeader(hdrs, "hostile-fifo")
			if mem == nil || mem.Typeflag != tar.TypeChar || mem.Devmajor != 1 || mem.Devminor != 1 {
				t.Errorf("hostile-mem: %+v", mem)
			}
			if disk == nil || disk.Typeflag != tar.TypeBlock || disk.Devmajor != 8 || disk.Devminor != 0 {
				t.Errorf("hostile-disk: %+v", disk)
			}
			if fifo == nil || fifo.Typeflag != tar.TypeFifo {
				t.Errorf("hostile-fifo: %+v", fifo)
			}
		}},
		{HostileSetuid, func(t *testing.T, hdrs []*tar.Header, _ map[string][]byte) {
			if h := findHeader(hdrs, "hostile-suid"); h == nil || h.Mode != 0o4777 {
				t.Errorf("hostile-suid: %+v", h)
			}
			if h := findHeader(hdrs, "hostile-sgid"); h == nil || h.Mode != 0o2755 {
				t.Errorf("hostile-sgid: %+v", h)
			}
		}},
		{HostilePasswdLines, func(t *testing.T, _ []*tar.Header, data map[string][]byte) {
			p := data["etc/passwd"]
			if n := bytes.Count(p, []byte("\n")); n < HostilePasswdLineCount {
				t.Errorf("etc/passwd has %d lines; want %d or more", n, HostilePasswdLineCount)
			}
		}},
		{HostilePasswdLongLine, func(t *testing.T, _ []*tar.Header, data map[string][]byte) {
			lines := strings.Split(string(data["etc/passwd"]), "\n")
			if len(lines) < 3 || len(lines[1]) < 1<<20 || !strings.HasPrefix(lines[2], "hostile:") {
				t.Errorf("etc/passwd: %d lines, the second %d bytes; want root, a 1 MiB line, hostile", len(lines), len(lines[1]))
			}
		}},
		{HostileEntrypointLoop, func(t *testing.T, hdrs []*tar.Header, _ map[string][]byte) {
			a, b := findHeader(hdrs, "loop-a"), findHeader(hdrs, "loop-b")
			if a == nil || b == nil || a.Linkname != "/loop-b" || b.Linkname != "/loop-a" {
				t.Errorf("loop-a %+v, loop-b %+v; want a symlink loop", a, b)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdrs, data := lastLayerHeaders(t, tc.name)
			tc.check(t, hdrs, data)
		})
	}
}

func names(hdrs []*tar.Header) []string {
	var out []string
	for _, h := range hdrs {
		out = append(out, h.Name)
	}
	return out
}

func TestHostileConfigs(t *testing.T) {
	if u := hostileConfig(t, HostileSymlink).Config; u.User != "hostile" || u.WorkingDir != "/wd/sub" || len(u.Volumes) != 1 {
		t.Errorf("symlink config %+v; want USER hostile, WorkingDir /wd/sub, VOLUME /vol/data", u)
	}
	if u := hostileConfig(t, HostileUserMissing).Config.User; u != "nosuchuser" {
		t.Errorf("user-missing USER %q", u)
	}
	if c := hostileConfig(t, HostileEntrypointLoop).Config; len(c.Entrypoint) != 1 || c.Entrypoint[0] != "/loop-a" {
		t.Errorf("entrypoint-loop Entrypoint %q", c.Entrypoint)
	}
	if n := len(hostileConfig(t, HostileEnv).Config.Env); n != HostileEnvCount+1 {
		t.Errorf("env-100k has %d Env entries; want %d", n, HostileEnvCount+1)
	}
}

// TestHostileSparseMembers reads the sparse members' headers: the tar
// reader sees a file of HostileSparseSize bytes in a layer of a few
// hundred. Their data is not read: that would be 1 GiB of zeros.
func TestHostileSparseMembers(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  byte
	}{{HostileSparse, tar.TypeReg}, {HostileSparseGNU, tar.TypeGNUSparse}} {
		t.Run(tc.name, func(t *testing.T) {
			m := hostileManifestOf(t, tc.name)
			l := m.Layers[len(m.Layers)-1]
			if l.Size > 4096 {
				t.Errorf("the sparse layer is %d bytes compressed; want a few hundred", l.Size)
			}
			zr, err := gzip.NewReader(bytes.NewReader(hostileBlob(t, tc.name, l.Digest)))
			if err != nil {
				t.Fatal(err)
			}
			h, err := tar.NewReader(zr).Next()
			if err != nil {
				t.Fatal(err)
			}
			if h.Name != "hostile-sparse" || h.Typeflag != tc.typ || h.Size != HostileSparseSize {
				t.Errorf("member %q type %q size %d; want hostile-sparse type %q size %d", h.Name, h.Typeflag, h.Size, tc.typ, int64(HostileSparseSize))
			}
		})
	}
}

// TestHostileBigBodiesAreServedWhole streams the 100 MiB manifest and
// config and checks their size, digest and that they are JSON.
func TestHostileBigBodiesAreServedWhole(t *testing.T) {
	check := func(t *testing.T, body io.ReadCloser, wantDigest string) {
		t.Helper()
		defer body.Close()
		h := sha256.New()
		var v map[string]any
		if err := json.NewDecoder(io.TeeReader(body, h)).Decode(&v); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		n, _ := io.Copy(h, body)
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != wantDigest {
			t.Errorf("digest %s; want %s (%d trailing bytes)", got, wantDigest, n)
		}
	}
	t.Run(HostileBigManifest, func(t *testing.T) {
		body, resp := hostileGet(t, HostileBigManifest, "manifests/latest")
		if resp.ContentLength != HostileBigSize {
			t.Errorf("Content-Length %d; want %d", resp.ContentLength, HostileBigSize)
		}
		check(t, body, resp.Header.Get("Docker-Content-Digest"))
	})
	t.Run(HostileBigConfig, func(t *testing.T) {
		m := hostileManifestOf(t, HostileBigConfig)
		if m.Config.Size != HostileBigSize {
			t.Errorf("config descriptor size %d; want %d", m.Config.Size, HostileBigSize)
		}
		body, resp := hostileGet(t, HostileBigConfig, "blobs/"+m.Config.Digest.String())
		if resp.ContentLength != HostileBigSize {
			t.Errorf("Content-Length %d; want %d", resp.ContentLength, HostileBigSize)
		}
		check(t, body, m.Config.Digest.String())
	})
}

func TestHostileWrongDigestLayerDoesNotMatch(t *testing.T) {
	m := hostileManifestOf(t, HostileWrongDigest)
	l := m.Layers[len(m.Layers)-1]
	b := hostileBlob(t, HostileWrongDigest, l.Digest)
	if int64(len(b)) != l.Size {
		t.Errorf("served %d bytes; the manifest says %d (only the digest should be wrong)", len(b), l.Size)
	}
	if h, _, _ := v1.SHA256(bytes.NewReader(b)); h == l.Digest {
		t.Error("the served layer matches its digest")
	}
	// The busybox layer, served by the registry's store, is intact.
	if h, _, _ := v1.SHA256(bytes.NewReader(hostileBlob(t, HostileWrongDigest, m.Layers[0].Digest))); h != m.Layers[0].Digest {
		t.Errorf("busybox layer under the hostile name does not match its digest")
	}
}

func TestEveryHostileCaseIsServed(t *testing.T) {
	for _, n := range HostileCases {
		body, resp := hostileGet(t, n, "manifests/latest")
		body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "manifest") {
			t.Errorf("%s: Content-Type %q", n, ct)
		}
	}
	resp, err := http.Get(fmt.Sprintf("http://%s/v2/%sno-such-case/manifests/latest", shared.Addr, HostilePrefix))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown hostile case: %s; want 404", resp.Status)
	}
}
