package testregistry

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// The passwd and group files of docker.io/library/busybox, which the
// CRI validation suite's user tests rely on (www-data 33, nobody 65534).
const (
	busyboxPasswd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`
	busyboxGroup = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
`
)

// busyboxDeb returns the path of Debian's busybox package in cacheDir/debs,
// downloading it with apt-get the first time.
func busyboxDeb(cacheDir string, logf func(string, ...any)) (string, error) {
	debDir := filepath.Join(cacheDir, "debs")
	if m, _ := filepath.Glob(filepath.Join(debDir, "busybox_*.deb")); len(m) > 0 {
		sort.Strings(m)
		return m[len(m)-1], nil
	}
	if err := os.MkdirAll(debDir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(debDir, "download-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	logf("testregistry: apt-get download busybox")
	cmd := exec.Command("apt-get", "download", "-o", "APT::Sandbox::User=root", "busybox")
	cmd.Dir = tmp
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("apt-get download busybox: %w: %s", err, msg)
	}
	m, _ := filepath.Glob(filepath.Join(tmp, "busybox_*.deb"))
	if len(m) != 1 {
		return "", fmt.Errorf("apt-get download busybox left %d .deb files", len(m))
	}
	dst := filepath.Join(debDir, filepath.Base(m[0]))
	if err := os.Rename(m[0], dst); err != nil {
		return "", err
	}
	return dst, nil
}

// sharedLib is one file the dynamic loader needs, as ldd reports it.
type sharedLib struct {
	imagePath string // where it goes in the image, without leading slash
	hostPath  string // the file on the host
}

// lddLibs lists the shared objects (and the loader) that bin needs, placing
// the libraries in lib/x86_64-linux-gnu and the loader at its absolute path.
func lddLibs(bin string) ([]sharedLib, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	var libs []sharedLib
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if strings.Contains(sc.Text(), "not found") {
			return nil, fmt.Errorf("ldd %s: %s", bin, strings.TrimSpace(sc.Text()))
		}
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs = append(libs, sharedLib{imagePath: "lib/x86_64-linux-gnu/" + f[0], hostPath: f[2]})
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			libs = append(libs, sharedLib{imagePath: strings.TrimPrefix(path.Clean(f[0]), "/"), hostPath: f[0]})
		}
	}
	if len(libs) == 0 {
		return nil, fmt.Errorf("ldd %s found no shared libraries: is it dynamically linked?", bin)
	}
	return libs, nil
}

// busyboxLayer builds the root filesystem of the busybox image: Debian's
// dynamically linked busybox with every applet a hard link in /bin (a
// dynamic busybox execs applets, so masking /bin/ls really hides ls), its
// libc from the host, and static pgrep and ipcs, which Debian's busybox lacks.
func busyboxLayer(work, deb string, bins map[string][]byte) (*layerBuilder, error) {
	root := filepath.Join(work, "busybox-deb")
	if msg, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("dpkg-deb -x %s: %w: %s", deb, err, msg)
	}
	bbPath := filepath.Join(root, "bin", "busybox")
	bb, err := os.ReadFile(bbPath)
	if err != nil {
		return nil, err
	}
	listOut, err := exec.Command(bbPath, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	libs, err := lddLibs(bbPath)
	if err != nil {
		return nil, err
	}

	l := newLayer()
	l.dirs("bin", "dev", "etc", "home", "lib", "lib/x86_64-linux-gnu", "lib64", "proc")
	l.dir("root", 0o700)
	l.dirs("sys")
	l.dir("tmp", 0o1777)
	l.dirs("usr", "usr/bin", "usr/sbin", "usr/local", "usr/local/bin", "usr/local/sbin",
		"var", "var/run", "var/spool", "var/spool/mail", "var/www")
	l.file("bin/busybox", 0o755, bb)
	for _, applet := range strings.Fields(string(listOut)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		l.link("bin/"+applet, "bin/busybox")
	}
	l.file("bin/pgrep", 0o755, bins["pgrep"])
	l.file("bin/ipcs", 0o755, bins["ipcs"])
	for _, lib := range libs {
		data, err := os.ReadFile(lib.hostPath)
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", lib.hostPath, err)
		}
		l.file(lib.imagePath, 0o755, data)
	}
	l.file("etc/passwd", 0o644, []byte(busyboxPasswd))
	l.file("etc/group", 0o644, []byte(busyboxGroup))
	return l, nil
}
