package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"

	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
	"github.com/protogate/gateway/routing/grpcweb"
	"github.com/protogate/gateway/transcoder"
)

// dataHandler dispatches the HTTP side of the data port: native gRPC that arrived over TLS (or on a
// connection whose first request was not gRPC), gRPC-Web, GraphQL under /graphql, and REST for
// everything else.
func (s *Server) dataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case isGRPC(r):
			s.grpc.ServeHTTP(w, r)
		case grpcweb.IsGRPCWebRequest(r):
			s.web.ServeHTTP(w, r)
		case isGraphQL(r):
			s.graphql.ServeHTTP(w, r)
		case isOpenAPI(r):
			s.openapi.ServeHTTP(w, r)
		default:
			s.rest.ServeHTTP(w, r)
		}
	})
}

// isOpenAPI reports whether r is for the live OpenAPI document or its docs page.
func isOpenAPI(r *http.Request) bool {
	switch r.URL.Path {
	case "/openapi.json", "/openapi.yaml", "/docs", "/docs/":
		return true
	}
	return false
}

// isGraphQL reports whether r is for the GraphQL front: /graphql and below.
func isGraphQL(r *http.Request) bool {
	p := r.URL.Path
	return p == "/graphql" || strings.HasPrefix(p, "/graphql/")
}

// adminHandler serves the admin port: health and readiness, and the admin API as gRPC (with
// reflection, for grpcurl) and as JSON over HTTP under /v1/.
func (s *Server) adminHandler(ctx context.Context) (http.Handler, *grpc.Server, error) {
	adminGRPC := grpc.NewServer()
	adminv1.RegisterAdminServiceServer(adminGRPC, s.admin)
	reflection.Register(adminGRPC)

	api := runtime.NewServeMux(runtime.WithRoutingErrorHandler(routingError))
	if err := adminv1.RegisterAdminServiceHandlerServer(ctx, api, s.admin); err != nil {
		return nil, nil, err
	}

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
	mux.Handle("/v1/", api)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		transcoder.WriteError(w, transcoder.NewError(codes.NotFound, fmt.Sprintf("no admin endpoint %s %s", r.Method, r.URL.Path)))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isGRPC(r) {
			adminGRPC.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	}), adminGRPC, nil
}

// routingError renders grpc-gateway's routing failures in the one error model: an unknown path is
// NotFound, a known path with the wrong method is 405 with Allow.
func routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	switch httpStatus {
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		transcoder.WriteError(w, transcoder.MethodNotAllowed(r.Method, r.URL.Path))
	case http.StatusBadRequest:
		transcoder.WriteError(w, transcoder.NewError(codes.InvalidArgument, fmt.Sprintf("bad request path %s", r.URL.Path)))
	default:
		transcoder.WriteError(w, transcoder.NewError(codes.NotFound, fmt.Sprintf("no admin endpoint %s %s", r.Method, r.URL.Path)))
	}
}
