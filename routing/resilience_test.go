package routing_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/routing"
)

// staticState routes every call to one cluster as unary.
type staticState struct{ table *routing.Table }

func (s staticState) Routes() *routing.Table     { return s.table }
func (s staticState) Admitter() routing.Admitter { return nil }
func (s staticState) Method(string) (routing.CallKind, bool, bool) {
	return routing.KindUnary, false, false
}

// resilientSetup returns a proxy routing every call to one cluster of n made-up endpoints
// acquired with ecfg, and the endpoints.
func resilientSetup(t *testing.T, n int, ecfg routing.EndpointConfig, ccfg routing.ClusterConfig) (*routing.Proxy, []*routing.Endpoint) {
	t.Helper()
	pool := routing.NewPool(nil)
	t.Cleanup(func() { pool.Close() })
	eps := make([]*routing.Endpoint, n)
	for i := range eps {
		e, err := pool.AcquireWith(fmt.Sprintf("192.0.2.%d:50051", i+1), routing.Transport{}, ecfg)
		if err != nil {
			t.Fatal(err)
		}
		eps[i] = e
	}
	c := routing.NewCluster("c", eps, routing.WithClusterConfig(ccfg))
	table, err := routing.NewTable([]routing.Route{{Name: "all", Match: routing.Match{Prefix: "/"}, Clusters: []routing.WeightedCluster{{Cluster: c, Weight: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	return routing.NewProxy(func() routing.State { return staticState{table} }), eps
}

const method = "/test.v1.Svc/Get"

// finishOn routes calls until one lands on e and finishes it with err.
func finishOn(t *testing.T, p *routing.Proxy, e *routing.Endpoint, err error) {
	t.Helper()
	for range 1000 {
		up, rerr := p.Route(t.Context(), method, nil)
		if rerr != nil {
			t.Fatalf("Route: %v", rerr)
		}
		if up.Conn == e.Conn() {
			up.DoneWith(err)
			return
		}
		up.DoneWith(nil)
	}
	t.Fatalf("no call landed on %s", e.Addr())
}

func TestBreakerCountsOnlySickOutcomes(t *testing.T) {
	p, eps := resilientSetup(t, 1, routing.EndpointConfig{Outlier: routing.OutlierConfig{Disabled: true}}, routing.ClusterConfig{})
	e := eps[0]
	callerErrs := []error{
		status.Error(codes.InvalidArgument, "bad"), status.Error(codes.NotFound, "none"),
		status.Error(codes.Canceled, "gone"), status.Error(codes.PermissionDenied, "no"),
	}
	for range 10 {
		for _, err := range callerErrs {
			finishOn(t, p, e, err)
		}
	}
	// DeadlineExceeded because the caller's own deadline passed does not count either.
	for range 10 {
		ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
		<-ctx.Done()
		up, err := p.Route(ctx, method, nil)
		if err != nil {
			t.Fatal(err)
		}
		up.DoneWith(status.Error(codes.DeadlineExceeded, "caller deadline"))
		cancel()
	}
	if s := e.Stats(); s.Breaker != "closed" || s.ConsecutiveFailures != 0 {
		t.Fatalf("after caller errors: %+v, want a closed breaker and no failures", s)
	}
	for range routing.DefaultBreakerFailures {
		finishOn(t, p, e, status.Error(codes.Unavailable, "backend down"))
	}
	if s := e.Stats(); s.Breaker != "open" {
		t.Fatalf("after %d Unavailable: breaker %s, want open", routing.DefaultBreakerFailures, s.Breaker)
	}
	start := time.Now()
	_, err := p.Route(t.Context(), method, nil)
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "circuit breaker open") {
		t.Fatalf("Route with the circuit open: %v, want Unavailable: circuit breaker open", err)
	}
	if strings.Contains(err.Error(), e.Addr()) {
		t.Errorf("Route with the circuit open: %v names the endpoint; clients must not see it", err)
	}
	if d := time.Since(start); d > 5*time.Millisecond {
		t.Errorf("failing fast took %v", d)
	}
}

func TestPickerSkipsOpenCircuitAndHalfOpenRecovers(t *testing.T) {
	ecfg := routing.EndpointConfig{
		Outlier: routing.OutlierConfig{Disabled: true},
		Breaker: routing.BreakerConfig{OpenTimeout: 50 * time.Millisecond},
	}
	p, eps := resilientSetup(t, 3, ecfg, routing.ClusterConfig{})
	for range routing.DefaultBreakerFailures {
		finishOn(t, p, eps[0], status.Error(codes.Unavailable, "down"))
	}
	// Open, or half-open already if the open timeout passed meanwhile (a loaded machine).
	if s := eps[0].Stats().Breaker; s != "open" && s != "half-open" {
		t.Fatalf("breaker %s, want it tripped", s)
	}
	for range 300 {
		up, err := p.Route(t.Context(), method, nil)
		if err != nil {
			t.Fatal(err)
		}
		if up.Conn == eps[0].Conn() {
			// Only possible once the open timeout has passed: a half-open probe.
			if eps[0].Stats().Breaker != "half-open" {
				t.Fatal("a call went to an endpoint whose circuit is open")
			}
			up.DoneWith(nil)
			break
		}
		up.DoneWith(nil)
	}
	// Once the timeout passes, a probe gets through and its success closes the circuit.
	deadline := time.Now().Add(5 * time.Second)
	for eps[0].Stats().Breaker != "closed" {
		if time.Now().After(deadline) {
			t.Fatalf("circuit did not close: %+v", eps[0].Stats())
		}
		up, err := p.Route(t.Context(), method, nil)
		if err != nil {
			t.Fatal(err)
		}
		up.DoneWith(nil)
	}
}

func TestOutlierEjectionCappedAndPanicMode(t *testing.T) {
	ecfg := routing.EndpointConfig{Breaker: routing.BreakerConfig{Disabled: true}}
	p, eps := resilientSetup(t, 3, ecfg, routing.ClusterConfig{})
	for range routing.DefaultOutlierFailures {
		finishOn(t, p, eps[0], status.Error(codes.Unavailable, "down"))
	}
	if s := eps[0].Stats(); !s.Ejected || s.Ejections != 1 || s.EjectedFor <= 0 {
		t.Fatalf("eps[0] after %d failures: %+v, want ejected", routing.DefaultOutlierFailures, s)
	}
	for range 100 {
		up, err := p.Route(t.Context(), method, nil)
		if err != nil {
			t.Fatal(err)
		}
		if up.Conn == eps[0].Conn() {
			t.Fatal("an ejected endpoint was picked")
		}
		up.DoneWith(nil)
	}
	// At most half of three endpoints (one) may be ejected at once.
	for range routing.DefaultOutlierFailures {
		finishOn(t, p, eps[1], status.Error(codes.Unavailable, "down"))
	}
	if s := eps[1].Stats(); s.Ejected {
		t.Fatalf("eps[1] ejected beyond the cap: %+v", s)
	}
}

func TestPanicModeUsesAllEndpoints(t *testing.T) {
	ecfg := routing.EndpointConfig{Breaker: routing.BreakerConfig{Disabled: true}}
	// Allow ejecting everything, so that too few healthy remain.
	p, eps := resilientSetup(t, 2, ecfg, routing.ClusterConfig{MaxEjectedPercent: 100})
	for _, e := range eps {
		for range routing.DefaultOutlierFailures {
			finishOn(t, p, e, status.Error(codes.Unavailable, "down"))
		}
	}
	if !eps[0].Stats().Ejected || !eps[1].Stats().Ejected {
		t.Fatal("endpoints not ejected")
	}
	seen := map[*routing.Endpoint]bool{}
	for range 20 {
		up, err := p.Route(t.Context(), method, nil)
		if err != nil {
			t.Fatalf("panic mode: %v", err)
		}
		for _, e := range eps {
			if up.Conn == e.Conn() {
				seen[e] = true
			}
		}
		up.Done()
	}
	if len(seen) != 2 {
		t.Errorf("panic mode used %d endpoints, want both", len(seen))
	}
}

// An endpoint that cannot take calls (failing its health checks here) leaves its share to the
// others evenly, by their weights, not to its neighbour in the list: round robin over three
// endpoints with the second one out sends the first and the third half the calls each, exactly,
// and so do the random balancers, give or take chance.
func TestOutEndpointSharedEvenly(t *testing.T) {
	addrs := make([]string, 3)
	var out *health.Server
	for i := range addrs {
		var hs *health.Server
		addrs[i], hs = testnet.Health(t)
		if i == 1 {
			out = hs
		}
	}
	out.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	ecfg := routing.EndpointConfig{Health: routing.HealthCheckConfig{Interval: 5 * time.Millisecond, Timeout: time.Second, UnhealthyThreshold: 1}}
	for _, tc := range []struct {
		name     string
		balancer routing.Balancer
		weights  []uint32
		calls    int
		slack    int // how far from its share of the calls each endpoint may be
	}{
		{"round robin", routing.RoundRobin, nil, 300, 1},
		{"weighted round robin", routing.RoundRobin, []uint32{1, 5, 2}, 300, 1},
		// Chance: 3000 calls split at random deviate from half by 27 (one standard deviation);
		// the neighbour taking the out endpoint's share would be 500 off.
		{"random", routing.Random, nil, 3000, 200},
		{"least request", routing.LeastRequest, nil, 3000, 200},
		{"ring hash", routing.RingHash, nil, 3000, 200}, // calls without the hash key are spread at random
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := routing.NewPool(nil, routing.WithPoolLogger(quietLog()))
			t.Cleanup(func() { pool.Close() })
			eps := make([]*routing.Endpoint, len(addrs))
			for i, a := range addrs {
				e, err := pool.AcquireWith(a, routing.Transport{}, ecfg)
				if err != nil {
					t.Fatal(err)
				}
				eps[i] = e
			}
			c := routing.NewCluster("c", eps, routing.WithClusterConfig(routing.ClusterConfig{
				Balancer: tc.balancer, HashKey: "x-session", Weights: tc.weights}))
			waitUntil(t, "the second endpoint unhealthy", func() bool { return !eps[1].Stats().Healthy })
			counts := map[*routing.Endpoint]int{}
			for range tc.calls {
				e, err := c.Pick()
				if err != nil {
					t.Fatal(err)
				}
				counts[e]++
			}
			first, third := tc.calls/2, tc.calls/2
			if w := tc.weights; w != nil {
				first = tc.calls * int(w[0]) / int(w[0]+w[2])
				third = tc.calls - first
			}
			if counts[eps[1]] != 0 || abs(counts[eps[0]]-first) > tc.slack || abs(counts[eps[2]]-third) > tc.slack {
				t.Errorf("%d calls with the second endpoint out: %d/%d/%d, want %d/0/%d, give or take %d",
					tc.calls, counts[eps[0]], counts[eps[1]], counts[eps[2]], first, third, tc.slack)
			}
			if n := testing.AllocsPerRun(100, func() { c.Pick() }); n != 0 {
				t.Errorf("Pick with an endpoint out allocates %v times, want 0", n)
			}
		})
	}
}

func abs(x int) int { return max(x, -x) }

func TestWeightedRoundRobin(t *testing.T) {
	eps := coreEndpoints(t, 3)
	c := routing.NewCluster("c", eps, routing.WithClusterConfig(routing.ClusterConfig{Weights: []uint32{1, 3, 6}}))
	counts := map[*routing.Endpoint]int{}
	for range 1000 {
		e, err := c.Pick()
		if err != nil {
			t.Fatal(err)
		}
		counts[e]++
	}
	if counts[eps[0]] != 100 || counts[eps[1]] != 300 || counts[eps[2]] != 600 {
		t.Errorf("picks %d/%d/%d, want 100/300/600", counts[eps[0]], counts[eps[1]], counts[eps[2]])
	}
}

func TestRingHashAffinity(t *testing.T) {
	ecfg := routing.EndpointConfig{Outlier: routing.OutlierConfig{Disabled: true}}
	p, eps := resilientSetup(t, 4, ecfg, routing.ClusterConfig{Balancer: routing.RingHash, HashKey: "x-session"})
	target := func(key string) *routing.Endpoint {
		up, err := p.Route(t.Context(), method, metadata.Pairs("x-session", key))
		if err != nil {
			t.Fatal(err)
		}
		defer up.DoneWith(nil)
		for _, e := range eps {
			if up.Conn == e.Conn() {
				return e
			}
		}
		t.Fatal("unknown endpoint")
		return nil
	}
	used := map[*routing.Endpoint]int{}
	first := map[string]*routing.Endpoint{}
	for i := range 200 {
		key := fmt.Sprintf("session-%d", i)
		first[key] = target(key)
		used[first[key]]++
		for range 3 {
			if target(key) != first[key] {
				t.Fatalf("key %s moved between endpoints", key)
			}
		}
	}
	if len(used) != 4 {
		t.Fatalf("200 keys used %d of 4 endpoints: %v", len(used), used)
	}
	// Open the circuit of one endpoint: only its keys move.
	victim := first["session-0"]
	for range routing.DefaultBreakerFailures {
		up, _ := p.Route(t.Context(), method, metadata.Pairs("x-session", "session-0"))
		up.DoneWith(status.Error(codes.Unavailable, "down"))
	}
	for key, e := range first {
		got := target(key)
		if e == victim && got == victim || e != victim && got != e {
			t.Fatalf("with %s's circuit open, key %s went from %s to %s", victim.Addr(), key, e.Addr(), got.Addr())
		}
	}
}

func TestLeastRequestAvoidsBusyEndpoint(t *testing.T) {
	eps := coreEndpoints(t, 2)
	c := routing.NewCluster("c", eps, routing.WithClusterConfig(routing.ClusterConfig{Balancer: routing.LeastRequest}))
	for range 10 {
		defer eps[0].Begin()()
	}
	for range 100 {
		if e, _ := c.Pick(); e != eps[1] {
			t.Fatal("least request picked the endpoint with 10 calls in flight over an idle one")
		}
	}
}

func TestClusterMaxRequests(t *testing.T) {
	p, _ := resilientSetup(t, 2, routing.EndpointConfig{}, routing.ClusterConfig{MaxRequests: 2})
	a, err := p.Route(t.Context(), method, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Route(t.Context(), method, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Route(t.Context(), method, nil); status.Code(err) != codes.Unavailable {
		t.Fatalf("third concurrent call: %v, want Unavailable", err)
	}
	a.DoneWith(nil)
	c, err := p.Route(t.Context(), method, nil)
	if err != nil {
		t.Fatalf("after one finished: %v", err)
	}
	b.DoneWith(nil)
	c.DoneWith(nil)
}

func BenchmarkRouteDoneWith(b *testing.B) {
	pool := routing.NewPool(nil)
	b.Cleanup(func() { pool.Close() })
	var eps []*routing.Endpoint
	for i := range 3 {
		e, _ := pool.Acquire(fmt.Sprintf("192.0.2.%d:50051", i+1))
		eps = append(eps, e)
	}
	c := routing.NewCluster("c", eps, routing.WithClusterConfig(routing.ClusterConfig{Balancer: routing.LeastRequest}))
	table, _ := routing.NewTable([]routing.Route{{Name: "all", Match: routing.Match{Prefix: "/"}, Clusters: []routing.WeightedCluster{{Cluster: c, Weight: 1}}}})
	p := routing.NewProxy(func() routing.State { return staticState{table} })
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		up, err := p.Route(ctx, method, nil)
		if err != nil {
			b.Fatal(err)
		}
		up.DoneWith(nil)
	}
}

// Cluster.Available follows what the picker would skip, and Pool.Subscribe signals each change,
// including the ones the clock makes (an ejection ending, an open circuit's timeout passing).
func TestClusterAvailableAndSubscribe(t *testing.T) {
	for _, tc := range []struct {
		name string
		ecfg routing.EndpointConfig
		want string // what the failures do
	}{
		{"ejection", routing.EndpointConfig{
			Breaker: routing.BreakerConfig{Disabled: true},
			Outlier: routing.OutlierConfig{BaseEjectionTime: 500 * time.Millisecond},
		}, "ejected"},
		{"circuit", routing.EndpointConfig{
			Breaker: routing.BreakerConfig{OpenTimeout: 500 * time.Millisecond},
			Outlier: routing.OutlierConfig{Disabled: true},
		}, "open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := routing.NewPool(nil)
			t.Cleanup(func() { pool.Close() })
			e, err := pool.AcquireWith("192.0.2.1:50051", routing.Transport{}, tc.ecfg)
			if err != nil {
				t.Fatal(err)
			}
			c := routing.NewCluster("c", []*routing.Endpoint{e}, routing.WithClusterConfig(routing.ClusterConfig{PanicThreshold: -1}))
			table, err := routing.NewTable([]routing.Route{{Name: "all", Match: routing.Match{Prefix: "/"}, Clusters: []routing.WeightedCluster{{Cluster: c, Weight: 1}}}})
			if err != nil {
				t.Fatal(err)
			}
			p := routing.NewProxy(func() routing.State { return staticState{table} })
			changes, stop := pool.Subscribe()
			defer stop()
			if !c.Available() {
				t.Fatal("a fresh cluster is not available")
			}
			for range routing.DefaultOutlierFailures {
				finishOn(t, p, e, status.Error(codes.Unavailable, "down"))
			}
			s := e.Stats()
			if tc.want == "ejected" && !s.Ejected || tc.want == "open" && s.Breaker != "open" {
				t.Fatalf("after the failures: %+v, want %s", s, tc.want)
			}
			if c.Available() {
				t.Fatalf("available with its only endpoint %s", tc.want)
			}
			select {
			case <-changes:
			default:
				t.Fatal("no change signalled when the endpoint was taken out")
			}
			// Nothing is called now: only the clock brings the endpoint back, and that is signalled.
			select {
			case <-changes:
			case <-time.After(5 * time.Second):
				t.Fatal("no change signalled when the endpoint could take calls again")
			}
			if !c.Available() {
				t.Fatalf("signalled, but not available: %+v", e.Stats())
			}
		})
	}
}

// awaitSignalled waits on a pool's change signals ([routing.Pool.Subscribe]) until cond holds, for
// at most 10s.
func awaitSignalled(t *testing.T, changes <-chan struct{}, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-changes:
		case <-timeout:
			t.Fatalf("%s: not within 10s", what)
		}
	}
}

// An endpoint whose connection is failing (nothing listens on its address: connection refused)
// cannot take a call, as one whose circuit is open: every balancer passes over it from the moment
// grpc reports the connection failing, not only once enough failed calls have tripped its breaker
// or ejected it, and the cluster does not count it available. It is still tried when there is
// nothing better; and grpc's own reconnection brings it back once its backend is, without a call.
func TestPickerPassesOverFailingConnection(t *testing.T) {
	dead := testnet.Refused(t)
	live, _ := testnet.Health(t)
	pool := routing.NewPool(nil, routing.WithPoolLogger(quietLog()))
	t.Cleanup(func() { pool.Close() })
	eps := make([]*routing.Endpoint, 2)
	for i, a := range []string{dead, live} {
		e, err := pool.AcquireWith(a, routing.Transport{}, routing.EndpointConfig{Breaker: routing.BreakerConfig{Disabled: true}})
		if err != nil {
			t.Fatal(err)
		}
		eps[i] = e
	}
	changes, stop := pool.Subscribe()
	defer stop()
	alone := routing.NewCluster("alone", eps[:1])
	if !alone.Available() {
		t.Fatal("an endpoint not connected yet counts as unavailable")
	}
	eps[0].Conn().Connect()
	awaitSignalled(t, changes, "the dead endpoint's connection failing", func() bool { return !alone.Available() })
	if s := eps[0].Stats(); s.Connection != "TRANSIENT_FAILURE" {
		t.Errorf("dead endpoint's connection %q, want TRANSIENT_FAILURE", s.Connection)
	}
	if e, err := alone.Pick(); e != eps[0] {
		t.Errorf("a cluster of the failing endpoint alone picked %v, %v; want it tried still", e, err)
	}

	for _, b := range []routing.Balancer{routing.RoundRobin, routing.LeastRequest, routing.RingHash, routing.Random} {
		c := routing.NewCluster(b.String(), eps, routing.WithClusterConfig(routing.ClusterConfig{Balancer: b, HashKey: "x-session"}))
		if !c.Available() {
			t.Errorf("%s: not available with one endpoint's connection working", b)
		}
		for i := range 100 {
			e, err := c.PickFor(routing.MD(metadata.Pairs("x-session", fmt.Sprint(i))))
			if err != nil {
				t.Fatal(err)
			}
			if e != eps[1] {
				t.Fatalf("%s picked the endpoint whose connection is failing", b)
			}
		}
		if n := testing.AllocsPerRun(100, func() { c.Pick() }); n != 0 {
			t.Errorf("%s: Pick with a connection failing allocates %v times, want 0", b, n)
		}
	}

	// With the working endpoint ejected, the call still goes to it rather than to the failing one:
	// an ejection is a guess from past calls, a failing connection a certainty.
	c := routing.NewCluster("c", eps, routing.WithClusterConfig(routing.ClusterConfig{MaxEjectedPercent: 100}))
	table, err := routing.NewTable([]routing.Route{{Name: "all", Match: routing.Match{Prefix: "/"}, Clusters: []routing.WeightedCluster{{Cluster: c, Weight: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	p := routing.NewProxy(func() routing.State { return staticState{table} })
	for range routing.DefaultOutlierFailures {
		finishOn(t, p, eps[1], status.Error(codes.Unavailable, "down"))
	}
	if !eps[1].Stats().Ejected {
		t.Fatal("the working endpoint was not ejected")
	}
	for range 10 {
		if e, _ := c.Pick(); e != eps[1] {
			t.Fatal("with the working endpoint ejected, the one whose connection is failing was picked")
		}
	}

	// The backend comes back: grpc reconnects by itself, and the endpoint can take calls again.
	lis := testnet.Listen(t, dead)
	srv := grpc.NewServer()
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()
	defer func() { srv.Stop(); <-served }()
	awaitSignalled(t, changes, "the endpoint back with its backend", alone.Available)
	if s := eps[0].Stats(); s.Connection != "READY" {
		t.Errorf("endpoint back: connection %q, want READY", s.Connection)
	}
}
