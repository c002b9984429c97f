package server

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/crio/crio/internal/metrics"
)

// UnaryInterceptor logs every RPC with its duration and code, counts it in
// m (nil when metrics are off), and turns a panic into codes.Internal so
// that one bad request cannot take the daemon down.
func UnaryInterceptor(log *slog.Logger, m *metrics.Metrics) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		start := time.Now()
		done := m.Started(operation(info.FullMethod))
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in RPC", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
				resp, err = nil, status.Errorf(codes.Internal, "internal error in %s: %v", info.FullMethod, r)
			}
			logRPC(ctx, log, info.FullMethod, start, err)
			done(status.Code(err))
		}()
		return handler(ctx, req)
	}
}

// StreamInterceptor is UnaryInterceptor for server streams.
func StreamInterceptor(log *slog.Logger, m *metrics.Metrics) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		start := time.Now()
		done := m.Started(operation(info.FullMethod))
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in streaming RPC", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, fmt.Sprintf("internal error in %s: %v", info.FullMethod, r))
			}
			logRPC(ss.Context(), log, info.FullMethod, start, err)
			done(status.Code(err))
		}()
		return handler(srv, ss)
	}
}

// operation is the RPC's name without its service: "/runtime.v1.RuntimeService/Version" -> "Version".
func operation(fullMethod string) string {
	return fullMethod[strings.LastIndexByte(fullMethod, '/')+1:]
}

func logRPC(ctx context.Context, log *slog.Logger, method string, start time.Time, err error) {
	code := status.Code(err)
	level := slog.LevelDebug
	switch code {
	case codes.OK, codes.NotFound, codes.Canceled, codes.Unimplemented:
	default:
		level = slog.LevelWarn
	}
	if !log.Enabled(ctx, level) {
		return
	}
	attrs := []any{"method", method, "duration", time.Since(start), "code", code.String()}
	if err != nil {
		attrs = append(attrs, "error", status.Convert(err).Message())
	}
	log.Log(ctx, level, "rpc", attrs...)
}
