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
	for _, tc := range []struct {
		name string
		src  *pb.SourceStatus
		want string
	}{
		{"absent", nil, ""},
		{"reads fine", &pb.SourceStatus{LastSuccessTime: read, ErrorCount: 3}, ""},
		{"failing", &pb.SourceStatus{LastSuccessTime: read, LastError: "reading active pointer: not a directory", ErrorCount: 3},
			"source error: reading active pointer: not a directory (last read 2026-11-23T12:00:00Z, 3 failed reads)\n"},
		{"never read", &pb.SourceStatus{LastError: "boom", ErrorCount: 1}, "source error: boom (never read, 1 failed reads)\n"},
		{"stale", &pb.SourceStatus{LastSuccessTime: read, LastError: "boom", ErrorCount: 9, Stale: true, MaxStaleness: durationpb.New(time.Minute)},
			"source error: boom (last read 2026-11-23T12:00:00Z, 9 failed reads, stale (over --max-staleness 1m0s): not serving)\n"},
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
