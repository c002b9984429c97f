package server

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/image"
)

// PullImage pulls an image and returns its ID, the same value
// ListImages/ImageStatus report as Image.id.
func (s *Server) PullImage(ctx context.Context, req *runtimeapi.PullImageRequest) (*runtimeapi.PullImageResponse, error) {
	name := req.GetImage().GetImage()
	if name == "" {
		return nil, status.Error(codes.InvalidArgument, "image.image: the name of the image to pull is empty")
	}
	o := image.PullOptions{Namespace: req.GetSandboxConfig().GetMetadata().GetNamespace()}
	if a := req.GetAuth(); a != nil {
		o.Auth = &image.Auth{
			Username:      a.GetUsername(),
			Password:      a.GetPassword(),
			Auth:          a.GetAuth(),
			IdentityToken: a.GetIdentityToken(),
			RegistryToken: a.GetRegistryToken(),
		}
	}
	id, err := s.images.Pull(ctx, name, o)
	if err != nil {
		return nil, imageError(err)
	}
	return &runtimeapi.PullImageResponse{ImageRef: id}, nil
}
