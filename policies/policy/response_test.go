package policy_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/policies/policy"
)

var (
	nameLimit = policy.NewHeaderName("RateLimit-Limit")
	nameLeft  = policy.NewHeaderName("RateLimit-Remaining")
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
	if got := policy.NewHeaderName("RateLimit-Limit"); got.HTTP() != "Ratelimit-Limit" || got.GRPC() != "ratelimit-limit" {
		t.Fatalf("names %q, %q; want Ratelimit-Limit and ratelimit-limit", got.HTTP(), got.GRPC())
	}
	hs := []policy.Header{{Name: nameLimit, Value: "10"}, {Name: nameLeft, Value: "9"}}
	var c policy.Call

	h := http.Header{"Ratelimit-Remaining": {"old"}}
	c.Ctx = policy.WithResponseHeaders(context.Background(), policy.HTTPResponseHeaders(h))
	if !c.WantsResponseHeaders() {
		t.Fatal("an HTTP front's call wants no headers")
	}
	c.SetResponseHeaders(9, hs...)
	if h.Get("RateLimit-Limit") != "10" || len(h.Values("RateLimit-Remaining")) != 1 || h.Get("RateLimit-Remaining") != "9" {
		t.Errorf("HTTP headers %v, want RateLimit-Limit 10 and RateLimit-Remaining 9 (replaced)", h)
	}

	c.Reset()
	s := &stream{}
	c.Ctx = grpc.NewContextWithServerTransportStream(context.Background(), s)
	c.SetResponseHeaders(9, hs...)
	pairs := c.ResponseHeaderPairs()
	if want := []string{"ratelimit-limit", "10", "ratelimit-remaining", "9"}; !slices.Equal(pairs, want) || len(s.header) != 0 {
		t.Errorf("gRPC header %q (stream %v), want %q (not the former call's place) for the proxy to merge", pairs, s.header, want)
	}
	c.SetResponseHeaders(3, policy.Header{Name: nameLeft, Value: "3"}, policy.Header{Name: policy.NewHeaderName("X-Other"), Value: "x"})
	if want := []string{"ratelimit-limit", "10", "ratelimit-remaining", "3", "x-other", "x"}; !slices.Equal(c.ResponseHeaderPairs(), want) {
		t.Errorf("gRPC header after a second set %q, want %q: a name set again is replaced", c.ResponseHeaderPairs(), want)
	}

	c.Reset()
	c.Ctx = context.Background()
	if c.WantsResponseHeaders() {
		t.Error("a call without a place for headers wants them")
	}
	c.SetResponseHeaders(9, hs...) // nowhere: nothing happens
}
