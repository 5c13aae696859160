package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/ratelimit"
)

const getProduct = "/shop.catalog.v1.CatalogService/GetProduct"

func TestBurstThenRefill(t *testing.T) {
	clk := newClock()
	l := newLimiter(t, config.RateLimit{}, ratelimit.WithClock(clk.Now))
	s := step(t, l, "products", config.RuleRateLimit{Rate: 2, Per: time.Second, Burst: 3})
	c := call(getProduct, "10.0.0.1")

	if got := admits(t, s, c, 5); got != 3 {
		t.Fatalf("admitted %d of 5 at once, want the burst of 3", got)
	}
	clk.Advance(499 * time.Millisecond)
	if got := admits(t, s, c, 1); got != 0 {
		t.Fatalf("admitted %d after 499ms, want 0: a token takes 500ms", got)
	}
	clk.Advance(time.Millisecond)
	if got := admits(t, s, c, 2); got != 1 {
		t.Fatalf("admitted %d after 500ms, want 1", got)
	}
	clk.Advance(10 * time.Second)
	if got := admits(t, s, c, 5); got != 3 {
		t.Fatalf("admitted %d after a long pause, want the burst of 3 (no more)", got)
	}
}

func TestDenialHeadersAndDetails(t *testing.T) {
	clk := newClock()
	l := newLimiter(t, config.RateLimit{}, ratelimit.WithClock(clk.Now))
	s := step(t, l, "products", config.RuleRateLimit{Rate: 2, Per: time.Second, Burst: 3})
	c := call(getProduct, "10.0.0.1")
	admits(t, s, c, 3)
	clk.Advance(100 * time.Millisecond)

	h, ri, qf := denial(t, s.Admit(c))
	// Three tokens taken at 0 refill by 1.5s: at 0.1s the next token comes in 0.4s, the bucket is
	// full in 1.4s. Headers round up to whole seconds.
	want := http.Header{
		"Retry-After":      {"1"},
		"Ratelimit":        {`"products";r=0;t=2`},
		"Ratelimit-Policy": {`"products";q=2;w=1`},
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("refusal headers %v, want %v", h, want)
	}
	if ri == nil || ri.RetryDelay.AsDuration() != 400*time.Millisecond {
		t.Errorf("RetryInfo = %v, want a delay of 400ms", ri)
	}
	if qf == nil || len(qf.Violations) != 1 || qf.Violations[0].Subject != "rate_limit/products/client_ip" {
		t.Errorf("QuotaFailure = %v, want one violation of rate_limit/products/client_ip", qf)
	}

	// With header_fields draft-06, the same refusal carries the four fields of that draft.
	s06 := stepWith(t, l, "products", config.RuleRateLimit{Rate: 2, Per: time.Second, Burst: 3}, "draft-06")
	h, _, _ = denial(t, s06.Admit(c))
	want = http.Header{
		"Retry-After":         {"1"},
		"Ratelimit-Limit":     {"3"},
		"Ratelimit-Remaining": {"0"},
		"Ratelimit-Reset":     {"2"},
		"Ratelimit-Policy":    {"2;w=1;burst=3"},
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("draft-06 refusal headers %v, want %v", h, want)
	}
}

func TestKeys(t *testing.T) {
	cases := []struct {
		key        string
		same, diff func(c *policy.Call) // make a call that shares, or does not share, the first's bucket
	}{
		{"client_ip",
			func(c *policy.Call) { c.Method = "/a.B/Other" },
			func(c *policy.Call) { *c = *call(getProduct, "10.0.0.2") }},
		{"consumer",
			func(c *policy.Call) {
				*c = *call(getProduct, "10.9.9.9")
				c.Identity = &policy.Identity{Consumer: "ada"}
			},
			func(c *policy.Call) { c.Identity = &policy.Identity{Consumer: "bob"} }},
		{"method",
			func(c *policy.Call) { *c = *call(getProduct, "10.0.0.2") },
			func(c *policy.Call) { c.Method = "/a.B/Other" }},
		{"header:X-Tenant",
			func(c *policy.Call) { *c = *call(getProduct, "10.0.0.2"); c.MD = metadata.Pairs("x-tenant", "t1") },
			func(c *policy.Call) { c.MD = metadata.Pairs("x-tenant", "t2") }},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			l := newLimiter(t, config.RateLimit{}, ratelimit.WithClock(newClock().Now))
			s := step(t, l, "r", config.RuleRateLimit{Rate: 1, Per: time.Hour, Burst: 1, Key: tc.key})
			first := call(getProduct, "10.0.0.1")
			first.Identity = &policy.Identity{Consumer: "ada"}
			first.MD = metadata.Pairs("x-tenant", "t1")
			if admits(t, s, first, 1) != 1 {
				t.Fatal("first call refused")
			}
			same, diff := *first, *first
			tc.same(&same)
			tc.diff(&diff)
			if admits(t, s, &same, 1) != 0 {
				t.Errorf("a call with the same %s got a fresh bucket", tc.key)
			}
			if admits(t, s, &diff, 1) != 1 {
				t.Errorf("a call with another %s shared the first's bucket", tc.key)
			}
		})
	}
}

func TestAnonymousConsumerFallsBackToClientIP(t *testing.T) {
	l := newLimiter(t, config.RateLimit{}, ratelimit.WithClock(newClock().Now))
	s := step(t, l, "r", config.RuleRateLimit{Rate: 1, Per: time.Hour, Burst: 1, Key: "consumer"})
	if admits(t, s, call(getProduct, "10.0.0.1"), 2) != 1 || admits(t, s, call(getProduct, "10.0.0.2"), 1) != 1 {
		t.Error("anonymous calls should be limited by client address")
	}
}

// TestBucketsSurviveRecompile: a later snapshot compiles the rule again; its Step must find the
// buckets the earlier one drained.
func TestBucketsSurviveRecompile(t *testing.T) {
	l := newLimiter(t, config.RateLimit{}, ratelimit.WithClock(newClock().Now))
	rl := config.RuleRateLimit{Rate: 3, Per: time.Minute, Burst: 3}
	c := call(getProduct, "10.0.0.1")
	if got := admits(t, step(t, l, "products", rl), c, 3); got != 3 {
		t.Fatalf("admitted %d, want 3", got)
	}
	if got := admits(t, step(t, l, "products", rl), c, 1); got != 0 {
		t.Errorf("the recompiled rule admitted %d: its buckets were reset", got)
	}
	if got := admits(t, step(t, l, "other", rl), c, 1); got != 1 {
		t.Errorf("another rule admitted %d, want its own bucket", got)
	}
}

// TestConcurrentDecisionsExact: with the clock stopped, however many goroutines race on one key,
// exactly the burst is admitted.
func TestConcurrentDecisionsExact(t *testing.T) {
	l := newLimiter(t, config.RateLimit{}, ratelimit.WithClock(newClock().Now))
	s := step(t, l, "r", config.RuleRateLimit{Rate: 100, Per: time.Minute, Burst: 100})
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c := call(getProduct, "10.0.0.1")
			for range 50 {
				if s.Admit(c) == nil {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := admitted.Load(); got != 100 {
		t.Errorf("admitted %d of 400 racing calls, want exactly 100", got)
	}
}

// TestMemoryBounded: a flood of one-off client addresses does not grow the table past max_keys.
func TestMemoryBounded(t *testing.T) {
	clk := newClock()
	l := newLimiter(t, config.RateLimit{MaxKeys: 1024}, ratelimit.WithClock(clk.Now))
	s := step(t, l, "r", config.RuleRateLimit{Rate: 10, Per: time.Second, Burst: 10})
	for i := range 50_000 {
		admits(t, s, call(getProduct, fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)), 1)
	}
	if n := l.Keys(); n > 1024 {
		t.Errorf("%d buckets after 50000 clients, want at most max_keys 1024", n)
	}
	// Idle buckets go first: once everyone's bucket has refilled, new clients sweep them out.
	clk.Advance(time.Second)
	for i := range 2000 {
		admits(t, s, call(getProduct, fmt.Sprintf("172.16.%d.%d", i>>8, i&255)), 1)
	}
	if n := l.Keys(); n > 1024 {
		t.Errorf("%d buckets, want at most 1024", n)
	}
}

// TestMaxKeysSmall: max_keys bounds a rule's buckets however small it is: with room for 2, four
// tenants leave at most 2 buckets, so at least two of them find none and start afresh.
func TestMaxKeysSmall(t *testing.T) {
	l := newLimiter(t, config.RateLimit{MaxKeys: 2}, ratelimit.WithClock(newClock().Now))
	s := step(t, l, "r", config.RuleRateLimit{Rate: 1, Per: time.Minute, Key: "header:x-tenant"})
	tenant := func(name string) *policy.Call {
		c := call(getProduct, "10.0.0.1")
		c.MD = metadata.Pairs("x-tenant", name)
		return c
	}
	tenants := []string{"A", "B", "C", "D"}
	for _, name := range tenants {
		if admits(t, s, tenant(name), 1) != 1 {
			t.Fatalf("tenant %s's first call refused", name)
		}
		if n := l.Keys(); n > 2 {
			t.Fatalf("%d buckets after tenant %s, want at most max_keys 2", n, name)
		}
	}
	admitted := 0
	for _, name := range tenants {
		admitted += admits(t, s, tenant(name), 1)
	}
	if admitted < 2 {
		t.Errorf("second calls: %d of 4 tenants admitted, want at least the 2 whose buckets max_keys 2 could not keep", admitted)
	}

	// Any max_keys, below and above the size at which a table is split.
	for _, maxKeys := range []int{1, 3, 100, 1000, 5000} {
		l := newLimiter(t, config.RateLimit{MaxKeys: maxKeys}, ratelimit.WithClock(newClock().Now))
		s := step(t, l, "r", config.RuleRateLimit{Rate: 1, Per: time.Minute, Key: "header:x-tenant"})
		for i := range 3 * maxKeys {
			admits(t, s, tenant(fmt.Sprint(i)), 1)
		}
		if n := l.Keys(); n > maxKeys {
			t.Errorf("%d buckets after %d tenants, want at most max_keys %d", n, 3*maxKeys, maxKeys)
		}
	}
}

func TestConcurrencyLimit(t *testing.T) {
	l := newLimiter(t, config.RateLimit{})
	s, err := l.ConcurrencyStep("orders", config.RuleConcurrency{Max: 2, Key: "client_ip"})
	if err != nil || s == nil {
		t.Fatal(s, err)
	}
	c1, c2, c3 := call(getProduct, "10.0.0.1"), call(getProduct, "10.0.0.1"), call(getProduct, "10.0.0.1")
	if s.Admit(c1) != nil || s.Admit(c2) != nil {
		t.Fatal("the first two calls in flight were refused")
	}
	err = s.Admit(c3)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("third call in flight: %v, want RESOURCE_EXHAUSTED", err)
	}
	// The same hint on every front: RetryInfo for gRPC clients, Retry-After over HTTP.
	if h, ri, qf := denial(t, err); h.Get("Retry-After") != "1" || ri.GetRetryDelay().AsDuration() != time.Second || len(qf.GetViolations()) != 1 {
		t.Errorf("refusal: Retry-After %q, RetryInfo %v, QuotaFailure %v; want 1, 1s and one violation", h.Get("Retry-After"), ri, qf)
	}
	c3.Finish() // a refused call holds nothing
	if other := call(getProduct, "10.0.0.2"); s.Admit(other) != nil {
		t.Error("another client was refused")
	} else {
		other.Finish()
	}
	c1.Finish()
	c4 := call(getProduct, "10.0.0.1")
	if err := s.Admit(c4); err != nil {
		t.Fatalf("after one call finished: %v", err)
	}
	if s.Admit(call(getProduct, "10.0.0.1")) == nil {
		t.Error("a third call in flight was admitted after the slot was taken again")
	}
	c2.Finish()
	c4.Finish()
	if n := l.Keys(); n != 2 {
		t.Errorf("%d counters, want 2", n)
	}
}

func TestGraphQLOperationCost(t *testing.T) {
	clk := newClock()
	l := newLimiter(t, config.RateLimit{}, ratelimit.WithClock(clk.Now))
	s := step(t, l, "products", config.RuleRateLimit{Rate: 10, Per: time.Minute, Burst: 10})
	other := step(t, l, "users", config.RuleRateLimit{Rate: 10, Per: time.Minute, Burst: 10})
	gql := func(ctx context.Context) *policy.Call {
		c := call(getProduct, "10.0.0.1")
		c.Front, c.Ctx = policy.FrontGraphQL, ctx
		return c
	}
	// An operation of complexity 6 fanning out to three calls under one rule pays 6 once.
	op1 := ratelimit.WithOperationCost(context.Background(), 6)
	for i := range 3 {
		if err := s.Admit(gql(op1)); err != nil {
			t.Fatalf("call %d of the first operation: %v", i, err)
		}
	}
	if err := other.Admit(gql(op1)); err != nil {
		t.Fatalf("the first operation under another rule: %v", err)
	}
	// 4 tokens are left: the next operation of 6 is refused on every call the rule guards, with
	// the operation's cost in the message.
	op2 := ratelimit.WithOperationCost(context.Background(), 6)
	err := s.Admit(gql(op2))
	if h, _, _ := denial(t, err); h.Get("RateLimit") != `"products";r=4;t=36` {
		t.Errorf("RateLimit %q, want 4 left, the bucket full in 36s", h.Get("RateLimit"))
	}
	if err2 := s.Admit(gql(op2)); err2 != err {
		t.Errorf("second call of a refused operation: %v, want the same denial", err2)
	}
	// A plain call costs 1.
	if err := s.Admit(call(getProduct, "10.0.0.1")); err != nil {
		t.Errorf("a REST call with 4 tokens left: %v", err)
	}
	// An operation dearer than the burst can never run.
	op3 := ratelimit.WithOperationCost(context.Background(), 11)
	if _, ri, _ := denial(t, s.Admit(gql(op3))); ri != nil {
		t.Errorf("an operation over the burst got RetryInfo %v: retrying cannot help", ri)
	}
}

// An operation whose calls under a rule outnumber its price (a link under a list makes one call per
// element, which the document's complexity cannot count) pays for each call beyond the price, one
// token each, as REST and gRPC calls do: fanning out cannot get past the limit.
func TestGraphQLFanOutBeyondThePrice(t *testing.T) {
	clk := newClock()
	l := newLimiter(t, config.RateLimit{}, ratelimit.WithClock(clk.Now))
	s := step(t, l, "orders", config.RuleRateLimit{Rate: 10, Per: time.Minute, Burst: 10})
	gql := func(ctx context.Context) *policy.Call {
		c := call(getProduct, "10.0.0.1")
		c.Front, c.Ctx = policy.FrontGraphQL, ctx
		return c
	}
	op := ratelimit.WithOperationCost(context.Background(), 2)
	admitted := 0
	for range 100 {
		if err := s.Admit(gql(op)); err == nil {
			admitted++
		} else if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("call beyond the bucket: %v, want RESOURCE_EXHAUSTED", err)
		}
	}
	if admitted != 10 {
		t.Errorf("%d of 100 calls admitted from a bucket of 10, want 10", admitted)
	}
	if err := s.Admit(call(getProduct, "10.0.0.1")); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a REST call after the operation emptied the bucket: %v, want RESOURCE_EXHAUSTED", err)
	}
}

// A call of Cost n (a GraphQL link batch: n keys, each a call of the link's method) counts as n
// calls of the operation under the rule: within the price it takes nothing more, beyond it the
// excess in one decision, admitted or refused whole.
func TestGraphQLCallOfSeveralCalls(t *testing.T) {
	clk := newClock()
	l := newLimiter(t, config.RateLimit{}, ratelimit.WithClock(clk.Now))
	s := step(t, l, "products", config.RuleRateLimit{Rate: 10, Per: time.Minute, Burst: 10})
	gql := func(ctx context.Context, cost int) *policy.Call {
		c := call(getProduct, "10.0.0.1")
		c.Front, c.Ctx, c.Cost = policy.FrontGraphQL, ctx, cost
		return c
	}
	// Price 2; a batch of 5 takes the price and 3 more: 5 of 10.
	op1 := ratelimit.WithOperationCost(context.Background(), 2)
	if err := s.Admit(gql(op1, 5)); err != nil {
		t.Fatalf("a batch of 5 in a bucket of 10: %v", err)
	}
	// Price 4, a batch of 3 within it: 4 more, 1 left.
	op2 := ratelimit.WithOperationCost(context.Background(), 4)
	if err := s.Admit(gql(op2, 3)); err != nil {
		t.Fatalf("a batch within the price: %v", err)
	}
	// A further batch of 3 in op2 makes 6 calls, two beyond the price of 4, with one token left:
	// refused whole, taking nothing.
	if err := s.Admit(gql(op2, 3)); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a batch of 2 beyond the price with one token left: %v, want RESOURCE_EXHAUSTED", err)
	}
	if err := s.Admit(call(getProduct, "10.0.0.1")); err != nil {
		t.Errorf("a REST call with the token the refused batch left: %v", err)
	}
	if err := s.Admit(call(getProduct, "10.0.0.1")); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a REST call in an empty bucket: %v, want RESOURCE_EXHAUSTED", err)
	}
}

func TestStepErrors(t *testing.T) {
	l := newLimiter(t, config.RateLimit{})
	if s, err := l.Step("r", config.RuleRateLimit{}, ""); s != nil || err != nil {
		t.Errorf("Step of an unset limit = %v, %v; want nil, nil", s, err)
	}
	if _, err := l.Step("r", config.RuleRateLimit{Rate: 1, Key: "ip"}, ""); err == nil {
		t.Error("Step accepted key ip")
	}
	if _, err := l.Step("r", config.RuleRateLimit{Rate: 2_000_000_000, Per: time.Second}, ""); err == nil {
		t.Error("Step accepted a rate finer than a nanosecond")
	}
}
