package spec

import (
	"fmt"
	"slices"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-tools/generate"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// UserNS is the pod's user namespace, which all its containers join.
type UserNS struct {
	// Path is the pinned namespace; "" means the pod runs in the host's.
	Path string
	// UIDs and GIDs are the pod's mappings (container ID 0 first).
	UIDs, GIDs []rspec.LinuxIDMapping
}

// PodUserNS describes the user namespace of a pod pinned at path with
// the (validated) options it was created with.
func PodUserNS(path string, u *runtimeapi.UserNamespace) UserNS {
	if path == "" {
		return UserNS{}
	}
	conv := func(in []*runtimeapi.IDMapping) []rspec.LinuxIDMapping {
		out := make([]rspec.LinuxIDMapping, 0, len(in))
		for _, m := range in {
			out = append(out, rspec.LinuxIDMapping{ContainerID: m.GetContainerId(), HostID: m.GetHostId(), Size: m.GetLength()})
		}
		return out
	}
	return UserNS{Path: path, UIDs: conv(u.GetUids()), GIDs: conv(u.GetGids())}
}

// CheckContainerUserNS checks a container's user namespace request
// against its pod's: a container runs in its pod's user namespace, or in
// the host's when the pod does. The request may repeat the pod's options
// (the kubelet sends the pod's NamespaceOption) but never differ.
func CheckContainerUserNS(pod UserNS, sc *runtimeapi.LinuxContainerSecurityContext) error {
	if pod.Path != "" && sc.GetNamespaceOptions().GetPid() == runtimeapi.NamespaceMode_NODE {
		return invalidf("PID mode NODE in a pod with its own user namespace: the host's PID namespace is not the user namespace's")
	}
	u := sc.GetNamespaceOptions().GetUsernsOptions()
	if u == nil {
		// Nil is POD mode (the proto): the pod's, whatever it is.
		return nil
	}
	switch u.GetMode() {
	case runtimeapi.NamespaceMode_POD:
		if len(u.GetUids()) == 0 && len(u.GetGids()) == 0 {
			return nil
		}
		if pod.Path == "" {
			return invalidf("user namespace mode POD with mappings, but the pod runs in the host's user namespace")
		}
		if !sameMappings(u.GetUids(), pod.UIDs) || !sameMappings(u.GetGids(), pod.GIDs) {
			return invalidf("user namespace mappings (uids %s, gids %s) differ from the pod's (uids %s, gids %s)",
				criMappings(u.GetUids()), criMappings(u.GetGids()), ociMappings(pod.UIDs), ociMappings(pod.GIDs))
		}
		return nil
	case runtimeapi.NamespaceMode_NODE:
		if pod.Path != "" {
			return invalidf("user namespace mode NODE, but the pod has its own user namespace, which its containers share")
		}
		return nil
	default:
		return invalidf("user namespace mode %s is not supported for a container (only POD or NODE, as its pod)", u.GetMode())
	}
}

func sameMappings(cri []*runtimeapi.IDMapping, oci []rspec.LinuxIDMapping) bool {
	return slices.EqualFunc(cri, oci, func(c *runtimeapi.IDMapping, o rspec.LinuxIDMapping) bool {
		return c.GetContainerId() == o.ContainerID && c.GetHostId() == o.HostID && c.GetLength() == o.Size
	})
}

func criMappings(ms []*runtimeapi.IDMapping) string {
	var o []rspec.LinuxIDMapping
	for _, m := range ms {
		o = append(o, rspec.LinuxIDMapping{ContainerID: m.GetContainerId(), HostID: m.GetHostId(), Size: m.GetLength()})
	}
	return ociMappings(o)
}

func ociMappings(ms []rspec.LinuxIDMapping) string {
	s := "["
	for i, m := range ms {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%d:%d:%d", m.ContainerID, m.HostID, m.Size)
	}
	return s + "]"
}

// setUserNS joins the pod's user namespace, if it has one, and checks
// that the process's IDs exist in it (runc would fail later, less
// clearly).
func setUserNS(g *generate.Generator, ns UserNS, u User) error {
	if ns.Path == "" {
		return nil
	}
	if err := g.AddOrReplaceLinuxNamespace(string(rspec.UserNamespace), ns.Path); err != nil {
		return err
	}
	// No linux.uidMappings: the runtime reads them from the namespace it
	// joins (runc warns when both are given).
	g.Config.Linux.UIDMappings, g.Config.Linux.GIDMappings = nil, nil
	if !mapped(ns.UIDs, u.UID) {
		return invalidf("user %d is not mapped in the pod's user namespace (uids %s)", u.UID, ociMappings(ns.UIDs))
	}
	for _, gid := range append([]uint32{u.GID}, u.SupplementalGroups...) {
		if !mapped(ns.GIDs, gid) {
			return invalidf("group %d is not mapped in the pod's user namespace (gids %s)", gid, ociMappings(ns.GIDs))
		}
	}
	return nil
}

func mapped(ms []rspec.LinuxIDMapping, id uint32) bool {
	for _, m := range ms {
		if id >= m.ContainerID && uint64(id) < uint64(m.ContainerID)+uint64(m.Size) {
			return true
		}
	}
	return false
}
