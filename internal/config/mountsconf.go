package config

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The mounts.conf files CRI-O (containers-common) reads when
// default_mounts_file is empty: the first that exists.
var DefaultMountsFiles = []string{"/etc/containers/mounts.conf", "/usr/share/containers/mounts.conf"}

// DefaultMount is one line of mounts.conf: a host file or directory and
// where the container sees it.
type DefaultMount struct {
	Host, Container string
}

// MountsFile is the mounts.conf in force for default_mounts_file f: f
// itself, or when f is empty the first of DefaultMountsFiles that exists
// ("" when none does).
func MountsFile(f string) string {
	if f != "" {
		return f
	}
	for _, d := range DefaultMountsFiles {
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	return ""
}

// ReadMountsConf reads a mounts.conf: one "/host/path[:/container/path]"
// a line (the container path is the host path when absent), blank lines
// and lines starting with # skipped. A file that does not exist has no
// mounts; a line of any other form is an error that names the file and
// line (CRI-O skips such a line silently).
func ReadMountsConf(path string) ([]DefaultMount, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []DefaultMount
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		host, ctr, ok := strings.Cut(line, ":")
		if !ok {
			ctr = host
		}
		if !filepath.IsAbs(host) || !filepath.IsAbs(ctr) || strings.Contains(ctr, ":") {
			return nil, fmt.Errorf("%s:%d: %q is not of the form /host/path[:/container/path]", path, n, line)
		}
		out = append(out, DefaultMount{Host: filepath.Clean(host), Container: filepath.Clean(ctr)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
}
