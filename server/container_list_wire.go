package server

import (
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/store"
)

// ListContainers answers with its containers already encoded: marshalling
// 500 entries' label and annotation maps through reflection took ~80% of
// the daemon's time for the RPC (BenchmarkListContainersInMemory500).
// Each container's unchanging fields are encoded once (store.ListWire)
// and only its state is appended per call. The entries travel as the
// response's unknown fields, which proto.Marshal copies verbatim: on the
// wire they are exactly repeated field 1 (containers), so clients decode
// an ordinary ListContainersResponse. In-process, Containers is empty
// until the response has been through proto.Marshal and Unmarshal.
const (
	listContainersField = 1 // ListContainersResponse.containers
	containerStateField = 6 // Container.state
)

// wireContainers encodes the containers field of a ListContainersResponse
// for cs, in order, each with its current state, appending to the buffer
// alloc returns for the size it needs. alloc is called only once every
// entry is encoded: after an error it has not been called.
func wireContainers(cs []listed, alloc func(size int) []byte) ([]byte, error) {
	statics := make([][]byte, len(cs))
	size := 0
	for i, l := range cs {
		static, err := l.c.ListWire(func() ([]byte, error) { return proto.Marshal(listEntry(l.c, 0)) })
		if err != nil {
			return nil, fmt.Errorf("encoding container %s: %w", l.c.ID, err)
		}
		statics[i] = static
		size += len(static) + 2*binary.MaxVarintLen64 + 2
	}
	out := alloc(size)[:0]
	for i, l := range cs {
		n := len(statics[i])
		if l.state != 0 { // proto3 leaves zero values out
			n += protowire.SizeTag(containerStateField) + protowire.SizeVarint(uint64(l.state))
		}
		out = protowire.AppendTag(out, listContainersField, protowire.BytesType)
		out = protowire.AppendVarint(out, uint64(n))
		out = append(out, statics[i]...)
		if l.state != 0 {
			out = protowire.AppendTag(out, containerStateField, protowire.VarintType)
			out = protowire.AppendVarint(out, uint64(l.state))
		}
	}
	return out, nil
}

func listEntry(c *store.Container, state runtimeapi.ContainerState) *runtimeapi.Container {
	return &runtimeapi.Container{
		Id:           c.ID,
		PodSandboxId: c.SandboxID,
		Metadata:     c.Config.GetMetadata(),
		Image:        imageSpec(c),
		ImageRef:     c.ImageRef,
		ImageId:      c.ImageID,
		State:        state,
		CreatedAt:    c.CreatedAt.UnixNano(),
		Labels:       c.Config.GetLabels(),
		Annotations:  c.Config.GetAnnotations(),
	}
}
