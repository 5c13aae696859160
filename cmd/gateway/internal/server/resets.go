package server

import (
	"context"
	"net"
	"net/http"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"

	"github.com/protogate/gateway/cmd/gateway/internal/listen"
	"github.com/protogate/gateway/policies/telemetry"
)

// Premature resets (HTTP/2 "rapid reset"): every connection of the data port counts its streams,
// and those its client reset right after opening them, in a listen.Resets (listen.Guard), which
// closes it once more than half of a window's streams are. Both servers of the port report the end of each stream, with
// whether its client reset it, to the Resets of its connection:
//   - net/http (TLS, and h2c connections whose first request is not native gRPC): countResets wraps
//     the data handler, and resetsConnContext puts the connection's Resets in its requests' context.
//   - grpc-go (h2c native gRPC) shows a call nothing of its connection but the peer, whose AuthInfo
//     the transport credentials make: resetCreds put the Resets there. interceptCounted reports the
//     streaming calls, the proxy's among them, and countUnary the unary methods the gateway answers
//     itself, whose request grpc-go reads before it runs any interceptor.
//
// Each call costs a context lookup, a clock reading, a check of its context and one atomic
// compare-and-swap on its connection's counts.

// WithResetWindow sets how many ended streams of a data-port connection the share of premature
// resets is taken over (default listen.DefaultResetWindow): the connection is closed once more than
// half of a window's streams were reset by their client within a second of opening. For tests.
func WithResetWindow(streams int) Option { return func(s *Server) { s.resetWindow = streams } }

// guard is the data port's listener with each connection counting its premature resets.
func (s *Server) guard(ln net.Listener) net.Listener {
	return listen.Guard(ln, listen.ResetPolicy{Window: s.resetWindow, OnClose: s.closedForResets})
}

// closedForResets logs and counts a connection closed for its client's premature resets.
func (s *Server) closedForResets(client net.Addr, streams, premature int) {
	s.log.Warn("closed a client connection that reset most of its HTTP/2 streams right after opening them (HTTP/2 rapid reset)",
		"client", client.String(), "streams", streams, "premature_resets", premature)
	s.engine.Telemetry().ConnectionClosed(telemetry.ClosedPrematureResets)
}

type resetsKey struct{}

// resetsConnContext is the data port's http.Server.ConnContext: its connections' requests carry
// the connection's Resets.
func resetsConnContext(ctx context.Context, c net.Conn) context.Context {
	if r := listen.ResetsOf(c); r != nil {
		return context.WithValue(ctx, resetsKey{}, r)
	}
	return ctx
}

// countResets reports the end of each HTTP/2 request to its connection's Resets. net/http cancels a
// request's context when its client resets the stream (or the connection ends, which Resets tells
// apart), and otherwise only once the handler returned. HTTP/1 has no streams to reset: a client
// that gives up on a request closes its connection.
func countResets(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			next.ServeHTTP(w, r)
			return
		}
		resets, _ := r.Context().Value(resetsKey{}).(*listen.Resets)
		if resets == nil {
			next.ServeHTTP(w, r)
			return
		}
		opened := time.Now()
		next.ServeHTTP(w, r)
		resets.StreamEnded(opened, r.Context().Err() == context.Canceled)
	})
}

// resetCreds are the h2c native gRPC server's transport credentials: plaintext, as insecure
// credentials are, with each connection's Resets in the AuthInfo its calls' peer carries.
type resetCreds struct {
	credentials.TransportCredentials
}

func newResetCreds() resetCreds { return resetCreds{insecure.NewCredentials()} }

func (c resetCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		return nil, nil, err
	}
	return conn, resetsInfo{AuthInfo: info, resets: listen.ResetsOf(conn)}, nil
}

func (c resetCreds) Clone() credentials.TransportCredentials { return newResetCreds() }

// resetsInfo is the AuthInfo of a connection resetCreds handled.
type resetsInfo struct {
	credentials.AuthInfo
	resets *listen.Resets
}

// resetsOf returns the Resets of a native gRPC call's connection; nil for calls through net/http.
func resetsOf(ctx context.Context) *listen.Resets {
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(resetsInfo); ok {
			return info.resets
		}
	}
	return nil
}

// interceptCounted is the h2c native gRPC server's stream interceptor: intercept, with the call's
// end reported to its connection's Resets. grpc-go cancels a call's context when its client resets
// the stream (or the connection ends), and otherwise only once the handler returned, but for its
// deadline (DeadlineExceeded, not a reset).
func (s *Server) interceptCounted(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	resets := resetsOf(ss.Context())
	if resets == nil {
		return s.intercept(srv, ss, info, handler)
	}
	opened := time.Now()
	err := s.intercept(srv, ss, info, handler)
	resets.StreamEnded(opened, ss.Context().Err() == context.Canceled)
	return err
}

// countUnary registers services on the h2c native gRPC server with the end of each call of their
// unary methods reported to its connection's Resets, from before grpc-go reads its request: a call
// reset before its request came never reaches an interceptor.
type countUnary struct{ grpc.ServiceRegistrar }

func (c countUnary) RegisterService(desc *grpc.ServiceDesc, impl any) {
	d := *desc
	d.Methods = slices.Clone(desc.Methods)
	for i := range d.Methods {
		handler := d.Methods[i].Handler
		d.Methods[i].Handler = func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			resets := resetsOf(ctx)
			if resets == nil {
				return handler(srv, ctx, dec, ic)
			}
			opened := time.Now()
			resp, err := handler(srv, ctx, dec, ic)
			resets.StreamEnded(opened, ctx.Err() == context.Canceled)
			return resp, err
		}
	}
	c.ServiceRegistrar.RegisterService(&d, impl)
}
