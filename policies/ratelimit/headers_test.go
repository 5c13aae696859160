package ratelimit_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strconv"
	"strings"
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

// TestAdmittedHeaders: an admitted call hands the front the fields of
// draft-ietf-httpapi-ratelimit-headers-10 by default, RateLimit (what is left after it, which is
// also the set's rank, and the seconds until the bucket is full again, rounded up) and
// RateLimit-Policy (the quota per window), and with header_fields draft-06 the older four,
// RateLimit-Limit (the burst), -Remaining, -Reset and -Policy; on both backends, which report the
// same figures. A refusal carries Retry-After and the same fields. 3 per second makes the interval
// 333.33ms, not a whole number of microseconds: the Redis script's rounding must not cost a token.
func TestAdmittedHeaders(t *testing.T) {
	backends := map[string]func(t *testing.T) config.RateLimit{
		"local": func(*testing.T) config.RateLimit { return config.RateLimit{} },
		"redis": func(t *testing.T) config.RateLimit { return redisConfig(t, ratelimittest.Addr(t)) },
	}
	styles := []struct {
		name string
		// want are the fields of a decision that left n tokens; absent, the other style's.
		want   func(n int64) map[string]string
		absent []string
	}{
		{"draft-10", func(n int64) map[string]string {
			return map[string]string{
				"RateLimit":        `"products";r=` + strconv.FormatInt(n, 10) + ";t=1",
				"RateLimit-Policy": `"products";q=3;w=1`,
			}
		}, []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"}},
		{"draft-06", func(n int64) map[string]string {
			return map[string]string{
				"RateLimit-Limit":     "3",
				"RateLimit-Remaining": strconv.FormatInt(n, 10),
				"RateLimit-Reset":     "1",
				"RateLimit-Policy":    "3;w=1",
			}
		}, []string{"RateLimit"}},
	}
	for name, cfg := range backends {
		for _, style := range styles {
			t.Run(name+"/"+style.name, func(t *testing.T) {
				clk := newClock()
				clk.now = time.Now() // Redis keys expire on the server's clock
				l := newLimiter(t, cfg(t), ratelimit.WithClock(clk.Now))
				s := stepWith(t, l, "products", config.RuleRateLimit{Rate: 3, Per: time.Second, Burst: 3}, style.name)
				c, sink := withSink(call(getProduct, "10.0.0.1"))
				check := func(what string, h http.Header, left int64) {
					t.Helper()
					for k, v := range style.want(left) {
						if g := h.Values(k); len(g) != 1 || g[0] != v {
							t.Errorf("%s: %s = %q, want %q", what, k, g, v)
						}
					}
					for _, k := range style.absent {
						if g := h.Values(k); len(g) != 0 {
							t.Errorf("%s: %s = %q, want none", what, k, g)
						}
					}
				}
				for i, want := range []int64{2, 1, 0} {
					if err := s.Admit(c); err != nil {
						t.Fatalf("call %d: %v", i, err)
					}
					sets := sink.take()
					if len(sets) != 1 {
						t.Fatalf("call %d handed %d header sets, want 1", i, len(sets))
					}
					if sets[0].rank != want {
						t.Errorf("call %d: rank %d, want %d (the tokens left)", i, sets[0].rank, want)
					}
					check("call "+strconv.Itoa(i), sets[0].h, want)
				}
				h, _, _ := denial(t, s.Admit(c))
				if h.Get("Retry-After") != "1" {
					t.Errorf("refusal: Retry-After %q, want 1", h.Get("Retry-After"))
				}
				check("refusal", h, 0)
				if sets := sink.take(); len(sets) != 0 {
					t.Errorf("a refusal handed the front header sets %v: its headers travel with the denial", sets)
				}
				// 700ms on, two tokens have come back: one is taken, one is left.
				clk.Advance(700 * time.Millisecond)
				if err := s.Admit(c); err != nil {
					t.Fatal(err)
				}
				sets := sink.take()
				if len(sets) != 1 {
					t.Fatalf("after a refill: %d header sets, want 1", len(sets))
				}
				check("after a refill", sets[0].h, 1)
			})
		}
	}
}

// TestHeaderFieldsAgree: whatever the rule and the moment, draft 10's RateLimit says what draft
// 06's RateLimit-Remaining and RateLimit-Reset say, on admitted calls and refusals: the values a
// Step renders ahead for small buckets are the ones it would render per call. Two limiters on one
// clock decide the same calls, one in each style.
func TestHeaderFieldsAgree(t *testing.T) {
	rules := []config.RuleRateLimit{
		{Rate: 3, Per: time.Second, Burst: 3},
		{Rate: 2, Per: time.Second, Burst: 3},
		{Rate: 100, Per: time.Minute, Burst: 10},
		{Rate: 10, Per: time.Minute, Burst: 150},
		{Rate: 1, Per: time.Hour, Burst: 5},
		{Rate: 1000, Per: time.Second, Burst: 250},
		{Rate: 5, Per: 1500 * time.Millisecond, Burst: 5},
		{Rate: 7, Per: 100 * time.Millisecond, Burst: 20},
		{Rate: 1, Per: 7 * time.Second, Burst: 99},
	}
	for _, rl := range rules {
		t.Run(fmt.Sprintf("%d per %s burst %d", rl.Rate, rl.Per, rl.Burst), func(t *testing.T) {
			clk := newClock()
			s10 := step(t, newLimiter(t, config.RateLimit{}, ratelimit.WithClock(clk.Now)), "r", rl)
			s06 := stepWith(t, newLimiter(t, config.RateLimit{}, ratelimit.WithClock(clk.Now)), "r", rl, "draft-06")
			c10, sink10 := withSink(call(getProduct, "10.0.0.1"))
			c06, sink06 := withSink(call(getProduct, "10.0.0.1"))
			interval := rl.Per / time.Duration(rl.Rate)
			rnd := rand.New(rand.NewPCG(1, uint64(rl.Rate)))
			for i := range 3000 {
				clk.Advance(time.Duration(rnd.Int64N(int64(interval) * 3 / 2)))
				c10.Cost = 1 + rnd.IntN(3)
				c06.Cost = c10.Cost
				err10, err06 := s10.Admit(c10), s06.Admit(c06)
				if (err10 == nil) != (err06 == nil) {
					t.Fatalf("decision %d: %v with draft-10, %v with draft-06", i, err10, err06)
				}
				var h10, h06 http.Header
				if err10 == nil {
					h10, h06 = sink10.take()[0].h, sink06.take()[0].h
				} else {
					h10, _, _ = denial(t, err10)
					h06, _, _ = denial(t, err06)
				}
				want := `"r";r=` + h06.Get("RateLimit-Remaining") + ";t=" + h06.Get("RateLimit-Reset")
				if got := h10.Get("RateLimit"); got != want {
					t.Fatalf("decision %d (cost %d, admitted %t): RateLimit %q, want %q", i, c10.Cost, err10 == nil, got, want)
				}
			}
		})
	}
}

// TestPolicyNames: a rule's name is the policy's name in both draft 10 fields, a Structured Field
// String: quotes and backslashes escaped, and bytes a String cannot hold (control characters,
// UTF-8 beyond ASCII) percent-encoded, % itself too, so the fields stay valid and names distinct.
func TestPolicyNames(t *testing.T) {
	l := newLimiter(t, config.RateLimit{}, ratelimit.WithClock(newClock().Now))
	for name, want := range map[string]string{
		"products":   `"products"`,
		"rules[0]":   `"rules[0]"`,
		`a"b\c`:      `"a\"b\\c"`,
		"café":       `"caf%c3%a9"`,
		"50%":        `"50%25"`,
		"tab\there~": `"tab%09here~"`,
	} {
		s := step(t, l, name, config.RuleRateLimit{Rate: 10, Per: time.Minute})
		c, sink := withSink(call(getProduct, "10.0.0.1"))
		if err := s.Admit(c); err != nil {
			t.Fatal(err)
		}
		h := sink.take()[0].h
		if got, want := h.Get("RateLimit-Policy"), want+";q=10;w=60"; got != want {
			t.Errorf("rule %q: RateLimit-Policy %q, want %q", name, got, want)
		}
		if got, want := h.Get("RateLimit"), want+";r=9;t=6"; got != want {
			t.Errorf("rule %q: RateLimit %q, want %q", name, got, want)
		}
	}
}

// TestPolicyBurst: draft 10's policy is the quota per window of whole seconds (20 per 1.5s: 26
// per 2s); the burst, which the draft has no parameter for, shows in what is left (r). draft-06
// names it.
func TestPolicyBurst(t *testing.T) {
	l := newLimiter(t, config.RateLimit{}, ratelimit.WithClock(newClock().Now))
	rl := config.RuleRateLimit{Rate: 20, Per: 1500 * time.Millisecond, Burst: 50}
	c, sink := withSink(call(getProduct, "10.0.0.1"))
	if err := step(t, l, "bursty", rl).Admit(c); err != nil {
		t.Fatal(err)
	}
	h := sink.take()[0].h
	if got, want := h.Get("RateLimit-Policy"), `"bursty";q=26;w=2`; got != want {
		t.Errorf("RateLimit-Policy %q, want %q", got, want)
	}
	if got, want := h.Get("RateLimit"), `"bursty";r=49;t=1`; got != want {
		t.Errorf("RateLimit %q, want %q", got, want)
	}
	if err := stepWith(t, l, "bursty", rl, "draft-06").Admit(c); err != nil {
		t.Fatal(err)
	}
	if got, want := sink.take()[0].h.Get("RateLimit-Policy"), "26;w=2;burst=50"; got != want {
		t.Errorf("draft-06 RateLimit-Policy %q, want %q", got, want)
	}
}

// TestTooCostlyHeaders: an operation that costs more than the burst is refused without taking
// from the bucket, so its refusal carries only the fields that describe the limit.
func TestTooCostlyHeaders(t *testing.T) {
	l := newLimiter(t, config.RateLimit{}, ratelimit.WithClock(newClock().Now))
	for style, want := range map[string]http.Header{
		"draft-10": {"Ratelimit-Policy": {`"r";q=10;w=60`}},
		"draft-06": {"Ratelimit-Policy": {"10;w=60"}, "Ratelimit-Limit": {"10"}},
	} {
		s := stepWith(t, l, "r", config.RuleRateLimit{Rate: 10, Per: time.Minute}, style)
		c := call(getProduct, "10.0.0.1")
		c.Front, c.Ctx = policy.FrontGraphQL, ratelimit.WithOperationCost(context.Background(), 11)
		h, _, _ := denial(t, s.Admit(c))
		if !reflect.DeepEqual(h, want) {
			t.Errorf("%s: refusal headers %v, want %v", style, h, want)
		}
	}
}

// TestUnknownHeaderFields: Step refuses header fields it does not know, saying which it does.
func TestUnknownHeaderFields(t *testing.T) {
	l := newLimiter(t, config.RateLimit{})
	_, err := l.Step("r", config.RuleRateLimit{Rate: 1}, "draft-08")
	if err == nil || !strings.Contains(err.Error(), `unknown header fields "draft-08": want one of draft-10, draft-06`) {
		t.Errorf("Step with header fields draft-08: %v, want an error naming draft-10 and draft-06", err)
	}
}

// lastHeaders keeps the last set of response headers handed to it, without allocating.
type lastHeaders struct {
	hs [4]policy.Header
	n  int
}

func (l *lastHeaders) SetResponseHeaders(_ int64, hs []policy.Header) { l.n = copy(l.hs[:], hs) }

// TestHeaderAllocations: telling an admitted call costs no allocation while what is left and the
// seconds until full are below 100, in either style; above, draft 10 renders its one value in one.
func TestHeaderAllocations(t *testing.T) {
	for _, tc := range []struct {
		style  string
		burst  int
		allocs float64
	}{
		{"draft-10", 100, 0},
		{"draft-06", 100, 0},
		{"draft-10", 100_000, 1},
		{"draft-06", 100_000, 1}, // RateLimit-Remaining
	} {
		l := newLimiter(t, config.RateLimit{})
		s := stepWith(t, l, "r", config.RuleRateLimit{Rate: 1_000_000_000, Per: time.Second, Burst: tc.burst}, tc.style)
		sink := &lastHeaders{}
		c := call(getProduct, "10.0.0.1")
		c.Ctx = policy.WithResponseHeaders(c.Ctx, sink)
		if err := s.Admit(c); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { _ = s.Admit(c) }); n != tc.allocs {
			t.Errorf("%s, burst %d: %v allocations per admitted call, want %v", tc.style, tc.burst, n, tc.allocs)
		}
		if sink.n == 0 {
			t.Errorf("%s, burst %d: no headers handed over", tc.style, tc.burst)
		}
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

// TestHeadersAsGRPCMetadata: on the gRPC fronts the fields become response header metadata,
// lower case, which the call hands the proxy (Call.ResponseMetadata) to merge into the upstream's:
// ratelimit and ratelimit-policy by default, the four of draft-06 with that setting.
func TestHeadersAsGRPCMetadata(t *testing.T) {
	for style, want := range map[string]metadata.MD{
		"draft-10": {
			"ratelimit":        {`"r";r=4;t=2`},
			"ratelimit-policy": {`"r";q=5;w=10`},
		},
		"draft-06": {
			"ratelimit-limit":     {"5"},
			"ratelimit-remaining": {"4"},
			"ratelimit-reset":     {"2"},
			"ratelimit-policy":    {"5;w=10"},
		},
	} {
		l := newLimiter(t, config.RateLimit{}, ratelimit.WithClock(newClock().Now))
		s := stepWith(t, l, "r", config.RuleRateLimit{Rate: 5, Per: 10 * time.Second}, style)
		c := call(getProduct, "10.0.0.1")
		c.Front, c.Ctx = policy.FrontGRPC, grpc.NewContextWithServerTransportStream(context.Background(), transportStream{})
		if err := s.Admit(c); err != nil {
			t.Fatal(err)
		}
		if header := metadata.Pairs(c.ResponseHeaderPairs()...); !reflect.DeepEqual(header, want) {
			t.Errorf("%s: header metadata %v, want %v", style, map[string][]string(header), map[string][]string(want))
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
	if len(sets) != 1 || sets[0].rank != 6 || sets[0].h.Get("RateLimit") != `"products";r=6;t=24` {
		t.Errorf("an operation of cost 4 handed %v, want one set with 6 remaining, the bucket full in 24s", sets)
	}
}
