package routing

import (
	"log/slog"
	"testing"
	"time"

	"github.com/protogate/gateway/internal/testnet"
)

// loopbackEndpoints starts n gRPC servers with the health service on loopback ports and acquires
// their endpoints from a pool; servers and pool end with the test.
func loopbackEndpoints(t *testing.T, n int) []*Endpoint {
	t.Helper()
	pool := NewPool(nil, WithPoolLogger(slog.New(slog.DiscardHandler)))
	t.Cleanup(func() { pool.Close() })
	eps := make([]*Endpoint, n)
	for i := range eps {
		addr, _ := testnet.Health(t)
		var err error
		if eps[i], err = pool.Acquire(addr); err != nil {
			t.Fatal(err)
		}
	}
	return eps
}

// The clock of these tests: nanotime values far from zero, moved by hand.
const testEpoch = int64(1000 * time.Second)

// An endpoint's latency estimate halves for every LatencyHalfLife without a sample, and a sample
// moves the faded estimate, not the stale one.
func TestLatencyEstimateFades(t *testing.T) {
	e := loopbackEndpoints(t, 1)[0]
	if got := e.latency(testEpoch); got != 0 {
		t.Fatalf("estimate before any call: %v, want 0", time.Duration(got))
	}
	e.observe(outcomeSuccess, int64(8*time.Millisecond), true, testEpoch)
	for _, tc := range []struct {
		after time.Duration
		want  time.Duration
	}{
		{0, 8 * time.Millisecond},
		{LatencyHalfLife / 2, 5656854}, // 8ms / √2
		{LatencyHalfLife, 4 * time.Millisecond},
		{3 * LatencyHalfLife, time.Millisecond},
		{20 * LatencyHalfLife, 8 * time.Millisecond >> 20},
	} {
		if got := time.Duration(e.latency(testEpoch + int64(tc.after))); got-tc.want > 1 || tc.want-got > 1 {
			t.Errorf("estimate %v after a call of 8ms: %v, want %v", tc.after, got, tc.want)
		}
	}
	// Three half-lives on, the estimate is 1ms: a call of 11ms makes it 1 + 0.2 × (11 - 1) = 3ms.
	later := testEpoch + int64(3*LatencyHalfLife)
	e.observe(outcomeSuccess, int64(11*time.Millisecond), true, later)
	if got := time.Duration(e.latency(later)); got-3*time.Millisecond > 1 || 3*time.Millisecond-got > 1 {
		t.Errorf("estimate after a call of 11ms on a faded 1ms: %v, want 3ms", got)
	}
}

// Least request tries an endpoint that was slow again once its estimate has faded below the
// others', and shares light load with it again once it answers as fast as they do. Before, its
// estimate changed only with its own calls, and under sequential calls (none in flight to tell the
// endpoints apart) it never got one: slow for 9 calls, it was out for good.
func TestLeastRequestTriesRecoveredEndpoint(t *testing.T) {
	eps := loopbackEndpoints(t, 3)
	c := NewCluster("c", eps, WithClusterConfig(ClusterConfig{Balancer: LeastRequest}))
	now := testEpoch
	for range 9 {
		eps[0].observe(outcomeSuccess, int64(30*time.Millisecond), true, now)
		eps[1].observe(outcomeSuccess, int64(time.Millisecond), true, now)
		eps[2].observe(outcomeSuccess, int64(time.Millisecond), true, now)
		now += int64(10 * time.Millisecond)
	}
	// From now on every endpoint answers in 1ms; one call every 100ms, each over before the next.
	const calls, every = 300, 100 * time.Millisecond
	start, first := now, time.Duration(-1)
	var late [3]int // the last half's calls, by endpoint
	for n := range calls {
		e, err := c.pick(nil, nil, now)
		if err != nil {
			t.Fatal(err)
		}
		if e == eps[0] && first < 0 {
			first = time.Duration(now - start)
		}
		if n >= calls/2 {
			for i := range eps {
				if e == eps[i] {
					late[i]++
				}
			}
		}
		e.observe(outcomeSuccess, int64(time.Millisecond), true, now+int64(time.Millisecond))
		now += int64(every)
	}
	// Its estimate, about 26ms, fades below the others' 1ms in about 4.7 half-lives.
	if first < 3*LatencyHalfLife || first > 10*LatencyHalfLife {
		t.Errorf("the endpoint slow for 9 calls was tried again after %v of sequential calls (-1: never), want within 3 to 10 half-lives (%v)",
			first, LatencyHalfLife)
	}
	if late[0] < calls/2/6 {
		t.Errorf("the last %d calls, once every endpoint answers in 1ms: %v, want the recovered endpoint to take its share", calls/2, late)
	}
	t.Logf("tried again after %v; the last %d calls by endpoint: %v", first, calls/2, late)

	// Slow again, it is tried now and then, each call putting its estimate back up: a few calls in
	// a hundred, not a third.
	slow := 0
	for range calls {
		e, err := c.pick(nil, nil, now)
		if err != nil {
			t.Fatal(err)
		}
		latency := time.Millisecond
		if e == eps[0] {
			slow++
			latency = 30 * time.Millisecond
		}
		e.observe(outcomeSuccess, int64(latency), true, now+int64(latency))
		now += int64(every)
	}
	if slow == 0 || slow > calls/10 {
		t.Errorf("slow again, the endpoint took %d of %d calls, want a few (it is tried again as its estimate fades)", slow, calls)
	}
	t.Logf("slow again: %d of %d calls", slow, calls)
}
