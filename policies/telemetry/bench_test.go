package telemetry_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
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
