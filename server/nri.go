package server

import (
	"github.com/containerd/nri/pkg/api"

	"github.com/crio/crio/internal/nri"
)

// startNRI starts NRI with the server as its domain: plugins are
// synchronised with the sandboxes and containers in the store, and their
// updates and evictions go through the container manager.
func (s *Server) startNRI() error {
	if s.nri == nil {
		return nil
	}
	return s.nri.Start(nri.Domain{
		List:   s.nriList,
		Update: s.containers.UpdateFromNRI,
		Evict:  s.containers.Evict,
	})
}

// nriList is every published sandbox and container, for a plugin's
// synchronisation. A container's spec is read from its bundle: this runs
// once per plugin registration, not per RPC.
func (s *Server) nriList() ([]*api.PodSandbox, []*api.Container) {
	sbs := s.sandboxes.List()
	pods := make([]*api.PodSandbox, 0, len(sbs))
	for _, sb := range sbs {
		pods = append(pods, nri.PodSandbox(sb))
	}
	cs := s.containers.Containers.List()
	ctrs := make([]*api.Container, 0, len(cs))
	for _, c := range cs {
		ctrs = append(ctrs, nri.LoadContainer(c))
	}
	return pods, ctrs
}
