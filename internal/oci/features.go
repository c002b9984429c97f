package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// Features are what a handler's runtime binary can do, as it reports
// itself through `<runtime> features`.
type Features struct {
	// RecursiveReadOnly: "rro" mount option (CRI recursive_read_only).
	RecursiveReadOnly bool
	// UserNamespaces: the runtime knows the user namespace.
	UserNamespaces bool
	// IDMappedMounts: idmap mounts are compiled in.
	IDMappedMounts bool
}

// SupportsUserNamespaces says whether containers can run in a pod's user
// namespace with this runtime: it must know the user namespace and make
// idmapped mounts (for volumes with CRI uid/gid mappings).
func (f Features) SupportsUserNamespaces() bool { return f.UserNamespaces && f.IDMappedMounts }

// probeFeatures asks the runtime once. A runtime without the features
// command (crun 1.8) reports nothing, which reads as "unsupported".
func probeFeatures(runtimePath string) (Features, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, runtimePath, "features")
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return Features{}, fmt.Errorf("%s features: %w: %s", runtimePath, err, bytes.TrimSpace(errb.Bytes()))
	}
	var f features.Features
	if err := json.Unmarshal(out.Bytes(), &f); err != nil {
		return Features{}, fmt.Errorf("%s features: %w", runtimePath, err)
	}
	res := Features{RecursiveReadOnly: slices.Contains(f.MountOptions, "rro")}
	if l := f.Linux; l != nil {
		res.UserNamespaces = slices.Contains(l.Namespaces, "user")
		if m := l.MountExtensions; m != nil && m.IDMap != nil && m.IDMap.Enabled != nil {
			res.IDMappedMounts = *m.IDMap.Enabled
		}
	}
	return res, nil
}
