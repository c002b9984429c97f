package server

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// GetContainerEvents streams every lifecycle event of containers and
// sandboxes to the client, in order, until it hangs up. A client that
// falls too far behind is cut off with ResourceExhausted rather than
// holding up the daemon; the kubelet then relists.
func (s *Server) GetContainerEvents(_ *runtimeapi.GetEventsRequest, stream runtimeapi.RuntimeService_GetContainerEventsServer) error {
	sub := s.events.Subscribe(0)
	defer sub.Close()
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.Done():
			if err := sub.Err(); err != nil {
				return status.Error(codes.ResourceExhausted, err.Error())
			}
			return nil
		case ev := <-sub.Events():
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
	}
}
