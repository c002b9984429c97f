// Package blockdev names block devices as cAdvisor's metrics do
// ("/dev/vda"), from their major:minor numbers.
package blockdev

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// sysDevBlock is where the kernel lists block devices by major:minor.
var sysDevBlock = "/sys/dev/block"

var names sync.Map // "major:minor" -> name

// Name is "/dev/NAME" for the block device major:minor, from its uevent
// in sysfs, or "major:minor" for a device the kernel does not list (a
// tmpfs or overlay has no block device). Names are cached: a device's
// number does not change while it exists.
func Name(major, minor uint32) string {
	key := fmt.Sprintf("%d:%d", major, minor)
	if n, ok := names.Load(key); ok {
		return n.(string)
	}
	name := key
	if f, err := os.Open(sysDevBlock + "/" + key + "/uevent"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "DEVNAME="); ok && v != "" {
				name = "/dev/" + v
				break
			}
		}
		f.Close()
		names.Store(key, name)
	}
	return name
}

// OfPath names the device of the file system path is on.
func OfPath(path string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "", fmt.Errorf("stat %s: %w", path, err)
	}
	return Name(unix.Major(st.Dev), unix.Minor(st.Dev)), nil
}
