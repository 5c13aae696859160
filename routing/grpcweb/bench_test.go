package grpcweb_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/protogate/gateway/routing/grpcweb"
)

// BenchmarkUnary measures the translation itself: one unary call through
// ServeHTTP, in memory, dispatched to the TestService as the gateway's
// proxy core would be, with a 128-byte payload each way.
func BenchmarkUnary(b *testing.B) {
	h := grpcweb.NewHandler(dispatcher(&testService{}, &testpb.TestService_ServiceDesc))
	msg := marshal(b, &testpb.SimpleRequest{Payload: payload(128)})
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			body := &resettableBody{}
			req := httptest.NewRequest(http.MethodPost, unaryMethod, body)
			req.Header.Set("Content-Type", m.contentType())
			req.Header.Set("X-Grpc-Web", "1")
			req.Header.Set("X-User-Agent", "grpc-web-javascript/0.1")
			req.Header.Set("Grpc-Timeout", "10S")
			raw := m.body(msg)
			w := &discardWriter{header: make(http.Header)}
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				body.Reset(raw)
				clear(w.header)
				h.ServeHTTP(w, req)
			}
			if w.status != http.StatusOK || w.header.Get("Grpc-Status") != "" || w.n == 0 {
				b.Fatalf("HTTP %d, grpc-status header %q, %d body bytes", w.status, w.header.Get("Grpc-Status"), w.n)
			}
		})
	}
}

type resettableBody struct{ bytes.Reader }

func (*resettableBody) Close() error { return nil }

// discardWriter is a ResponseWriter that keeps nothing but counts.
type discardWriter struct {
	header http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header  { return w.header }
func (w *discardWriter) WriteHeader(code int) { w.status = code }
func (w *discardWriter) Flush()               {}

// EnableFullDuplex succeeds, as net/http's HTTP/1 ResponseWriter does.
func (w *discardWriter) EnableFullDuplex() error { return nil }
func (w *discardWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}
