package telemetry

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
)

// Calls of made-up methods leave no names behind: the span name cache holds the names of served
// methods only (and unknown's), so that it is not filled up by what clients send.
func TestMadeUpMethodsAreNotCached(t *testing.T) {
	tel, err := New(Config{Tracing: config.Tracing{Enabled: true}, Metrics: config.Metrics{Disabled: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close()
	unimplemented := func(any, grpc.ServerStream) error { return status.Error(codes.Unimplemented, "no") }
	for i := range 10 {
		info := &grpc.StreamServerInfo{FullMethod: fmt.Sprintf("/rnd%d.Svc/M%d", i, i)}
		_ = tel.intercept(nil, ctxStream{ctx: context.Background()}, info, unimplemented)
	}
	names := tel.spanNames[frontGRPC].c.m.Load()
	if names == nil || len(*names) != 1 || (*names)[unknownMethod] != "grpc unknown" {
		t.Errorf("cached span names %v, want grpc unknown's only", names)
	}
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s ctxStream) Context() context.Context { return s.ctx }

func TestClipOriginal(t *testing.T) {
	long := strings.Repeat("a", maxOriginal-1) + "é" // é's second byte would be cut
	for in, want := range map[string]string{
		"FOO9":                   "FOO9",
		long:                     strings.Repeat("a", maxOriginal-1),
		"/bad\xffname":           "/bad\uFFFDname",
		strings.Repeat("b", 300): strings.Repeat("b", maxOriginal),
	} {
		if got := clipOriginal(in); got != want {
			t.Errorf("clipOriginal(%q) = %q, want %q", in, got, want)
		}
	}
}
