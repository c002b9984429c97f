package server

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/crio/crio/internal/image"
)

// imageError maps an error of internal/image to its gRPC code; the message
// is the error's text, which names the image and the cause.
func imageError(err error) error {
	if err == nil {
		return nil
	}
	code := codes.Unknown
	switch {
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, image.ErrInvalidName):
		code = codes.InvalidArgument
	case errors.Is(err, image.ErrStalled), errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, image.ErrUnauthorized):
		code = codes.Unauthenticated
	case errors.Is(err, image.ErrRejected), errors.Is(err, image.ErrBlocked):
		code = codes.PermissionDenied
	case errors.Is(err, image.ErrInUse), errors.Is(err, image.ErrPinned), errors.Is(err, image.ErrBadImage):
		code = codes.FailedPrecondition
	case errors.Is(err, image.ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, image.ErrUnavailable):
		code = codes.Unavailable
	case errors.Is(err, image.ErrTooMany), errors.Is(err, image.ErrPullLimit):
		code = codes.ResourceExhausted
	}
	return status.Error(code, err.Error())
}
