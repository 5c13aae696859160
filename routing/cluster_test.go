package routing_test

import (
	"fmt"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/routing"
)

// coreEndpoints acquires endpoints for n made-up addresses from a pool closed
// when the test ends. Their connections are lazy and never dial.
func coreEndpoints(tb testing.TB, n int) []*routing.Endpoint {
	tb.Helper()
	pool := routing.NewPool(nil)
	tb.Cleanup(func() { pool.Close() })
	eps := make([]*routing.Endpoint, n)
	for i := range eps {
		e, err := pool.Acquire(fmt.Sprintf("192.0.2.%d:50051", i+1))
		if err != nil {
			tb.Fatalf("Acquire: %v", err)
		}
		eps[i] = e
	}
	return eps
}

func TestClusterPickRoundRobin(t *testing.T) {
	eps := coreEndpoints(t, 3)
	c := routing.NewCluster("users", eps)
	if c.Name() != "users" {
		t.Errorf("Name = %q", c.Name())
	}
	for i := range 7 {
		e, err := c.Pick()
		if err != nil {
			t.Fatalf("Pick %d: %v", i, err)
		}
		if want := eps[i%3]; e != want {
			t.Fatalf("Pick %d = %s, want %s", i, e.Addr(), want.Addr())
		}
	}
}

func TestClusterPickConcurrentIsFair(t *testing.T) {
	eps := coreEndpoints(t, 3)
	c := routing.NewCluster("users", eps)
	const workers, picks = 8, 3000
	var mu sync.Mutex
	counts := map[*routing.Endpoint]int{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			local := map[*routing.Endpoint]int{}
			for range picks {
				e, err := c.Pick()
				if err != nil {
					t.Error(err)
					return
				}
				local[e]++
			}
			mu.Lock()
			for e, n := range local {
				counts[e] += n
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	// The shared counter hands out every index exactly once, so each endpoint
	// gets exactly a third of the picks however the goroutines interleave.
	for _, e := range eps {
		if got, want := counts[e], workers*picks/3; got != want {
			t.Errorf("%s picked %d times, want %d", e.Addr(), got, want)
		}
	}
}

func TestClusterPickEmpty(t *testing.T) {
	c := routing.NewCluster("users", nil)
	e, err := c.Pick()
	if e != nil {
		t.Errorf("Pick = %v, want nil endpoint", e)
	}
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		t.Fatalf("Pick error = %v, want a status with code Unavailable", err)
	}
	if want := `no endpoints in cluster "users"`; st.Message() != want {
		t.Errorf("message = %q, want %q", st.Message(), want)
	}
}

func TestClusterCopiesEndpoints(t *testing.T) {
	eps := coreEndpoints(t, 2)
	in := []*routing.Endpoint{eps[0], eps[1]}
	c := routing.NewCluster("c", in)
	in[0] = eps[1]
	got := c.Endpoints()
	if len(got) != 2 || got[0] != eps[0] || got[1] != eps[1] {
		t.Fatalf("Endpoints changed with the caller's slice")
	}
	got[0] = nil
	if e, _ := c.Pick(); e != eps[0] {
		t.Fatalf("Endpoints() result aliases the cluster's slice")
	}
}

func TestNewClusterNilEndpointPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewCluster with a nil endpoint did not panic")
		}
	}()
	routing.NewCluster("c", []*routing.Endpoint{nil})
}

func TestClusterPickDoesNotAllocate(t *testing.T) {
	c := routing.NewCluster("c", coreEndpoints(t, 3))
	empty := routing.NewCluster("empty", nil)
	if n := testing.AllocsPerRun(100, func() { c.Pick(); empty.Pick() }); n != 0 {
		t.Errorf("Pick allocates %v times, want 0", n)
	}
}

func BenchmarkClusterPick(b *testing.B) {
	c := routing.NewCluster("c", coreEndpoints(b, 3))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Pick(); err != nil {
			b.Fatal(err)
		}
	}
}
