package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/ratelimit"
)

// BenchmarkLocalDecision is one admitted decision for a key seen before: the hot path. Run with
// -cpu 1,2 (or more) to see contention on one key and across keys.
func BenchmarkLocalDecision(b *testing.B) {
	for _, keys := range []int{1, 1024} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			l := newLimiter(b, config.RateLimit{})
			s := step(b, l, "r", config.RuleRateLimit{Rate: 1_000_000_000, Per: time.Second, Burst: 1_000_000_000})
			calls := make([]*policy.Call, keys)
			for i := range calls {
				calls[i] = call(getProduct, fmt.Sprintf("10.0.%d.%d", i>>8, i&255))
				if err := s.Admit(calls[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if err := s.Admit(calls[i%keys]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		})
	}
}

// BenchmarkLocalDecisionHeaders is an admitted decision whose front takes the rate-limit header
// fields, in either header_fields style: REST's (the response's header map) and gRPC's (header
// metadata on the server stream, which here keeps what it is given). A bucket of 100 leaves
// numbers below 100, which cost no allocation; one of 100000 makes the remaining count one that
// must be rendered. The Call is reset between decisions, as the admitter's pool does.
func BenchmarkLocalDecisionHeaders(b *testing.B) {
	for _, front := range []string{"rest", "grpc"} {
		for _, fields := range []string{"draft-10", "draft-06"} {
			for _, burst := range []int{100, 100_000} {
				b.Run(fmt.Sprintf("front=%s/fields=%s/burst=%d", front, fields, burst), func(b *testing.B) {
					l := newLimiter(b, config.RateLimit{})
					s := stepWith(b, l, "r", config.RuleRateLimit{Rate: 1_000_000_000, Per: time.Second, Burst: burst}, fields)
					h := http.Header{}
					ts := transportStream{}
					ctx := policy.WithResponseHeaders(context.Background(), policy.HTTPResponseHeaders(h))
					if front == "grpc" {
						ctx = grpc.NewContextWithServerTransportStream(context.Background(), ts)
					}
					c := call(getProduct, "10.0.0.1")
					peer, md := c.Peer, c.MD
					b.ReportAllocs()
					for b.Loop() {
						c.Reset()
						c.Ctx, c.Method, c.Front, c.Peer, c.MD, c.Cost = ctx, getProduct, policy.FrontREST, peer, md, 1
						if err := s.Admit(c); err != nil {
							b.Fatal(err)
						}
					}
					if h.Get("RateLimit-Policy") == "" && !slices.Contains(c.ResponseHeaderPairs(), "ratelimit-policy") {
						b.Fatal("no RateLimit-Policy")
					}
				})
			}
		}
	}
}

// BenchmarkLocalDenial is a refused decision: it builds the denial, details and headers.
func BenchmarkLocalDenial(b *testing.B) {
	for _, fields := range []string{"draft-10", "draft-06"} {
		b.Run("fields="+fields, func(b *testing.B) {
			l := newLimiter(b, config.RateLimit{}, ratelimit.WithClock(newClock().Now))
			s := stepWith(b, l, "r", config.RuleRateLimit{Rate: 1, Per: time.Hour}, fields)
			c := call(getProduct, "10.0.0.1")
			_ = s.Admit(c)
			b.ReportAllocs()
			for b.Loop() {
				if s.Admit(c) == nil {
					b.Fatal("admitted")
				}
			}
		})
	}
}

// BenchmarkConcurrencyDecision takes and gives back a slot.
func BenchmarkConcurrencyDecision(b *testing.B) {
	l := newLimiter(b, config.RateLimit{})
	s, err := l.ConcurrencyStep("r", config.RuleConcurrency{Max: 1 << 20, Key: "client_ip"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c := call(getProduct, "10.0.0.1")
		for pb.Next() {
			if err := s.Admit(c); err != nil {
				b.Fatal(err)
			}
			c.Finish()
		}
	})
}
