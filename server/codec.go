package server

import (
	"context"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Codec is gRPC's proto codec, except that an answer the server encoded
// itself (encodedList) is sent from the buffer it was built in, instead
// of being copied into a new one; the buffer goes back to gRPC's pool
// once written. Install it with grpc.ForceServerCodecV2. Under any other
// codec such an answer is an ordinary message and is copied.
func Codec() encoding.CodecV2 { return codec{encoding.GetCodecV2("proto")} }

type codec struct{ proto encoding.CodecV2 }

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	if e, ok := v.(*encodedList); ok {
		return mem.BufferSlice{mem.NewBuffer(e.buf, mem.DefaultBufferPool())}, nil
	}
	return c.proto.Marshal(v)
}

func (c codec) Unmarshal(data mem.BufferSlice, v any) error { return c.proto.Unmarshal(data, v) }

func (c codec) Name() string { return c.proto.Name() }

// encodedList is a ListContainersResponse whose wire form is *buf, a
// buffer from gRPC's pool. The embedded response carries the same bytes
// as unknown fields, which is what any other codec sends.
type encodedList struct {
	*runtimeapi.ListContainersResponse
	buf *[]byte
}

// runtimeServiceDesc is the RuntimeService with ListContainers answering
// through encodedList.
func runtimeServiceDesc() *grpc.ServiceDesc {
	desc := runtimeapi.RuntimeService_ServiceDesc
	desc.Methods = slices.Clone(desc.Methods)
	for i := range desc.Methods {
		if desc.Methods[i].MethodName == "ListContainers" {
			desc.Methods[i].Handler = listContainersHandler
		}
	}
	return &desc
}

// listContainersHandler is the generated handler of ListContainers with
// listContainersEncoded in place of ListContainers.
func listContainersHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(runtimeapi.ListContainersRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	handler := func(ctx context.Context, req any) (any, error) {
		return srv.(*Server).listContainersEncoded(req.(*runtimeapi.ListContainersRequest))
	}
	if interceptor == nil {
		return handler(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: runtimeapi.RuntimeService_ListContainers_FullMethodName}
	return interceptor(ctx, in, info, handler)
}
