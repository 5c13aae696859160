package shop

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const (
	// RequestIDHeader is the request metadata key a backend echoes back as a response header.
	RequestIDHeader = "x-request-id"
	// ServedByTrailer is the trailer naming the service that answered ("users").
	ServedByTrailer = "x-served-by"
)

// interceptor does, for every call of one backend, what Options and the package doc promise.
type interceptor struct {
	servedBy metadata.MD // the x-served-by trailer; metadata.Join copies it, so it is shared
	prefix   string      // "/shop.users.v1.UserService/": latency and OnCall apply to these methods
	latency  time.Duration
	onCall   func(ctx context.Context, method string)
	draining context.Context // done once the backend is stopping
}

func newInterceptor(service, fullName string, opts Options, draining context.Context) *interceptor {
	return &interceptor{
		servedBy: metadata.Pairs(ServedByTrailer, service),
		prefix:   "/" + fullName + "/",
		latency:  opts.Latency,
		onCall:   opts.OnCall,
		draining: draining,
	}
}

var errStopping = status.Error(codes.Unavailable, "shop: server is shutting down")

func (i *interceptor) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	// Setting metadata fails only once the call is over, which it is not yet.
	if md := requestID(ctx); md != nil {
		_ = grpc.SetHeader(ctx, md)
	}
	_ = grpc.SetTrailer(ctx, i.servedBy)
	if err := i.enter(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (i *interceptor) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx := ss.Context()
	if md := requestID(ctx); md != nil {
		_ = ss.SetHeader(md)
	}
	ss.SetTrailer(i.servedBy)
	if err := i.enter(ctx, info.FullMethod); err != nil {
		return err
	}
	// The handler sees a context that also ends when the backend stops, so streams that run
	// until their client cancels (WatchInventory, health Watch) end instead of holding up the stop.
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(i.draining, cancel)()
	err := handler(srv, &serverStream{ServerStream: ss, ctx: hctx})
	if err != nil && i.draining.Err() != nil && ctx.Err() == nil {
		return errStopping
	}
	return err
}

// enter reports a call of the shop service to OnCall and waits the latency.
func (i *interceptor) enter(ctx context.Context, method string) error {
	if !strings.HasPrefix(method, i.prefix) {
		return nil // health and reflection: no latency, not observed
	}
	if i.onCall != nil {
		i.onCall(ctx, method)
	}
	if i.latency <= 0 {
		return nil
	}
	t := time.NewTimer(i.latency)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	case <-i.draining.Done():
		return errStopping
	}
}

// requestID returns the x-request-id values of the call's metadata as response metadata, or nil.
func requestID(ctx context.Context) metadata.MD {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(RequestIDHeader); len(v) > 0 {
		return metadata.MD{RequestIDHeader: v}
	}
	return nil
}

// serverStream is a grpc.ServerStream with its own context.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }
