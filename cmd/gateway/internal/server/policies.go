package server

import (
	"context"
	"io"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/transcoder"
)

// fronts are the HTTP fronts of one snapshot, each wrapped in the snapshot's request policies (CORS,
// limits, WAF, telemetry) once, when the snapshot is published. They are published whole, so a
// GraphQL request meets the handler and the policies of one snapshot.
type fronts struct {
	set     *policies.Set // nil when the snapshot has no policies
	gql     *graphqlState // the snapshot's GraphQL front, which graphql serves
	rest    http.Handler
	graphql http.Handler
	web     http.Handler
	openapi http.Handler
}

// wrapFronts wraps the HTTP fronts, gql the GraphQL front of snap, in snap's policies.
func (s *Server) wrapFronts(snap *registry.Snapshot, gql *graphqlState) *fronts {
	set, _ := snap.Admitter().(*policies.Set)
	if set == nil {
		return &fronts{gql: gql, rest: s.rest, graphql: gql, web: s.web, openapi: s.openapi}
	}
	return &fronts{
		set:     set,
		gql:     gql,
		rest:    set.Wrap(policy.FrontREST, s.rest),
		graphql: set.Wrap(policy.FrontGraphQL, gql),
		web:     set.Wrap(policy.FrontGRPCWeb, s.web),
		openapi: set.Wrap(policy.FrontREST, s.openapi),
	}
}

// currentFronts returns the fronts of the current snapshot.
func (s *Server) currentFronts() *fronts {
	if f := s.fronts.Load(); f != nil {
		return f
	}
	return &fronts{gql: noGraphQL, rest: s.rest, graphql: noGraphQL, web: s.web, openapi: s.openapi}
}

// intercept applies the current snapshot's request policies (telemetry) to native gRPC calls.
func (s *Server) intercept(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if f := s.fronts.Load(); f != nil && f.set != nil {
		if ic := f.set.StreamInterceptor(); ic != nil {
			return ic(srv, ss, info, handler)
		}
	}
	return handler(srv, ss)
}

// interceptUnary applies them to the unary methods the gateway serves itself (health's Check and
// List), which grpc runs without the stream interceptor: the call runs as a stream of one request,
// so it is observed (metrics, trace, access log) as every other call is.
func (s *Server) interceptUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	var resp any
	err := s.intercept(info.Server, unaryStream{ctx}, &grpc.StreamServerInfo{FullMethod: info.FullMethod}, func(_ any, ss grpc.ServerStream) error {
		var err error
		resp, err = handler(ss.Context(), req)
		return err
	})
	return resp, err
}

// unaryStream is a unary call seen as a grpc.ServerStream, for interceptUnary: its headers and
// trailer go to the call, and it has no messages of its own (the handler has the request).
type unaryStream struct{ ctx context.Context }

func (u unaryStream) Context() context.Context        { return u.ctx }
func (u unaryStream) SetHeader(md metadata.MD) error  { return grpc.SetHeader(u.ctx, md) }
func (u unaryStream) SendHeader(md metadata.MD) error { return grpc.SendHeader(u.ctx, md) }
func (u unaryStream) SetTrailer(md metadata.MD)       { _ = grpc.SetTrailer(u.ctx, md) }
func (u unaryStream) SendMsg(any) error               { return errUnaryStream }
func (u unaryStream) RecvMsg(any) error               { return errUnaryStream }

var errUnaryStream = status.Error(codes.Internal, "a unary call has no stream of messages")

// admission compiles a snapshot's policy chains with the server's engine; see registry.Spec.
func (s *Server) admission(p config.Policies, methods []string, resolve func(*http.Request) (*transcoder.Binding, bool)) (routing.Admitter, error) {
	set, err := s.engine.Compile(p, methods, resolve)
	if err != nil {
		return nil, err
	}
	return set, nil
}

// WithAccessLogWriter sends the access log to w instead of policies.access_log.output, and turns it
// on: for programs that embed the gateway, and benchmarks (io.Discard).
func WithAccessLogWriter(w io.Writer) Option {
	return func(s *Server) { s.engOpts = append(s.engOpts, policies.WithAccessLogWriter(w)) }
}
