package server

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/crio/crio/internal/container"
	"github.com/crio/crio/internal/image"
	"github.com/crio/crio/internal/oci"
)

func TestContainerErrorCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		want codes.Code
	}{
		// runc refusing a valid request (a cgroup it cannot set, say) is the
		// runtime's failure: the kubelet must not read it as a bad request.
		{fmt.Errorf("creating: %w: runc create failed: cannot set hugetlb limit", oci.ErrCreate), codes.Internal},
		{fmt.Errorf("%w: config.metadata.name is required", container.ErrInvalid), codes.InvalidArgument},
		{fmt.Errorf("%w: abc", container.ErrNotFound), codes.NotFound},
		{fmt.Errorf("%w: not running", container.ErrState), codes.FailedPrecondition},
		// A config.image that is no image reference is the client's error
		// (found by test/fuzz).
		{fmt.Errorf("image docker,io/busybox: %w: cannot parse", image.ErrInvalidName), codes.InvalidArgument},
	} {
		if got := status.Code(containerError("CreateContainer", c.err)); got != c.want {
			t.Errorf("%v: code %v, want %v", c.err, got, c.want)
		}
	}
}
