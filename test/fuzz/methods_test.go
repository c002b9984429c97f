package fuzz

import (
	"fmt"
	"sort"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// method is one RPC of the CRI, as its service descriptor describes it.
type method struct {
	Service  string // "RuntimeService" or "ImageService"
	Name     string // "RunPodSandbox"
	FullName string // "/runtime.v1.RuntimeService/RunPodSandbox", for grpc Invoke
	Stream   bool   // the server streams its answer
	In, Out  protoreflect.MessageType
}

// services are the CRI services the fuzzer drives.
var services = []string{"RuntimeService", "ImageService"}

// methods is every method of both services, enumerated from the
// generated descriptors (so a method added to cri-api is fuzzed without
// an edit here), in a stable order: the first byte of a call picks one.
var methods = loadMethods()

func loadMethods() []method {
	var out []method
	fd := (&runtimeapi.VersionRequest{}).ProtoReflect().Descriptor().ParentFile()
	for _, svc := range services {
		sd := fd.Services().ByName(protoreflect.Name(svc))
		if sd == nil {
			panic("cri-api has no service " + svc)
		}
		for i := 0; i < sd.Methods().Len(); i++ {
			md := sd.Methods().Get(i)
			if md.IsStreamingClient() {
				panic(fmt.Sprintf("%s/%s streams requests: the fuzzer does not drive client streams", svc, md.Name()))
			}
			in, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
			if err != nil {
				panic(err)
			}
			out2, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
			if err != nil {
				panic(err)
			}
			out = append(out, method{
				Service: svc, Name: string(md.Name()),
				FullName: fmt.Sprintf("/%s/%s", sd.FullName(), md.Name()),
				Stream:   md.IsStreamingServer(), In: in, Out: out2,
			})
		}
	}
	return out
}

// methodIndex finds a method by name ("RunPodSandbox").
func methodIndex(name string) int {
	for i, m := range methods {
		if m.Name == name {
			return i
		}
	}
	panic("no CRI method " + name)
}

// methodNames lists the full names of methods, sorted.
func methodNames(ms []method) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.FullName)
	}
	sort.Strings(out)
	return out
}
