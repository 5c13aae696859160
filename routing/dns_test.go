package routing_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/routing"
)

// fakeDNS answers lookups from a table the test changes, and counts them.
type fakeDNS struct {
	mu      sync.Mutex
	answers map[string][]netip.Addr
	fail    error
	lookups int
	changed chan struct{} // closed and replaced on every lookup
}

func newFakeDNS(answers map[string][]netip.Addr) *fakeDNS {
	return &fakeDNS{answers: answers, changed: make(chan struct{})}
}

func (d *fakeDNS) lookup(_ context.Context, host string) ([]netip.Addr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lookups++
	close(d.changed)
	d.changed = make(chan struct{})
	if d.fail != nil {
		return nil, d.fail
	}
	ips, ok := d.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return slices.Clone(ips), nil
}

func (d *fakeDNS) set(host string, ips []netip.Addr, fail error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.answers[host] = ips
	d.fail = fail
}

// awaitLookups waits until n more lookups have been made: a refresh that began after the last change
// of the answers has then finished (refreshes run one after another).
func (d *fakeDNS) awaitLookups(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for range n {
		d.mu.Lock()
		ch := d.changed
		d.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			t.Fatal("no DNS lookup within 10s")
		}
	}
}

func ips(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, x := range s {
		out[i] = netip.MustParseAddr(x)
	}
	return out
}

// dialTo returns a DialFunc that connects every address to the server at target, so made-up
// endpoint addresses reach a real loopback server.
func dialTo(target string) routing.DialFunc {
	return func(string, routing.Transport) (*grpc.ClientConn, error) {
		return grpc.NewClient("passthrough:///"+target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
}

func addrsOf(eps []*routing.Endpoint) []string {
	out := make([]string, len(eps))
	for i, e := range eps {
		out[i] = e.Addr()
	}
	return out
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestResolvedClusterFollowsDNSAndDrains(t *testing.T) {
	addr, hs := testnet.Health(t)
	dns := newFakeDNS(map[string][]netip.Addr{"users.test": ips("192.0.2.1", "192.0.2.2")})
	pool := routing.NewPool(dialTo(addr), routing.WithPoolLookup(dns.lookup), routing.WithPoolLogger(quietLog()))
	defer pool.Close()
	c, err := pool.NewResolvedCluster("users", []string{"users.test:50051", "192.0.2.9:50051"},
		routing.ClusterConfig{DNSRefresh: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, want := addrsOf(c.Endpoints()), []string{"192.0.2.1:50051", "192.0.2.2:50051", "192.0.2.9:50051"}; !slices.Equal(got, want) {
		t.Fatalf("endpoints = %v, want %v", got, want)
	}
	eps := c.Endpoints()
	leaving, staying := eps[0], eps[1]
	table, err := routing.NewTable([]routing.Route{{Name: "all", Match: routing.Match{Prefix: "/"}, Clusters: []routing.WeightedCluster{{Cluster: c, Weight: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	p := routing.NewProxy(func() routing.State { return staticState{table} })

	// The staying endpoint carries state: one sick outcome in its streak.
	finishOn(t, p, staying, status.Error(codes.Unavailable, "down"))
	// The leaving endpoint carries a call in flight: a health watch.
	var inFlight routing.Upstream
	for range 1000 {
		up, err := p.Route(t.Context(), method, nil)
		if err != nil {
			t.Fatal(err)
		}
		if up.Conn == leaving.Conn() {
			inFlight = up
			break
		}
		up.DoneWith(nil)
	}
	if inFlight.Conn == nil {
		t.Fatal("no call landed on the leaving endpoint")
	}
	stream, err := healthpb.NewHealthClient(inFlight.Conn).Watch(inFlight.Ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}

	dns.set("users.test", ips("192.0.2.2", "192.0.2.3"), nil)
	dns.awaitLookups(t, 2)
	if got, want := addrsOf(c.Endpoints()), []string{"192.0.2.2:50051", "192.0.2.3:50051", "192.0.2.9:50051"}; !slices.Equal(got, want) {
		t.Fatalf("endpoints after re-resolution = %v, want %v", got, want)
	}
	if c.Endpoints()[0] != staying {
		t.Error("the endpoint that stayed was replaced")
	}
	if got := staying.Stats().ConsecutiveFailures; got != 1 {
		t.Errorf("the staying endpoint's failure streak = %d, want 1 (state kept)", got)
	}
	// The dropped endpoint takes no new calls...
	for range 300 {
		up, err := p.Route(t.Context(), method, nil)
		if err != nil {
			t.Fatal(err)
		}
		if up.Conn == leaving.Conn() {
			t.Fatal("a new call went to the dropped endpoint")
		}
		up.DoneWith(nil)
	}
	// ...finishes the one in flight...
	if s := leaving.Conn().GetState(); s == connectivity.Shutdown {
		t.Fatal("dropped endpoint closed with a call in flight")
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	if resp, err := stream.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("in-flight call after the endpoint was dropped: %v, %v", resp, err)
	}
	// ...then closes.
	inFlight.DoneWith(nil)
	waitShutdown(t, leaving.Conn())
	if got := pool.Len(); got != 3 {
		t.Errorf("pool holds %d endpoints, want 3", got)
	}

	// A name that stops resolving keeps its addresses.
	dns.set("users.test", nil, errors.New("server misbehaving"))
	dns.awaitLookups(t, 2)
	if got := len(c.Endpoints()); got != 3 {
		t.Errorf("after a failed lookup: %d endpoints, want the 3 previous", got)
	}

	c.Close()
	if got := pool.Len(); got != 0 {
		t.Errorf("pool holds %d endpoints after the cluster closed, want 0", got)
	}
	if _, err := p.Route(t.Context(), method, nil); status.Code(err) != codes.Unavailable {
		t.Errorf("Route on a closed cluster: %v, want Unavailable", err)
	}
}

func TestResolvedClusterReloadKeepsEndpoints(t *testing.T) {
	addr, _ := testnet.Health(t)
	dns := newFakeDNS(map[string][]netip.Addr{"users.test": ips("192.0.2.1", "2001:db8::1")})
	pool := routing.NewPool(dialTo(addr), routing.WithPoolLookup(dns.lookup), routing.WithPoolLogger(quietLog()))
	defer pool.Close()
	cfg := routing.ClusterConfig{DNSRefresh: time.Hour, Weights: []uint32{3}}
	old, err := pool.NewResolvedCluster("users", []string{"users.test:50051"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := addrsOf(old.Endpoints()), []string{"192.0.2.1:50051", "[2001:db8::1]:50051"}; !slices.Equal(got, want) {
		t.Fatalf("endpoints = %v, want %v", got, want)
	}
	// A reload: the new snapshot's cluster takes the pool's last answer without asking again, and
	// shares the endpoints; retiring the old one keeps them.
	dns.mu.Lock()
	before := dns.lookups
	dns.mu.Unlock()
	cur, err := pool.NewResolvedCluster("users", []string{"users.test:50051"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	dns.mu.Lock()
	after := dns.lookups
	dns.mu.Unlock()
	if after != before {
		t.Errorf("a reload looked the name up again (%d lookups)", after-before)
	}
	if !slices.Equal(old.Endpoints(), cur.Endpoints()) {
		t.Error("the reloaded cluster has other endpoints")
	}
	old.Close()
	if got := pool.Len(); got != 2 {
		t.Errorf("pool holds %d endpoints after retiring the old cluster, want 2", got)
	}
	for _, e := range cur.Endpoints() {
		if e.Conn().GetState() == connectivity.Shutdown {
			t.Errorf("%s closed by the old cluster's retirement", e.Addr())
		}
	}
}

// A resolved cluster retired lingering (its snapshot replaced) stops re-resolving but keeps its
// member set, whose endpoints leave the pool yet stay connected; a cluster built meanwhile with the
// same names takes them back.
func TestResolvedClusterCloseLingering(t *testing.T) {
	addr, _ := testnet.Health(t)
	dns := newFakeDNS(map[string][]netip.Addr{"users.test": ips("192.0.2.1", "192.0.2.2")})
	pool := routing.NewPool(dialTo(addr), routing.WithPoolLookup(dns.lookup), routing.WithPoolLogger(quietLog()))
	defer pool.Close()
	cfg := routing.ClusterConfig{DNSRefresh: time.Hour}
	old, err := pool.NewResolvedCluster("users", []string{"users.test:50051"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	eps := old.Endpoints()
	old.CloseLingering(time.Hour)
	if got := pool.Len(); got != 0 {
		t.Errorf("pool holds %d endpoints after the cluster's retirement, want 0", got)
	}
	if got := old.Endpoints(); !slices.Equal(got, eps) {
		t.Errorf("retired cluster's endpoints = %v, want %v kept", addrsOf(got), addrsOf(eps))
	}
	for _, e := range eps {
		if e.Conn().GetState() == connectivity.Shutdown {
			t.Errorf("%s closed while lingering", e.Addr())
		}
	}
	cur, err := pool.NewResolvedCluster("users", []string{"users.test:50051"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	if !slices.Equal(cur.Endpoints(), eps) {
		t.Error("a cluster built while the endpoints lingered dialed anew")
	}
}

func TestDrainingEndpointTakesNoNewCalls(t *testing.T) {
	pool := routing.NewPool(nil)
	defer pool.Close()
	a, _ := pool.Acquire("192.0.2.1:50051")
	b, _ := pool.Acquire("192.0.2.2:50051")
	c := routing.NewCluster("c", []*routing.Endpoint{a, b})
	table, err := routing.NewTable([]routing.Route{{Name: "all", Match: routing.Match{Prefix: "/"}, Clusters: []routing.WeightedCluster{{Cluster: c, Weight: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	p := routing.NewProxy(func() routing.State { return staticState{table} })
	pool.Release(a) // a snapshot or re-resolution dropped it while this cluster still lists it
	for range 100 {
		up, err := p.Route(t.Context(), method, nil)
		if err != nil {
			t.Fatal(err)
		}
		if up.Conn == a.Conn() {
			t.Fatal("a call began on a released endpoint")
		}
		up.DoneWith(nil)
	}
}
