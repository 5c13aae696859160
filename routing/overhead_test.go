package routing

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func internalEndpoints(tb testing.TB, n int) []*Endpoint {
	tb.Helper()
	pool := NewPool(nil)
	tb.Cleanup(func() { pool.Close() })
	eps := make([]*Endpoint, n)
	for i := range eps {
		e, err := pool.Acquire(fmt.Sprintf("192.0.2.%d:50051", i+1))
		if err != nil {
			tb.Fatal(err)
		}
		eps[i] = e
	}
	return eps
}

// callOverhead is the per-call resilience bookkeeping of Proxy.Route and Upstream.DoneWith without
// the route match and the context: budget count, pick, breaker admission, in-flight count, and the
// outcome's recording (EWMA, outlier streak, breaker).
func callOverhead(c *Cluster, h Headers, err error) {
	now := nanotime()
	c.budget.request(now)
	ep, probe, aerr := c.admit(h, nil, now)
	if aerr != nil {
		panic(aerr)
	}
	u := Upstream{ep: ep, cluster: c, start: now, probe: probe, Kind: KindUnary}
	u.DoneWith(err)
}

func TestCallOverheadDoesNotAllocate(t *testing.T) {
	notFound := status.Error(codes.NotFound, "no such user")
	for _, b := range []Balancer{RoundRobin, LeastRequest, RingHash, Random} {
		c := NewCluster("c", internalEndpoints(t, 3), WithClusterConfig(ClusterConfig{Balancer: b, HashKey: "x-user", MaxRequests: 100}))
		h := MD{"x-user": {"u42"}}
		if n := testing.AllocsPerRun(1000, func() { callOverhead(c, h, nil); callOverhead(c, h, notFound) }); n != 0 {
			t.Errorf("%v: %v allocations per call, want 0", b, n)
		}
	}
}

func BenchmarkCallOverhead(b *testing.B) {
	for _, bal := range []Balancer{RoundRobin, LeastRequest, RingHash, Random} {
		b.Run(bal.String(), func(b *testing.B) {
			c := NewCluster("c", internalEndpoints(b, 5), WithClusterConfig(ClusterConfig{
				Balancer: bal, HashKey: "x-user", Weights: []uint32{1, 2, 3, 1, 1}, MaxRequests: 1 << 20,
			}))
			h := MD{"x-user": {"u42"}}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					callOverhead(c, h, nil)
				}
			})
		})
	}
}

func TestRetryBudget(t *testing.T) {
	var b budget
	b.percent, b.min = 20, 3
	now := nanotime()
	for range 100 {
		b.request(now)
	}
	allowed := 0
	for range 100 {
		if b.retry(now) {
			allowed++
		}
	}
	if allowed != 20 {
		t.Errorf("retries allowed after 100 calls = %d, want 20", allowed)
	}
	// The window slides: ten seconds later the old calls no longer count, and the minimum applies.
	later := now + budgetBuckets*budgetBucketWidth
	allowed = 0
	for range 10 {
		if b.retry(later) {
			allowed++
		}
	}
	if allowed != 3 {
		t.Errorf("retries allowed in an idle window = %d, want the minimum, 3", allowed)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want outcome
	}{
		{nil, outcomeSuccess},
		{status.Error(codes.NotFound, "x"), outcomeSuccess},
		{status.Error(codes.InvalidArgument, "x"), outcomeSuccess},
		{status.Error(codes.Internal, "x"), outcomeSuccess},
		{status.Error(codes.Unavailable, "x"), outcomeFailure},
		{status.Error(codes.ResourceExhausted, "quota"), outcomeFailure},
		{status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5 vs. 4)"), outcomeSuccess},
		{status.Error(codes.DeadlineExceeded, "x"), outcomeFailure},
		{status.Error(codes.Canceled, "x"), outcomeExcluded},
		{fmt.Errorf("read: connection reset"), outcomeFailure},
	} {
		if got := classify(t.Context(), tc.err); got != tc.want {
			t.Errorf("classify(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
