package server

import (
	"fmt"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/protogate/gateway/routing/grpcweb"
)

// dataHandler dispatches the HTTP side of the data port: native gRPC that arrived over TLS (or on a
// connection whose first request was not gRPC), gRPC-Web, and the REST and GraphQL fronts.
func (s *Server) dataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case isGRPC(r):
			s.grpc.ServeHTTP(w, r)
		case grpcweb.IsGRPCWebRequest(r):
			s.web.ServeHTTP(w, r)
		default:
			writeStatus(w, status.New(codes.NotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)))
		}
	})
}

// adminHandler serves the admin port.
func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !s.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: no snapshot is serving yet\n"))
			return
		}
		_, _ = fmt.Fprintf(w, "ready: snapshot %d\n", s.current().Version())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, status.New(codes.NotFound, fmt.Sprintf("no admin endpoint %s %s", r.Method, r.URL.Path)))
	})
	return mux
}

// writeStatus renders a gRPC status as a google.rpc.Status JSON body with the matching HTTP status.
func writeStatus(w http.ResponseWriter, st *status.Status) {
	body, err := protojson.Marshal(st.Proto())
	if err != nil {
		body = []byte(`{"code":13,"message":"failed to render error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	_, _ = w.Write(body)
}
