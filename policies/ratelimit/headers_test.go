package ratelimit_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/ratelimit"
	"github.com/protogate/gateway/policies/ratelimit/ratelimittest"
)

// headerSink records the response headers the Steps hand the front, as a front's
// policy.ResponseHeaders would take them.
type headerSink struct {
	mu   sync.Mutex
	sets []headerSet
}

type headerSet struct {
	rank int64
	h    http.Header
}

func (s *headerSink) SetResponseHeaders(rank int64, hs []policy.Header) {
	h := http.Header{}
	for _, hd := range hs {
		h.Set(hd.Name.HTTP(), hd.Value)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sets = append(s.sets, headerSet{rank, h})
}

// take returns the sets recorded since the last take.
func (s *headerSink) take() []headerSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.sets
	s.sets = nil
	return out
}

// withSink returns c with a fresh sink in its context.
func withSink(c *policy.Call) (*policy.Call, *headerSink) {
	sink := &headerSink{}
	c.Ctx = policy.WithResponseHeaders(c.Ctx, sink)
	return c, sink
}

// TestAdmittedHeaders: an admitted call hands the front RateLimit-Limit (the burst), -Remaining
// (what is left after it, which is also the set's rank), -Reset (seconds until the bucket is full
// again, rounded up) and -Policy, on both backends, which report the same figures; a refusal
// carries Retry-After and the same headers. 3 per second makes the interval 333.33ms, not a whole
// number of microseconds: the Redis script's rounding must not cost a token.
func TestAdmittedHeaders(t *testing.T) {
	backends := map[string]func(t *testing.T) config.RateLimit{
		"local": func(*testing.T) config.RateLimit { return config.RateLimit{} },
		"redis": func(t *testing.T) config.RateLimit { return redisConfig(t, ratelimittest.Addr(t)) },
	}
	for name, cfg := range backends {
		t.Run(name, func(t *testing.T) {
			clk := newClock()
			clk.now = time.Now() // Redis keys expire on the server's clock
			s := step(t, newLimiter(t, cfg(t), ratelimit.WithClock(clk.Now)), "products", config.RuleRateLimit{Rate: 3, Per: time.Second, Burst: 3})
			c, sink := withSink(call(getProduct, "10.0.0.1"))
			for i, want := range []int64{2, 1, 0} {
				if err := s.Admit(c); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				sets := sink.take()
				if len(sets) != 1 {
					t.Fatalf("call %d handed %d header sets, want 1", i, len(sets))
				}
				got := sets[0]
				if got.rank != want {
					t.Errorf("call %d: rank %d, want %d (the tokens left)", i, got.rank, want)
				}
				for k, v := range map[string]string{
					"RateLimit-Limit":     "3",
					"RateLimit-Remaining": strconv.FormatInt(want, 10),
					"RateLimit-Reset":     "1",
					"RateLimit-Policy":    "3;w=1",
				} {
					if g := got.h.Get(k); g != v {
						t.Errorf("call %d: %s = %q, want %q", i, k, g, v)
					}
				}
			}
			h, _, _ := denial(t, s.Admit(c))
			if h.Get("Retry-After") != "1" || h.Get("RateLimit-Remaining") != "0" || h.Get("RateLimit-Limit") != "3" {
				t.Errorf("refusal headers %v, want Retry-After 1, RateLimit-Remaining 0, RateLimit-Limit 3", h)
			}
			if sets := sink.take(); len(sets) != 0 {
				t.Errorf("a refusal handed the front header sets %v: its headers travel with the denial", sets)
			}
			// 700ms on, two tokens have come back: one is taken, one is left.
			clk.Advance(700 * time.Millisecond)
			if err := s.Admit(c); err != nil {
				t.Fatal(err)
			}
			if sets := sink.take(); len(sets) != 1 || sets[0].h.Get("RateLimit-Remaining") != "1" {
				t.Errorf("after a refill: %v, want RateLimit-Remaining 1", sets)
			}
		})
	}
}

// TestHeadersOff: a rule with headers: false hands the front nothing, and its refusals keep only
// Retry-After.
func TestHeadersOff(t *testing.T) {
	off := false
	l := newLimiter(t, config.RateLimit{}, ratelimit.WithClock(newClock().Now))
	s := step(t, l, "login", config.RuleRateLimit{Rate: 1, Per: time.Minute, Headers: &off})
	c, sink := withSink(call(getProduct, "10.0.0.1"))
	if err := s.Admit(c); err != nil {
		t.Fatal(err)
	}
	if sets := sink.take(); len(sets) != 0 {
		t.Errorf("headers: false handed the front %v", sets)
	}
	h, ri, _ := denial(t, s.Admit(c))
	if len(h) != 1 || h.Get("Retry-After") != "60" || ri == nil {
		t.Errorf("refusal headers %v (RetryInfo %v), want Retry-After 60 alone", h, ri)
	}
}

// TestHeadersWithoutSink: a front that takes no response headers (no sink, no gRPC stream in the
// context) costs the decision nothing and breaks nothing.
func TestHeadersWithoutSink(t *testing.T) {
	s := step(t, newLimiter(t, config.RateLimit{}), "r", config.RuleRateLimit{Rate: 10, Per: time.Minute})
	c := call(getProduct, "10.0.0.1")
	if got := admits(t, s, c, 11); got != 10 {
		t.Fatalf("admitted %d, want 10", got)
	}
	bare := call(getProduct, "10.0.0.2")
	bare.Ctx = nil
	if got := admits(t, s, bare, 1); got != 1 {
		t.Fatalf("admitted %d with no context, want 1", got)
	}
}

// transportStream stands for the native gRPC server's (and the gRPC-Web front's) stream in a
// call's context: it tells the call that a gRPC front serves it.
type transportStream struct{}

func (transportStream) Method() string                  { return getProduct }
func (transportStream) SetHeader(metadata.MD) error     { return nil }
func (transportStream) SendHeader(md metadata.MD) error { return nil }
func (transportStream) SetTrailer(metadata.MD) error    { return nil }

// TestHeadersAsGRPCMetadata: on the gRPC fronts the headers become response header metadata,
// lower case, which the call hands the proxy (Call.ResponseMetadata) to merge into the upstream's.
func TestHeadersAsGRPCMetadata(t *testing.T) {
	s := step(t, newLimiter(t, config.RateLimit{}, ratelimit.WithClock(newClock().Now)), "r", config.RuleRateLimit{Rate: 5, Per: 10 * time.Second})
	c := call(getProduct, "10.0.0.1")
	c.Front, c.Ctx = policy.FrontGRPC, grpc.NewContextWithServerTransportStream(context.Background(), transportStream{})
	if err := s.Admit(c); err != nil {
		t.Fatal(err)
	}
	want := metadata.MD{
		"ratelimit-limit":     {"5"},
		"ratelimit-remaining": {"4"},
		"ratelimit-reset":     {"2"},
		"ratelimit-policy":    {"5;w=10"},
	}
	header := metadata.Pairs(c.ResponseHeaderPairs()...)
	if len(header) != len(want) {
		t.Fatalf("header metadata %v, want %v", header, want)
	}
	for k, v := range want {
		if got := header.Get(k); len(got) != 1 || got[0] != v[0] {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// TestOperationHeaders: a GraphQL operation's calls under one rule share one decision, handed to
// the front once, with the remaining tokens after the operation's whole cost.
func TestOperationHeaders(t *testing.T) {
	l := newLimiter(t, config.RateLimit{}, ratelimit.WithClock(newClock().Now))
	s := step(t, l, "products", config.RuleRateLimit{Rate: 10, Per: time.Minute})
	sink := &headerSink{}
	ctx := policy.WithResponseHeaders(ratelimit.WithOperationCost(context.Background(), 4), sink)
	for range 3 {
		c := call(getProduct, "10.0.0.1")
		c.Front, c.Ctx = policy.FrontGraphQL, ctx
		if err := s.Admit(c); err != nil {
			t.Fatal(err)
		}
	}
	sets := sink.take()
	if len(sets) != 1 || sets[0].rank != 6 || sets[0].h.Get("RateLimit-Remaining") != "6" {
		t.Errorf("an operation of cost 4 handed %v, want one set with 6 remaining", sets)
	}
}
