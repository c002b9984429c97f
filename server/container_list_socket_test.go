package server

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// serveOverSocket serves s over a unix socket as the daemon does and
// returns a client connection to it.
func serveOverSocket(b testing.TB, s *Server) *grpc.ClientConn {
	b.Helper()
	sock := filepath.Join(b.TempDir(), "crio.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	g := grpc.NewServer(grpc.ForceServerCodecV2(Codec()))
	s.Register(g)
	go g.Serve(lis)
	b.Cleanup(g.Stop)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

// Over gRPC the answer is sent from a pooled buffer (Codec): concurrent
// calls, whose buffers are recycled between them, each get exactly the
// entries, with states changed since the cache was filled.
func TestListContainersOverSocketFromPooledBuffers(t *testing.T) {
	s := serverWithContainers(200)
	rt := runtimeapi.NewRuntimeServiceClient(serveOverSocket(t, s))
	ctx := context.Background()
	if _, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range s.containers.Containers.List() {
		if c.State() == runtimeapi.ContainerState_CONTAINER_RUNNING {
			c.SetExited(137, time.Now(), "OOMKilled", "")
		}
	}
	want := entries(s.listed(nil))
	exited := &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_EXITED}}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				r, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
				if err != nil {
					errs <- err.Error()
					return
				}
				if len(r.Containers) != len(want) {
					errs <- "wrong number of entries"
					return
				}
				for j := range want {
					if !proto.Equal(r.Containers[j], want[j]) {
						errs <- "entry differs: " + r.Containers[j].String()
						return
					}
				}
				r, err = rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: exited})
				if err != nil || len(r.Containers) != 20 {
					errs <- "filtered list is wrong"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// BenchmarkListContainersOverSocket500 is a whole ListContainers of 500
// containers as a kubelet sees it: handler, gRPC over a unix socket, and
// the client's decoding.
func BenchmarkListContainersOverSocket500(b *testing.B) {
	conn := serveOverSocket(b, serverWithContainers(500))
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	ctx := context.Background()
	for b.Loop() {
		r, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
		if err != nil || len(r.Containers) != 500 {
			b.Fatal(err)
		}
	}
}
