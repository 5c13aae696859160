package telemetry_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
	"github.com/protogate/gateway/routing"
)

// BenchmarkMiddleware measures what the telemetry adds to one REST request: the middleware (trace
// extraction, server span sampled with no exporter, metrics, access-log line to io.Discard) and the
// Step, against the bare handler.
func BenchmarkMiddleware(b *testing.B) {
	handler := func(step policy.Step) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			callinfo.SetRoute(ctx, "/v1/users/{id}")
			if step != nil {
				_ = step.Admit(&policy.Call{Ctx: ctx, Method: "/shop.users.v1.UserService/GetUser", Front: policy.FrontREST,
					Identity: &policy.Identity{Consumer: "ada"}})
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"1","name":"Ada Lovelace"}`)
		})
	}
	run := func(b *testing.B, h http.Handler, traceparent bool) {
		req := httptest.NewRequest(http.MethodGet, "/v1/users/1", nil)
		req.RemoteAddr = "127.0.0.1:40000"
		req.Header.Set("Authorization", "Bearer x")
		if traceparent {
			req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		}
		w := discardWriter{h: http.Header{}}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			clear(w.h)
			h.ServeHTTP(w, req)
		}
	}
	b.Run("none", func(b *testing.B) { run(b, handler(nil), false) })
	full := func(b *testing.B) *telemetry.Telemetry {
		tel, err := telemetry.New(telemetry.Config{
			Tracing:         config.Tracing{Enabled: true, SampleRatio: "1"},
			AccessLogWriter: io.Discard,
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = tel.Close() })
		return tel
	}
	b.Run("all", func(b *testing.B) {
		tel := full(b)
		run(b, tel.Middleware()(policy.FrontREST, handler(tel.Step())), false)
	})
	b.Run("all-with-traceparent", func(b *testing.B) {
		tel := full(b)
		run(b, tel.Middleware()(policy.FrontREST, handler(tel.Step())), true)
	})
	b.Run("metrics-only", func(b *testing.B) {
		tel, err := telemetry.New(telemetry.Config{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		run(b, tel.Middleware()(policy.FrontREST, handler(tel.Step())), false)
	})
}

type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header         { return w.h }
func (w discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w discardWriter) WriteHeader(int)             {}

// BenchmarkInterceptor measures what the telemetry adds to one native gRPC call (against "none":
// the handler alone, which copies the metadata as the proxy does): the stream
// interceptor (trace extraction from the incoming metadata, server span sampled at the given ratio
// with no exporter, metrics, access-log line to io.Discard), on a context as deep as grpc-go's
// server builds, with the metadata a client sends.
func BenchmarkInterceptor(b *testing.B) {
	ctx := context.Background()
	for i := range 8 { // grpc-go's server stacks about this many values on a call's context
		ctx = context.WithValue(ctx, benchKey(i), i)
	}
	ctx = peer.NewContext(ctx, &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}})
	ctx = metadata.NewIncomingContext(ctx, metadata.Pairs(":authority", "127.0.0.1:8080", "content-type", "application/grpc",
		"user-agent", "grpc-go/1.7", "te", "trailers", "authorization", "Bearer x", "x-request-id", "bench"))
	ss := benchStream{ctx: ctx}
	info := &grpc.StreamServerInfo{FullMethod: "/shop.users.v1.UserService/GetUser"}
	// The handler reads the call's metadata as the proxy does: the telemetry's copy, else its own.
	handler := func(_ any, ss grpc.ServerStream) error {
		var md metadata.MD
		if ms, ok := ss.(routing.MetadataStream); ok {
			md = ms.IncomingMetadata()
		} else {
			md, _ = metadata.FromIncomingContext(ss.Context())
		}
		if len(md["x-request-id"]) != 1 {
			return errors.New("no x-request-id")
		}
		return nil
	}
	b.Run("none", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := handler(nil, ss); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, ratio := range []string{"1", "0.1"} {
		b.Run("ratio="+ratio, func(b *testing.B) {
			tel, err := telemetry.New(telemetry.Config{
				Tracing:         config.Tracing{Enabled: true, SampleRatio: ratio},
				AccessLog:       config.AccessLog{Headers: []string{"x-request-id"}},
				AccessLogWriter: io.Discard,
			}, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = tel.Close() })
			intercept := tel.StreamInterceptor()
			b.ReportAllocs()
			for b.Loop() {
				if err := intercept(nil, ss, info, handler); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type benchKey int

// benchStream is a server stream with a context and nothing else.
type benchStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s benchStream) Context() context.Context { return s.ctx }

// BenchmarkAccessLogFile measures a REST request's access-log line written to a file, buffered
// (the default flush interval) against written as it is logged (flush_interval -1s), from
// parallel requests.
func BenchmarkAccessLogFile(b *testing.B) {
	for _, bc := range []struct {
		name  string
		flush time.Duration
	}{{"buffered", 0}, {"unbuffered", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			tel, err := telemetry.New(telemetry.Config{
				Metrics:   config.Metrics{Disabled: true},
				AccessLog: config.AccessLog{Output: filepath.Join(b.TempDir(), "access.log"), FlushInterval: bc.flush},
			}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer tel.Close()
			h := tel.Middleware()(policy.FrontREST, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest(http.MethodGet, "/v1/users/1", nil)
				w := discardWriter{h: http.Header{}}
				for pb.Next() {
					h.ServeHTTP(w, req)
				}
			})
		})
	}
}
