package fuzz

import (
	"encoding/binary"
	"hash/fnv"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// An input is a sequence of calls, each
//
//	[1 byte: method, modulo len(methods)] [2 bytes little-endian: n] [n bytes: the request, protobuf wire format]
//
// (a short last call takes what is left). The request bytes go through
// proto.Unmarshal into the method's request type, so the fuzzer sends
// structurally random requests; then rewrite swaps in the IDs of objects
// the sequence made and keeps the request on this machine's test
// resources (see rewrite).
const (
	callHeader = 3
	// maxCalls bounds the calls of one input: the fuzzing engine gives an
	// input 10 s in all, cleanup and leak check included.
	maxCalls = 8
)

// call is one decoded call.
type call struct {
	M   method
	Req proto.Message
}

// decode splits data into calls. A request that does not unmarshal (bad
// wire format, invalid UTF-8 in a string) is dropped.
func decode(data []byte) []call {
	var out []call
	for len(data) >= callHeader && len(out) < maxCalls {
		m := methods[int(data[0])%len(methods)]
		n := int(binary.LittleEndian.Uint16(data[1:3]))
		data = data[callHeader:]
		n = min(n, len(data))
		body := data[:n]
		data = data[n:]
		req := m.In.New().Interface()
		if err := proto.Unmarshal(body, req); err != nil {
			continue
		}
		out = append(out, call{M: m, Req: req})
	}
	return out
}

// encode is decode's inverse, for seeds.
func encode(calls ...call) []byte {
	var out []byte
	for _, c := range calls {
		idx := methodIndex(c.M.Name)
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c.Req)
		if err != nil {
			panic(err)
		}
		if len(b) > 0xffff {
			panic("seed request too long")
		}
		out = append(out, byte(idx))
		out = binary.LittleEndian.AppendUint16(out, uint16(len(b)))
		out = append(out, b...)
	}
	return out
}

// c is a call of the named method, for seeds.
func c(name string, req proto.Message) call {
	return call{M: methods[methodIndex(name)], Req: req}
}

// objects are the IDs an input's calls have seen, in the order first
// seen: a request's ID field that reads "@" (+ optional index byte,
// + optional prefix length byte) gets one of them.
type objects struct {
	pods, containers, images []string
}

func addUnique(list []string, id string) []string {
	if id == "" {
		return list
	}
	for _, x := range list {
		if x == id {
			return list
		}
	}
	return append(list, id)
}

// harvest records the IDs a response names.
func (o *objects) harvest(m protoreflect.Message) {
	walk(m, func(parent protoreflect.Message, fd protoreflect.FieldDescriptor, v string) string {
		switch kindOf(parent, fd) {
		case kindPod:
			o.pods = addUnique(o.pods, v)
		case kindContainer:
			o.containers = addUnique(o.containers, v)
		case kindImage:
			o.images = addUnique(o.images, v)
		}
		return v
	})
}

// pick resolves an "@" reference against ids.
func pick(ids []string, v string) string {
	if !strings.HasPrefix(v, "@") || len(ids) == 0 {
		return v
	}
	i := 0
	if len(v) > 1 {
		i = int(v[1])
	}
	id := ids[i%len(ids)]
	if len(v) > 2 && int(v[2]) > 0 && int(v[2]) < len(id) {
		id = id[:int(v[2])] // a prefix: the CRI lets short IDs name objects
	}
	return id
}

type idKind int

const (
	kindNone idKind = iota
	kindPod
	kindContainer
	kindImage
)

// kindOf says what kind of object a string field names.
func kindOf(parent protoreflect.Message, fd protoreflect.FieldDescriptor) idKind {
	msg := string(parent.Descriptor().Name())
	switch string(fd.Name()) {
	case "pod_sandbox_id":
		return kindPod
	case "container_id", "container_ids", "target_id":
		return kindContainer
	case "image_ref", "image_id":
		return kindImage
	case "id":
		switch msg {
		case "PodSandbox", "PodSandboxStatus", "PodSandboxAttributes", "PodSandboxFilter", "PodSandboxStatsFilter", "PodSandboxMetrics":
			return kindPod
		case "Container", "ContainerStatus", "ContainerAttributes", "ContainerFilter", "ContainerStatsFilter", "ContainerMetrics":
			return kindContainer
		case "Image":
			return kindImage
		}
	case "image":
		if msg == "ImageSpec" {
			return kindImage
		}
	}
	return kindNone
}

// walk calls f on every set string field of m and its sub-messages
// (lists and maps included) and stores what f returns.
func walk(m protoreflect.Message, f func(parent protoreflect.Message, fd protoreflect.FieldDescriptor, v string) string) {
	type field struct {
		fd protoreflect.FieldDescriptor
		v  protoreflect.Value
	}
	var fields []field
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		fields = append(fields, field{fd, v})
		return true
	})
	for _, x := range fields {
		fd, v := x.fd, x.v
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				switch fd.Kind() {
				case protoreflect.MessageKind, protoreflect.GroupKind:
					walk(l.Get(i).Message(), f)
				case protoreflect.StringKind:
					l.Set(i, protoreflect.ValueOfString(f(m, fd, l.Get(i).String())))
				}
			}
		case fd.IsMap():
			if k := fd.MapValue().Kind(); k == protoreflect.MessageKind || k == protoreflect.GroupKind {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					walk(mv.Message(), f)
					return true
				})
			}
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			walk(v.Message(), f)
		case fd.Kind() == protoreflect.StringKind:
			m.Set(fd, protoreflect.ValueOfString(f(m, fd, v.String())))
		}
	}
}

// sandbox is what rewrite keeps requests inside: this daemon's scratch
// directory for host paths, its cgroup parents, the loopback registry's
// images.
type sandbox struct {
	Scratch       string   // host paths (mounts, logs, checkpoints, profiles) go below it
	CgroupParents []string // every pod gets one of these
	PullImages    []string // the only references PullImage may name
}

// safeCommands are what containers and ExecSync may run. Their arguments
// stay random, but nothing here writes to a host path or changes the host,
// even in a privileged container with the host's namespaces.
var safeCommands = []string{"echo", "true", "false", "sleep", "id", "pwd", "/fuzz/does-not-exist"}

func hashPick(list []string, v string) string {
	h := fnv.New32a()
	h.Write([]byte(v))
	return list[h.Sum32()%uint32(len(list))]
}

func safeArgv(argv []string) []string {
	if len(argv) == 0 {
		return argv
	}
	for _, s := range safeCommands {
		if argv[0] == s {
			return argv
		}
	}
	argv[0] = hashPick(safeCommands, argv[0])
	return argv
}

// under maps any path into dir, keeping its shape.
func under(dir, p string) string {
	return filepath.Join(dir, filepath.Clean("/"+p))
}

// rewrite resolves "@" references to the objects seen so far and keeps
// the request on test resources: no host path outside sb.Scratch, no
// cgroup outside sb.CgroupParents, no pull outside the loopback registry,
// no command that could change the host, short timeouts.
func (sb *sandbox) rewrite(req proto.Message, o *objects) {
	walk(req.ProtoReflect(), func(parent protoreflect.Message, fd protoreflect.FieldDescriptor, v string) string {
		switch kindOf(parent, fd) {
		case kindPod:
			return pick(o.pods, v)
		case kindContainer:
			return pick(o.containers, v)
		case kindImage:
			return pick(o.images, v)
		}
		switch string(fd.Name()) {
		case "host_path":
			if parent.Descriptor().Name() == "Device" && strings.HasPrefix(filepath.Clean(v), "/dev/") {
				return v // the daemon only stats it; what runs in the container never opens it
			}
			return under(sb.Scratch, v)
		case "log_directory", "location", "output_path", "checkpoint_path", "localhost_ref":
			return under(sb.Scratch, v)
		case "seccomp_profile_path", "apparmor_profile":
			if rest, ok := strings.CutPrefix(v, "localhost/"); ok {
				return "localhost/" + under(sb.Scratch, rest)
			}
		}
		return v
	})
	fix(req.ProtoReflect(), sb)
}

// fix makes the typed adjustments walk cannot: fields that must be set,
// commands, timeouts.
func fix(m protoreflect.Message, sb *sandbox) {
	switch r := m.Interface().(type) {
	case *runtimeapi.PodSandboxConfig:
		if r.Linux == nil {
			r.Linux = &runtimeapi.LinuxPodSandboxConfig{}
		}
		r.Linux.CgroupParent = hashPick(sb.CgroupParents, r.Linux.CgroupParent)
	case *runtimeapi.ContainerConfig:
		if len(r.Command) > 0 {
			r.Command = safeArgv(r.Command)
		} else {
			r.Args = safeArgv(r.Args) // Args then replace the image's Cmd
		}
	case *runtimeapi.ExecSyncRequest:
		r.Cmd = safeArgv(r.Cmd)
		r.Timeout = 1 + (max(r.Timeout, 0) % 3) // never 0 (no timeout)
	case *runtimeapi.StopContainerRequest:
		r.Timeout = max(r.Timeout, 0) % 3
	case *runtimeapi.CheckpointContainerRequest:
		r.Timeout = 1 + (max(r.Timeout, 0) % 3)
	case *runtimeapi.PullImageRequest:
		if r.Image == nil {
			r.Image = &runtimeapi.ImageSpec{}
		}
		ok := false
		for _, p := range sb.PullImages {
			ok = ok || r.Image.Image == p
		}
		if !ok {
			r.Image.Image = hashPick(sb.PullImages, r.Image.Image)
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			for i := 0; i < v.List().Len(); i++ {
				fix(v.List().Get(i).Message(), sb)
			}
		case fd.IsMap():
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					fix(mv.Message(), sb)
					return true
				})
			}
		case !fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			fix(v.Message(), sb)
		}
		return true
	})
}
