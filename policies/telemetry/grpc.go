package telemetry

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
)

var frontGRPC = string(policy.FrontGRPC)

// intercept observes a native gRPC call (grpc.StreamServerInterceptor).
func (t *Telemetry) intercept(srv any, ss grpc.ServerStream, si *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx := ss.Context()
	if callinfo.From(ctx) != nil {
		return handler(srv, ss) // observed by the HTTP middleware already
	}
	start := time.Now()
	// The call's metadata, copied once: the trace context and logged headers are read from the
	// copy, and the proxy routes with it (IncomingMetadata) rather than copying it again.
	md, _ := metadata.FromIncomingContext(ctx)
	ws := &serverStream{ServerStream: ss, md: md} // with the request's Info: one allocation
	info := &ws.info
	info.Init()
	// The front and peer, where the admission finds them a level or two down rather than at the
	// bottom of grpc's deep context (a lookup of a value it lacks walks it whole).
	ws.req.Front = policy.FrontGRPC
	ws.req.Peer, _ = peer.FromContext(ctx)
	ctx = policy.WithRequest(ctx, &ws.req)
	var span trace.Span
	var name string
	if t.tracing != nil {
		// The method is the client's until the call shows the gateway serves it: the span may
		// start as "grpc unknown" and be renamed when the call ends (finish).
		name = t.startName(frontGRPC, si.FullMethod)
		ctx, span, ws.trace = t.tracing.startGRPC(ctx, md, name, &ws.span)
		info.Tracer = t
	}
	ws.ctx = callinfo.With(ctx, info)
	err := handler(srv, ws)
	t.observeGRPC(ws, si.FullMethod, err, start, span, name)
	return err
}

// observeGRPC reports a finished native gRPC call, whose span started named name. It is
// intercept's second half, apart so that intercept's frame, which stays on the stack for the whole
// call, holds no observation: a deep stack costs every call that has to grow it.
func (t *Telemetry) observeGRPC(ws *serverStream, method string, err error, start time.Time, span trace.Span, name string) {
	end := time.Now()
	o := observation{
		front:    frontGRPC,
		method:   method,
		spanName: name,
		code:     status.Code(err),
		end:      end,
		latency:  end.Sub(start),
		bytesIn:  ws.in.Load(),
		bytesOut: ws.out,
		md:       ws.md,
	}
	if ownService(method) {
		o.metricMethod = method
	}
	if p := ws.req.Peer; p != nil && p.Addr != nil {
		o.clientIP = t.clientIP(p.Addr)
	}
	o.record(ws.info.Snapshot())
	t.finish(ws.ctx, &o, span)
}

// ownService reports whether method is a method of the services the gateway serves itself (health,
// reflection): a known method, though no admission chain records it. Other names under those
// services are the client's own, and answered UNIMPLEMENTED.
func ownService(method string) bool {
	switch method {
	case "/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch", "/grpc.health.v1.Health/List",
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo":
		return true
	}
	return false
}

// serverStream gives the handler the context with the call's span and Info, and the copy of the
// call's metadata (routing.MetadataStream), and counts the bytes of the messages (the proxy's
// frames) that pass.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
	md  metadata.MD
	// trace is what md holds of the call's trace context (tracing.startGRPC), which the call's
	// upstream calls may count on once the proxy takes md to send upstream (IncomingMetadata).
	trace callinfo.UpstreamTrace
	req   policy.Request // the call's front and peer, for its admission
	in    atomic.Int64   // RecvMsg may run in a goroutine of its own (client and bidi streams)
	out   int64
	info  callinfo.Info // the request's
	span  unsampledSpan // the request's span, when it is not sampled
}

// sized is a message that knows its encoded size: routing.Frame.
type sized interface{ Len() int }

func (s *serverStream) Context() context.Context { return s.ctx }

// IncomingMetadata returns the copy of the call's incoming metadata, for the proxy to route with
// and send upstream (routing.MetadataStream). The upstream calls' trace context is then added to
// it as startGRPC readied it for.
func (s *serverStream) IncomingMetadata() metadata.MD {
	s.info.SetUpstreamTrace(s.trace)
	return s.md
}

func (s *serverStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		if f, ok := m.(sized); ok {
			s.in.Add(int64(f.Len()))
		}
	}
	return err
}

func (s *serverStream) SendMsg(m any) error {
	if f, ok := m.(sized); ok {
		s.out += int64(f.Len())
	}
	return s.ServerStream.SendMsg(m)
}

// clientIP renders a gRPC client's address without its port. A TCP address's host is cached by
// value (rendering it costs three allocations), as the upstream endpoints' addresses are.
func (t *Telemetry) clientIP(a net.Addr) string {
	if tcp, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(tcp.IP)
		return t.clientIPs.get(ip.Unmap().WithZone(tcp.Zone), netip.Addr.String)
	}
	return hostOf(a.String())
}
