package pdp

import (
	"context"
	"os"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cedargate/cedargate/internal/version"
	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// adminService answers GetStatus: what this replica serves, so operators
// can see drift between replicas.
type adminService struct {
	pb.UnimplementedAdminServiceServer
	r       *reloader
	started time.Time
	host    string
	// entityMode is reported as request_entities.
	entityMode engine.EntityMode
	// decisionLog is the status of the decision log; nil when it is off.
	decisionLog func() *pb.DecisionLogStatus
	// stopping reports whether shutdown has begun: serving is then false,
	// as the proto says, though the bundle is still reported.
	stopping func() bool
}

func newAdminService(r *reloader, started time.Time) *adminService {
	host, _ := os.Hostname()
	return &adminService{r: r, started: started, host: host}
}

// GetSchema implements AdminServiceServer: the active bundle's schema, so
// clients can convert request JSON as the bundle's types say.
func (a *adminService) GetSchema(context.Context, *pb.GetSchemaRequest) (*pb.GetSchemaResponse, error) {
	cur := a.r.current.Load()
	if cur == nil {
		return nil, errUnavailable
	}
	return &pb.GetSchemaResponse{Bundle: cur.wire, Schema: cur.schemaText}, nil
}

// GetStatus implements AdminServiceServer.
func (a *adminService) GetStatus(context.Context, *pb.GetStatusRequest) (*pb.GetStatusResponse, error) {
	resp := &pb.GetStatusResponse{
		Source:    a.r.src.String(),
		Version:   version.Version,
		Hostname:  a.host,
		StartTime: timestamppb.New(a.started),
		// Reported whether or not a bundle is active: it is the
		// deployment's, not the bundle's.
		RequestEntities: entityModeProto(a.entityMode),
	}
	if cur := a.r.current.Load(); cur != nil {
		m := cur.snap.Manifest()
		resp.Serving = a.stopping == nil || !a.stopping()
		resp.Bundle = cur.wire
		resp.ActivationTime = timestamppb.New(cur.activatedAt)
		resp.Build = &pb.BundleBuildInfo{
			CompilerVersion: m.CompilerVersion,
			EntityCount:     int32(m.Counts.Entities),
			PolicyCount:     int32(m.Counts.Policies),
			GrantCount:      int32(m.Counts.Grants),
		}
		if !m.BuildTime.IsZero() {
			resp.Build.BuildTime = timestamppb.New(m.BuildTime)
		}
		if m.EarliestExpiry != nil {
			resp.Build.EarliestExpiry = timestamppb.New(*m.EarliestExpiry)
		}
	}
	resp.SourceStatus = a.r.health.status(time.Now())
	history, last := a.r.snapshotHistory()
	for _, h := range history {
		resp.RecentActivations = append(resp.RecentActivations, activationProto(h))
	}
	if last != nil {
		resp.LastFailedActivation = activationProto(*last)
	}
	if a.decisionLog != nil {
		resp.DecisionLog = a.decisionLog()
	}
	return resp, nil
}

func activationProto(a activation) *pb.Activation {
	out := &pb.Activation{
		Bundle:   wire.EncodeBundleRef(a.ref),
		Time:     timestamppb.New(a.at),
		Result:   pb.ActivationResult_ACTIVATION_RESULT_SUCCESS,
		Duration: durationpb.New(a.took),
	}
	if a.err != nil {
		out.Result = pb.ActivationResult_ACTIVATION_RESULT_FAILURE
		out.Error = a.err.Error()
	}
	return out
}
