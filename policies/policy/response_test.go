package policy_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/policies/policy"
)

var (
	nameRateLimit = policy.NewHeaderName("RateLimit")
	namePolicy    = policy.NewHeaderName("RateLimit-Policy")
)

const (
	policyValue = `"r";q=10;w=1`
	left9       = `"r";r=9;t=1`
	left3       = `"r";r=3;t=1`
)

// stream is a gRPC server stream that keeps the header metadata it is given.
type stream struct{ header metadata.MD }

func (s *stream) Method() string                  { return "/pkg.S/M" }
func (s *stream) SetHeader(md metadata.MD) error  { s.header = metadata.Join(s.header, md); return nil }
func (s *stream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }
func (s *stream) SetTrailer(metadata.MD) error    { return nil }

// TestResponseHeaders: a Call hands its headers to the ResponseHeaders in its context (canonical
// HTTP names), else, on a gRPC front (a server stream in its context), keeps them as lower-case
// metadata for the proxy, else nowhere; a Call reset for another call finds its new call's place
// afresh.
func TestResponseHeaders(t *testing.T) {
	for name, want := range map[string][2]string{
		"RateLimit":        {"Ratelimit", "ratelimit"},
		"RateLimit-Policy": {"Ratelimit-Policy", "ratelimit-policy"},
		"RateLimit-Limit":  {"Ratelimit-Limit", "ratelimit-limit"},
	} {
		if got := policy.NewHeaderName(name); got.HTTP() != want[0] || got.GRPC() != want[1] {
			t.Fatalf("names of %s: %q, %q; want %q and %q", name, got.HTTP(), got.GRPC(), want[0], want[1])
		}
	}
	hs := []policy.Header{{Name: nameRateLimit, Value: left9}, {Name: namePolicy, Value: policyValue}}
	var c policy.Call

	h := http.Header{"Ratelimit": {"old"}}
	c.Ctx = policy.WithResponseHeaders(context.Background(), policy.HTTPResponseHeaders(h))
	if !c.WantsResponseHeaders() {
		t.Fatal("an HTTP front's call wants no headers")
	}
	c.SetResponseHeaders(9, hs...)
	if h.Get("RateLimit-Policy") != policyValue || len(h.Values("RateLimit")) != 1 || h.Get("RateLimit") != left9 {
		t.Errorf("HTTP headers %v, want RateLimit-Policy %s and RateLimit %s (replaced)", h, policyValue, left9)
	}

	c.Reset()
	s := &stream{}
	c.Ctx = grpc.NewContextWithServerTransportStream(context.Background(), s)
	c.SetResponseHeaders(9, hs...)
	pairs := c.ResponseHeaderPairs()
	if want := []string{"ratelimit", left9, "ratelimit-policy", policyValue}; !slices.Equal(pairs, want) || len(s.header) != 0 {
		t.Errorf("gRPC header %q (stream %v), want %q (not the former call's place) for the proxy to merge", pairs, s.header, want)
	}
	c.SetResponseHeaders(3, policy.Header{Name: nameRateLimit, Value: left3}, policy.Header{Name: policy.NewHeaderName("X-Other"), Value: "x"})
	if want := []string{"ratelimit", left3, "ratelimit-policy", policyValue, "x-other", "x"}; !slices.Equal(c.ResponseHeaderPairs(), want) {
		t.Errorf("gRPC header after a second set %q, want %q: a name set again is replaced", c.ResponseHeaderPairs(), want)
	}

	c.Reset()
	c.Ctx = context.Background()
	if c.WantsResponseHeaders() {
		t.Error("a call without a place for headers wants them")
	}
	c.SetResponseHeaders(9, hs...) // nowhere: nothing happens
}

// lowestRank keeps the response headers handed over at the lowest rank, the first of equals, as
// the GraphQL front does.
type lowestRank struct {
	kept bool
	rank int64
	hs   []policy.Header
}

func (l *lowestRank) SetResponseHeaders(rank int64, hs []policy.Header) {
	if l.kept && rank >= l.rank {
		return
	}
	l.kept, l.rank, l.hs = true, rank, slices.Clone(hs)
}

// Of several refusals in one response, the one that asks the client to wait longest gives the
// headers, whichever came first; every refusal ranks below an admitted call.
func TestRefusalHeadersLongestWait(t *testing.T) {
	refusal := func(rule string, wait string) error {
		return policy.Deny(codes.ResourceExhausted, "rate limit exceeded").
			WithHeader("Retry-After", wait).WithHeader("RateLimit", `"`+rule+`";r=0;t=`+wait)
	}
	for _, order := range [][]error{
		{refusal("short", "1"), refusal("long", "30")},
		{refusal("long", "30"), refusal("short", "1")},
	} {
		rh := &lowestRank{}
		ctx := policy.WithResponseHeaders(context.Background(), rh)
		rh.SetResponseHeaders(3, []policy.Header{{Name: nameRateLimit, Value: `"admitted";r=3;t=1`}})
		for _, err := range order {
			policy.SetRefusalHeaders(ctx, err)
		}
		got := ""
		for _, h := range rh.hs {
			if strings.EqualFold(h.Name.HTTP(), "RateLimit") {
				got = h.Value
			}
		}
		if got != `"long";r=0;t=30` {
			t.Errorf("refusals %v: RateLimit %q, want the longest wait's", order, got)
		}
	}
}
