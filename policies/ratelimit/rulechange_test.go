package ratelimit_test

import (
	"cmp"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/ratelimit"
	"github.com/protogate/gateway/policies/ratelimit/ratelimittest"
)

// TestRuleChangeAppliesAtOnce: a reload that changes a rule's limit keeps its buckets, and the new
// limit applies at once: a client emptied under the old rule waits at most one of the new rule's
// intervals, and the refusal's message, RetryInfo and header fields all describe the new rule.
func TestRuleChangeAppliesAtOnce(t *testing.T) {
	testRuleChange(t, func(t *testing.T, clk *clock) *ratelimit.Limiter {
		return newLimiter(t, config.RateLimit{}, ratelimit.WithClock(clk.Now))
	})
}

// TestRedisRuleChangeAppliesAtOnce is TestRuleChangeAppliesAtOnce on the Redis backend.
func TestRedisRuleChangeAppliesAtOnce(t *testing.T) {
	addr := ratelimittest.Addr(t)
	testRuleChange(t, func(t *testing.T, clk *clock) *ratelimit.Limiter {
		clk.now = time.Now() // the keys' TTLs run on the server's clock
		return newLimiter(t, redisConfig(t, addr), ratelimit.WithClock(clk.Now))
	})
}

func testRuleChange(t *testing.T, newLimiter func(t *testing.T, clk *clock) *ratelimit.Limiter) {
	cases := []struct {
		name   string
		before config.RuleRateLimit
		calls  int // taken under before, at once, emptying its bucket
		after  config.RuleRateLimit
		// elapsed is the time from those calls to the first decision under after; interval
		// after's time to earn a token, which an emptied client waits.
		elapsed, interval time.Duration
		wantMsg           string // the end of the refusal's message
		wantRateLimit     string
		wantPolicy        string // RateLimit-Policy: the new rule's
	}{
		{
			name:   "raised",
			before: config.RuleRateLimit{Rate: 1, Per: time.Minute}, calls: 1,
			after:   config.RuleRateLimit{Rate: 10},
			elapsed: 1500 * time.Millisecond, interval: 100 * time.Millisecond,
			wantMsg:       "10 calls per 1s per client_ip; retry in 100ms",
			wantRateLimit: `"r";r=0;t=1`,
			wantPolicy:    `"r";q=10;w=1`,
		},
		{
			name:   "raised with a burst",
			before: config.RuleRateLimit{Rate: 1, Per: time.Minute}, calls: 1,
			after:   config.RuleRateLimit{Rate: 100, Per: time.Minute, Burst: 10},
			elapsed: 3 * time.Second, interval: 600 * time.Millisecond,
			wantMsg:       "100 calls per 1m0s per client_ip; retry in 600ms",
			wantRateLimit: `"r";r=0;t=6`,
			wantPolicy:    `"r";q=100;w=60`,
		},
		{
			// 100 a minute to 60 a minute in bursts of one: the 100 calls are not charged again
			// at the new rate, a minute's worth.
			name:   "lowered",
			before: config.RuleRateLimit{Rate: 100, Per: time.Minute}, calls: 100,
			after:   config.RuleRateLimit{Rate: 1},
			elapsed: 500 * time.Millisecond, interval: time.Second,
			wantMsg:       "1 calls per 1s per client_ip; retry in 1s",
			wantRateLimit: `"r";r=0;t=1`,
			wantPolicy:    `"r";q=1;w=1`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			l := newLimiter(t, clk)
			c := call(getProduct, "10.0.0.1")
			if got := admits(t, step(t, l, "r", tc.before), c, tc.calls+1); got != tc.calls {
				t.Fatalf("before the change: admitted %d of %d, want %d", got, tc.calls+1, tc.calls)
			}

			s := step(t, l, "r", tc.after)
			clk.Advance(tc.elapsed)
			err := s.Admit(c)
			h, ri, _ := denial(t, err)
			if !strings.HasSuffix(err.Error(), tc.wantMsg) {
				t.Errorf("refusal %q, want it to end %q", err, tc.wantMsg)
			}
			if ri == nil || ri.RetryDelay.AsDuration() != tc.interval {
				t.Errorf("RetryInfo %v, want a delay of one new interval, %s", ri, tc.interval)
			}
			want := http.Header{
				"Retry-After":      {"1"},
				"Ratelimit":        {tc.wantRateLimit},
				"Ratelimit-Policy": {tc.wantPolicy},
			}
			if !reflect.DeepEqual(h, want) {
				t.Errorf("refusal headers %v, want %v", h, want)
			}

			// The bucket refills at the new rate from the refusal on.
			clk.Advance(tc.interval - time.Microsecond)
			if got := admits(t, s, c, 1); got != 0 {
				t.Errorf("admitted %d just before the retry delay was over", got)
			}
			clk.Advance(time.Microsecond)
			if got := admits(t, s, c, 2); got != 1 {
				t.Errorf("admitted %d of 2 after the retry delay, want 1", got)
			}
			burst := cmp.Or(tc.after.Burst, tc.after.Rate)
			clk.Advance(time.Duration(burst) * tc.interval)
			if got := admits(t, s, c, burst+1); got != burst {
				t.Errorf("admitted %d of %d once the new bucket had time to fill, want its burst of %d", got, burst+1, burst)
			}
		})
	}
}
