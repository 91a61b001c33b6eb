package wire_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cedargate/cedargate/pdp/wire"
)

func TestStatus(t *testing.T) {
	fe := &wire.FieldError{Field: `context["src_ip"].extension.arg`, Reason: `"x" is not a valid ip`}
	tests := []struct {
		name string
		err  error
		code codes.Code
		msg  string
	}{
		{"field error", fe, codes.InvalidArgument, `context["src_ip"].extension.arg: "x" is not a valid ip`},
		{"wrapped field error keeps the wrapper out", fmt.Errorf("decoding for tenant acme at /srv/x: %w", fe),
			codes.InvalidArgument, `context["src_ip"].extension.arg: "x" is not a valid ip`},
		{"status passes through", status.Error(codes.Unavailable, "no active bundle"), codes.Unavailable, "no active bundle"},
		{"cancelled", fmt.Errorf("deciding: %w", context.Canceled), codes.Canceled, "request cancelled"},
		{"deadline", context.DeadlineExceeded, codes.DeadlineExceeded, "deadline exceeded before a decision was made"},
		{"internal cause stays inside", errors.New("open /var/lib/cedargate/store/secret.key: permission denied"),
			codes.Internal, "internal error; no decision was made"},
		{"wrapped status is internal", fmt.Errorf("db password hunter2: %w", status.Error(codes.NotFound, "x")),
			codes.Internal, "internal error; no decision was made"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := status.FromError(wire.Status(tt.err))
			if !ok || s.Code() != tt.code || s.Message() != tt.msg {
				t.Fatalf("got %v %q, want %v %q", s.Code(), s.Message(), tt.code, tt.msg)
			}
			if strings.Contains(s.Message(), "hunter2") || strings.Contains(s.Message(), "/srv") {
				t.Fatalf("message leaks an internal cause: %q", s.Message())
			}
		})
	}
	if err := wire.Status(nil); err != nil {
		t.Errorf("Status(nil) = %v, want nil", err)
	}
}

// TestRefusalsAreInvalidArgument checks the whole path a refused request
// takes to the caller.
func TestRefusalsAreInvalidArgument(t *testing.T) {
	req := typicalRequest()
	req.Principal = nil
	_, err := wire.DecodeRequest(req, wire.Limits{})
	if s, _ := status.FromError(wire.Status(err)); s.Code() != codes.InvalidArgument || s.Message() != "principal: required" {
		t.Fatalf("got %v %q, want InvalidArgument %q", s.Code(), s.Message(), "principal: required")
	}
}

func TestDefaultLimits(t *testing.T) {
	want := wire.Limits{MaxEntities: 100, MaxDepth: 16, MaxValues: 10_000, MaxSetElements: 1000, MaxStringBytes: 64 << 10, MaxBatch: 100}
	if got := wire.DefaultLimits(); got != want {
		t.Fatalf("DefaultLimits() = %+v, want %+v", got, want)
	}
}
