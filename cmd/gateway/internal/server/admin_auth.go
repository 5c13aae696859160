package server

import (
	"context"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/policies/auth"
)

// The admin API (HTTP under /v1/ and the admin gRPC server) is guarded by the admin credentials of
// the current policies (policies.auth.admin), looked up per request so that a reload that changes
// them applies at once. /healthz, /readyz and /metrics stay open.

// adminAuth returns the authenticator whose admin credentials apply now, and whether the admin API
// must wait: credentials are configured but no policies are compiled yet.
func (s *Server) adminAuth() (a *auth.Authenticator, wait bool) {
	if a = s.engine.Auth(); a != nil {
		return a, false
	}
	return nil, len(s.cfg.Policies.Auth.Admin.Tokens) > 0
}

var errAdminNotReady = status.Error(codes.Unavailable, "the admin API is not ready: its credentials are not loaded yet")

// adminGuard wraps the admin HTTP API.
func (s *Server) adminGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, wait := s.adminAuth()
		if wait {
			http.Error(w, "the admin API is not ready", http.StatusServiceUnavailable)
			return
		}
		if a != nil {
			if mw := a.AdminMiddleware(); mw != nil {
				mw(next).ServeHTTP(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// adminUnary and adminStream guard the admin gRPC server.
func (s *Server) adminUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	a, wait := s.adminAuth()
	if wait {
		return nil, errAdminNotReady
	}
	if a != nil {
		if ic := a.AdminUnaryInterceptor(); ic != nil {
			return ic(ctx, req, info, handler)
		}
	}
	return handler(ctx, req)
}

func (s *Server) adminStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	a, wait := s.adminAuth()
	if wait {
		return errAdminNotReady
	}
	if a != nil {
		if ic := a.AdminStreamInterceptor(); ic != nil {
			return ic(srv, ss, info, handler)
		}
	}
	return handler(srv, ss)
}
