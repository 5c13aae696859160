package server

import (
	"context"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/routing"
)

// maxListedServices bounds what List answers, as grpc-go's own health server does; the health
// proto asks for RESOURCE_EXHAUSTED beyond a limit.
const maxListedServices = 100

// healthService is the gateway's grpc.health.v1.Health, answered on its gRPC front and never sent
// upstream. Service "" is the gateway itself: SERVING once a snapshot is published, NOT_SERVING
// before and while draining. A service the serving snapshot fronts is SERVING while one of the
// clusters its calls go to has an endpoint that can take a call (routing.Cluster.Available: healthy
// by active checks, not ejected, circuit not open), NOT_SERVING otherwise. A service a pending config
// service names (registry.Snapshot.Waiting) is NOT_SERVING until its descriptors come. Any other
// service is unknown (Check: NOT_FOUND; Watch: SERVICE_UNKNOWN).
//
// Nothing is stored per service: each answer is computed from the published state and the pool's
// endpoints, so Check is never stale. Watch recomputes when a snapshot is published, when draining
// starts, and when the pool signals an endpoint change (routing.Pool.Subscribe), and sends only
// changes.
type healthService struct {
	healthpb.UnimplementedHealthServer
	pool  *routing.Pool
	mu    sync.Mutex // serialises writers of state
	state atomic.Pointer[healthState]
}

// healthState is what health answers are computed from; immutable once stored.
type healthState struct {
	serving  bool // a snapshot has been published
	draining bool
	// services maps each fronted service to the clusters its calls go to.
	services map[string][]*routing.Cluster
	replaced chan struct{} // closed when a newer state is stored
}

func newHealthService(pool *routing.Pool) *healthService {
	h := &healthService{pool: pool}
	h.state.Store(&healthState{replaced: make(chan struct{})})
	return h
}

// update stores the state edit makes of a copy of the current one and wakes the watchers.
func (h *healthService) update(edit func(*healthState)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.state.Load()
	next := *old
	next.replaced = make(chan struct{})
	edit(&next)
	h.state.Store(&next)
	close(old.replaced)
}

// publish makes snap's services the ones answered for, and the gateway SERVING.
func (h *healthService) publish(snap *registry.Snapshot) {
	services := serviceClusters(snap)
	h.update(func(st *healthState) {
		st.serving = true
		st.services = services
	})
}

// drain makes every answer NOT_SERVING from now on, and ends the Watch calls once they have said so,
// so that they do not hold the graceful stop for its whole grace period.
func (h *healthService) drain() { h.update(func(st *healthState) { st.draining = true }) }

// serviceClusters maps each service snap fronts to the clusters its calls go to: for each of its
// methods, the clusters of the route a call without routing headers matches; and each service it
// waits for to none.
func serviceClusters(snap *registry.Snapshot) map[string][]*routing.Cluster {
	out := make(map[string][]*routing.Cluster, len(snap.Services()))
	table := snap.Routes()
	for _, name := range snap.Services() {
		var clusters []*routing.Cluster
		add := func(r *routing.Route) {
			if r == nil {
				return
			}
			for _, wc := range r.Clusters {
				if !containsCluster(clusters, wc.Cluster) {
					clusters = append(clusters, wc.Cluster)
				}
			}
		}
		d, err := snap.Files().FindDescriptorByName(protoreflect.FullName(name))
		if sd, ok := d.(protoreflect.ServiceDescriptor); err == nil && ok && sd.Methods().Len() > 0 {
			for i := range sd.Methods().Len() {
				add(table.Match("/"+name+"/"+string(sd.Methods().Get(i).Name()), nil))
			}
		} else {
			add(table.Match("/"+name+"/", nil))
		}
		out[name] = clusters
	}
	for _, name := range snap.WaitingServices() {
		out[name] = nil // no cluster serves it yet: NOT_SERVING
	}
	return out
}

func containsCluster(cs []*routing.Cluster, c *routing.Cluster) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// status is service's status in st; known is false for a service st does not front.
func (st *healthState) status(service string) (s healthpb.HealthCheckResponse_ServingStatus, known bool) {
	if service == "" {
		if st.serving && !st.draining {
			return healthpb.HealthCheckResponse_SERVING, true
		}
		return healthpb.HealthCheckResponse_NOT_SERVING, true
	}
	clusters, ok := st.services[service]
	switch {
	case !ok:
		return healthpb.HealthCheckResponse_SERVICE_UNKNOWN, false
	case st.draining:
		return healthpb.HealthCheckResponse_NOT_SERVING, true
	}
	for _, c := range clusters {
		if c.Available() {
			return healthpb.HealthCheckResponse_SERVING, true
		}
	}
	return healthpb.HealthCheckResponse_NOT_SERVING, true
}

// Check answers the status of one service, or NOT_FOUND for a service the gateway does not front.
func (h *healthService) Check(_ context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	s, known := h.state.Load().status(req.GetService())
	if !known {
		return nil, status.Error(codes.NotFound, "unknown service")
	}
	return &healthpb.HealthCheckResponse{Status: s}, nil
}

// List answers the status of the gateway ("") and of every service it fronts.
func (h *healthService) List(_ context.Context, _ *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	st := h.state.Load()
	if len(st.services)+1 > maxListedServices {
		return nil, status.Errorf(codes.ResourceExhausted, "server health list exceeds maximum capacity: %d", maxListedServices)
	}
	out := &healthpb.HealthListResponse{Statuses: make(map[string]*healthpb.HealthCheckResponse, len(st.services)+1)}
	for name := range st.services {
		s, _ := st.status(name)
		out.Statuses[name] = &healthpb.HealthCheckResponse{Status: s}
	}
	s, _ := st.status("")
	out.Statuses[""] = &healthpb.HealthCheckResponse{Status: s}
	return out, nil
}

// Watch sends the service's status, then each change of it, until the caller goes away or the
// gateway drains (after sending NOT_SERVING). A service the gateway does not front is
// SERVICE_UNKNOWN, as the health proto says, and the call stays open: registering it later sends
// its status.
func (h *healthService) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	changes, stop := h.pool.Subscribe() // before the first read: no change goes unseen
	defer stop()
	ctx := stream.Context()
	last := healthpb.HealthCheckResponse_ServingStatus(-1)
	for {
		st := h.state.Load()
		s, _ := st.status(req.GetService())
		if s != last {
			if err := stream.Send(&healthpb.HealthCheckResponse{Status: s}); err != nil {
				return err
			}
			last = s
		}
		if st.draining {
			return status.Error(codes.Unavailable, "the gateway is draining")
		}
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-st.replaced:
		case <-changes:
		}
	}
}
