package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestUnaryInterceptorTurnsPanicIntoInternal(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ic := UnaryInterceptor(log, nil)
	info := &grpc.UnaryServerInfo{FullMethod: "/runtime.v1.RuntimeService/Boom"}
	resp, err := ic(context.Background(), nil, info, func(context.Context, any) (any, error) {
		var m map[string]int
		m["x"] = 1 // nil map write: a real runtime panic
		return "unreachable", nil
	})
	if resp != nil || status.Code(err) != codes.Internal {
		t.Fatalf("got %v, %v; want nil, Internal", resp, err)
	}
	if !strings.Contains(buf.String(), "panic") || !strings.Contains(buf.String(), "Boom") {
		t.Errorf("panic not logged with the method:\n%s", buf.String())
	}
}

func TestUnaryInterceptorLogsCodeAndPassesResults(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ic := UnaryInterceptor(log, nil)
	info := &grpc.UnaryServerInfo{FullMethod: "/runtime.v1.RuntimeService/Thing"}
	resp, err := ic(context.Background(), nil, info, func(context.Context, any) (any, error) { return "ok", nil })
	if resp != "ok" || err != nil {
		t.Fatalf("got %v, %v", resp, err)
	}
	want := status.Error(codes.InvalidArgument, "bad name")
	if _, err := ic(context.Background(), nil, info, func(context.Context, any) (any, error) { return nil, want }); !errors.Is(err, want) {
		t.Fatalf("error not passed through: %v", err)
	}
	out := buf.String()
	for _, s := range []string{"code=OK", "code=InvalidArgument", "duration=", "bad name"} {
		if !strings.Contains(out, s) {
			t.Errorf("log lacks %q:\n%s", s, out)
		}
	}
}
