package server

import (
	"context"
	"encoding/json"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/image"
)

// ImageStatus reports one image; an absent image is Image=nil without an
// error, as the CRI says.
func (s *Server) ImageStatus(ctx context.Context, req *runtimeapi.ImageStatusRequest) (*runtimeapi.ImageStatusResponse, error) {
	name := req.GetImage().GetImage()
	if name == "" {
		return nil, status.Error(codes.InvalidArgument, "image.image: the image name is empty")
	}
	img, err := s.images.Status(name, req.GetVerbose())
	if errors.Is(err, image.ErrNotFound) {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	if err != nil {
		return nil, imageError(err)
	}
	resp := &runtimeapi.ImageStatusResponse{Image: toCRIImage(img)}
	if req.GetVerbose() && img.Config != nil {
		info, err := json.Marshal(struct {
			ID          string   `json:"id"`
			RepoTags    []string `json:"repoTags"`
			RepoDigests []string `json:"repoDigests"`
			Pinned      bool     `json:"pinned"`
			ImageSpec   any      `json:"imageSpec"`
		}{img.ID, img.RepoTags, img.RepoDigests, img.Pinned, img.Config})
		if err != nil {
			return nil, status.Errorf(codes.Internal, "encoding the image config of %s: %v", img.ID, err)
		}
		resp.Info = map[string]string{"info": string(info)}
	}
	return resp, nil
}
