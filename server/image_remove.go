package server

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// RemoveImage removes an image by ID, ID prefix, tag or repo digest, with
// all its tags. Removing an absent image succeeds: the CRI says the call
// is idempotent.
func (s *Server) RemoveImage(ctx context.Context, req *runtimeapi.RemoveImageRequest) (*runtimeapi.RemoveImageResponse, error) {
	name := req.GetImage().GetImage()
	if name == "" {
		return nil, status.Error(codes.InvalidArgument, "image.image: the image to remove is empty")
	}
	if err := s.images.Remove(name); err != nil {
		return nil, imageError(err)
	}
	return &runtimeapi.RemoveImageResponse{}, nil
}
