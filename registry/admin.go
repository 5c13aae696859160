package registry

import (
	"context"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
)

// AdminService serves gateway.admin.v1.AdminService over a Registry.
type AdminService struct {
	adminv1.UnimplementedAdminServiceServer
	reg *Registry
}

// NewAdminService returns the admin API of reg.
func NewAdminService(reg *Registry) *AdminService { return &AdminService{reg: reg} }

// Register adds or updates a registration.
func (a *AdminService) Register(ctx context.Context, req *adminv1.RegisterRequest) (*adminv1.RegisterResponse, error) {
	return a.reg.Register(ctx, req)
}

// Get returns a registration: the active version of one made through the admin API, or a service
// of the config file.
func (a *AdminService) Get(_ context.Context, req *adminv1.GetRequest) (*adminv1.Registration, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name is empty")
	}
	return a.reg.Describe(req.GetName())
}

// List returns every registration: the active versions of those made through the admin API and the
// services of the config file, pending ones included.
func (a *AdminService) List(context.Context, *adminv1.ListRequest) (*adminv1.ListResponse, error) {
	return &adminv1.ListResponse{Registrations: a.reg.DescribeAll()}, nil
}

// Delete stops serving a registration; one deleted already is unchanged.
func (a *AdminService) Delete(ctx context.Context, req *adminv1.DeleteRequest) (*adminv1.DeleteResponse, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name is empty")
	}
	changed, err := a.reg.Delete(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	return &adminv1.DeleteResponse{Changed: changed}, nil
}

// Rollback re-activates an earlier version.
func (a *AdminService) Rollback(ctx context.Context, req *adminv1.RollbackRequest) (*adminv1.Registration, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name is empty")
	}
	v, err := a.reg.Rollback(ctx, req.GetName(), req.GetVersion())
	if err != nil {
		return nil, err
	}
	return a.reg.describeVersion(v, true), nil
}

// ListVersions returns a registration's kept versions, newest first.
func (a *AdminService) ListVersions(_ context.Context, req *adminv1.ListVersionsRequest) (*adminv1.ListVersionsResponse, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name is empty")
	}
	versions, active, err := a.reg.Versions(req.GetName())
	if err != nil {
		return nil, err
	}
	resp := &adminv1.ListVersionsResponse{}
	for _, v := range versions {
		resp.Versions = append(resp.Versions, a.reg.describeVersion(v, v.Number == active))
	}
	return resp, nil
}

// Status describes the serving snapshot.
func (a *AdminService) Status(context.Context, *adminv1.StatusRequest) (*adminv1.StatusResponse, error) {
	snap := a.reg.Current()
	if snap == nil {
		return nil, status.Error(codes.Unavailable, "no snapshot is serving yet")
	}
	resp := &adminv1.StatusResponse{
		SnapshotVersion:   snap.Version(),
		ActivatedAt:       timestamppb.New(snap.Built()),
		RegistrationCount: int32(len(snap.Registrations())),
		RouteCount:        int32(len(snap.Routes().Routes())),
		ClusterCount:      int32(len(snap.clusters)),
	}
	for _, name := range snap.Services() {
		resp.Services = append(resp.Services, snap.serviceStatus(name))
	}
	for _, p := range a.reg.Pending() {
		ps := &adminv1.PendingService{Name: p.Registration.Name, Endpoint: p.ReflectionEndpoint()}
		if p.Err != nil {
			ps.Error = p.Err.Error()
		}
		resp.Pending = append(resp.Pending, ps)
	}
	return resp, nil
}

// ListUpstreams reports the resilience state of the endpoints of every cluster the serving snapshot
// routes to.
func (a *AdminService) ListUpstreams(context.Context, *adminv1.ListUpstreamsRequest) (*adminv1.ListUpstreamsResponse, error) {
	snap := a.reg.Current()
	if snap == nil {
		return nil, status.Error(codes.Unavailable, "no snapshot is serving yet")
	}
	names := make([]string, 0, len(snap.clusters))
	for name := range snap.clusters {
		names = append(names, name)
	}
	slices.Sort(names)
	resp := &adminv1.ListUpstreamsResponse{}
	for _, name := range names {
		c := snap.clusters[name]
		uc := &adminv1.UpstreamCluster{Name: name, Lb: c.Config().Balancer.String()}
		for _, e := range c.Endpoints() {
			st := e.Stats()
			ue := &adminv1.UpstreamEndpoint{
				Address: st.Address, Healthy: st.Healthy, Breaker: st.Breaker, InFlight: st.InFlight,
				Ejected: st.Ejected, Ejections: st.Ejections, ConsecutiveFailures: st.ConsecutiveFailures,
				Transport: e.Transport().String(), Connection: st.Connection,
			}
			if st.Latency > 0 {
				ue.Latency = durationpb.New(st.Latency)
			}
			if st.Ejected {
				ue.EjectedFor = durationpb.New(st.EjectedFor)
			}
			uc.Endpoints = append(uc.Endpoints, ue)
		}
		resp.Clusters = append(resp.Clusters, uc)
	}
	return resp, nil
}
