package main

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

func TestPrintSourceStatus(t *testing.T) {
	read := timestamppb.New(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	failed := timestamppb.New(time.Date(2026, 11, 23, 12, 1, 0, 0, time.UTC))
	for _, tc := range []struct {
		name string
		src  *pb.SourceStatus
		want string
	}{
		{"absent", nil, ""},
		{"reads fine", &pb.SourceStatus{LastSuccessTime: read}, "source reads: last success 2026-11-23T12:00:00Z\n"},
		{"recovered", &pb.SourceStatus{LastSuccessTime: read, ErrorCount: 3}, "source reads: last success 2026-11-23T12:00:00Z; 3 errors\n"},
		{"failing", &pb.SourceStatus{LastSuccessTime: read, LastError: "reading store state: not a directory", LastErrorTime: failed, ErrorCount: 3},
			"source reads: last success 2026-11-23T12:00:00Z; 3 errors, the last at 2026-11-23T12:01:00Z: reading store state: not a directory\n"},
		{"never read", &pb.SourceStatus{LastError: "boom", LastErrorTime: failed, ErrorCount: 1},
			"source reads: last success never; 1 errors, the last at 2026-11-23T12:01:00Z: boom\n"},
		{"stale", &pb.SourceStatus{LastSuccessTime: read, LastError: "boom", LastErrorTime: failed, ErrorCount: 9, Stale: true, MaxStaleness: durationpb.New(time.Minute)},
			"source reads: last success 2026-11-23T12:00:00Z; 9 errors, the last at 2026-11-23T12:01:00Z: boom; max staleness 1m0s, STALE (not serving)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			printSourceStatus(&buf, tc.src)
			if buf.String() != tc.want {
				t.Fatalf("printed %q, want %q", buf.String(), tc.want)
			}
		})
	}
}
