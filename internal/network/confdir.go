// Package network attaches pods to networks through CNI (libcni).
package network

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

// FindNetwork returns the network configuration pods use: the one named
// defaultName, or else the first valid file in dir by name. It returns an
// error saying why none is usable.
func FindNetwork(dir, defaultName string) (*libcni.NetworkConfigList, error) {
	return FindNetworkWith(dir, defaultName, nil)
}

// FindNetworkWith is FindNetwork with an extra check of each candidate
// (valid may be nil); a list it refuses is skipped like a malformed one.
func FindNetworkWith(dir, defaultName string, valid func(*libcni.NetworkConfigList) error) (*libcni.NetworkConfigList, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("CNI config dir %s does not exist", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("reading CNI config dir: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".conflist", ".conf", ".json":
			if !e.IsDir() {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	var problems []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		var list *libcni.NetworkConfigList
		if strings.HasSuffix(n, ".conflist") {
			list, err = libcni.ConfListFromFile(p)
		} else {
			var data []byte
			var conf *libcni.PluginConfig
			if data, err = os.ReadFile(p); err == nil {
				if conf, err = libcni.NetworkPluginConfFromBytes(data); err == nil {
					list, err = libcni.ConfListFromConf(conf)
				}
			}
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", n, err))
			continue
		}
		if len(list.Plugins) == 0 {
			problems = append(problems, fmt.Sprintf("%s: no plugins", n))
			continue
		}
		if valid != nil && (defaultName == "" || list.Name == defaultName) {
			if err := valid(list); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", n, err))
				continue
			}
		}
		if defaultName == "" || list.Name == defaultName {
			return list, nil
		}
	}
	if defaultName != "" {
		if len(problems) > 0 {
			return nil, fmt.Errorf("no usable CNI network named %q in %s: %s", defaultName, dir, strings.Join(problems, "; "))
		}
		return nil, fmt.Errorf("no CNI network named %q in %s", defaultName, dir)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("no valid CNI network config in %s: %s", dir, strings.Join(problems, "; "))
	}
	return nil, fmt.Errorf("no CNI network config found in %s", dir)
}
