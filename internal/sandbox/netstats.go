package sandbox

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// InterfaceStats are the counters of one network interface.
type InterfaceStats struct {
	Name                                       string
	RxBytes, RxErrors, TxBytes, TxErrors       uint64
	RxPackets, RxDropped, TxPackets, TxDropped uint64
}

// NetworkStats reads the interface counters of the network namespace
// pinned at netns.
func NetworkStats(netns string) ([]InterfaceStats, error) {
	var data []byte
	err := inNetNamespace(netns, func() error {
		// thread-self: /proc/net follows the thread group leader, which
		// stays in the daemon's namespace.
		var err error
		data, err = os.ReadFile("/proc/thread-self/net/dev")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading interface counters of %s: %w", netns, err)
	}
	return parseNetDev(data)
}

// parseNetDev parses /proc/net/dev: two header lines, then
// "name: rx bytes packets errs drop fifo frame compressed multicast
// tx bytes packets errs drop ...".
func parseNetDev(data []byte) ([]InterfaceStats, error) {
	var out []InterfaceStats
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 12 {
			return nil, fmt.Errorf("malformed /proc/net/dev line %q", sc.Text())
		}
		n := make([]uint64, 12)
		for i := range n {
			v, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("malformed /proc/net/dev line %q: %w", sc.Text(), err)
			}
			n[i] = v
		}
		out = append(out, InterfaceStats{
			Name:    strings.TrimSpace(name),
			RxBytes: n[0], RxPackets: n[1], RxErrors: n[2], RxDropped: n[3],
			TxBytes: n[8], TxPackets: n[9], TxErrors: n[10], TxDropped: n[11],
		})
	}
	return out, sc.Err()
}
