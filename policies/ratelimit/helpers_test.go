package ratelimit_test

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/ratelimit"
)

// clock is a hand-moved clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// call returns a call of method from ip.
func call(method, ip string) *policy.Call {
	return &policy.Call{
		Ctx:    context.Background(),
		Method: method,
		Front:  policy.FrontREST,
		Peer:   &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}},
		MD:     metadata.MD{},
		Cost:   1,
	}
}

func newLimiter(t testing.TB, cfg config.RateLimit, opts ...ratelimit.Option) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// step compiles a rule's rate limit with the default header fields (draft-10).
func step(t testing.TB, l *ratelimit.Limiter, rule string, rl config.RuleRateLimit) policy.Step {
	t.Helper()
	return stepWith(t, l, rule, rl, "")
}

// stepWith compiles a rule's rate limit with the header fields headerFields.
func stepWith(t testing.TB, l *ratelimit.Limiter, rule string, rl config.RuleRateLimit, headerFields string) policy.Step {
	t.Helper()
	s, err := l.Step(rule, rl, headerFields)
	if err != nil || s == nil {
		t.Fatalf("Step(%s, %+v) = %v, %v", rule, rl, s, err)
	}
	return s
}

// admits runs s on c n times and returns how many were admitted.
func admits(t testing.TB, s policy.Step, c *policy.Call, n int) int {
	t.Helper()
	ok := 0
	for range n {
		switch err := s.Admit(c); {
		case err == nil:
			ok++
		case status.Code(err) != codes.ResourceExhausted:
			t.Fatalf("Admit: %v, want nil or RESOURCE_EXHAUSTED", err)
		}
	}
	return ok
}

// denial asserts err is a rate-limit denial and returns its headers and details.
func denial(t testing.TB, err error) (http.Header, *errdetails.RetryInfo, *errdetails.QuotaFailure) {
	t.Helper()
	d, ok := err.(*policy.Denial)
	if !ok {
		t.Fatalf("Admit = %T %v, want a *policy.Denial", err, err)
	}
	if code := d.GRPCStatus().Code(); code != codes.ResourceExhausted {
		t.Fatalf("denial code %s, want ResourceExhausted", code)
	}
	var ri *errdetails.RetryInfo
	var qf *errdetails.QuotaFailure
	for _, det := range d.GRPCStatus().Details() {
		switch det := det.(type) {
		case *errdetails.RetryInfo:
			ri = det
		case *errdetails.QuotaFailure:
			qf = det
		}
	}
	return d.HTTPHeader(), ri, qf
}
