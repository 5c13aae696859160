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
	"github.com/protogate/gateway/routing"
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
// A call its client ends at its own deadline (grpc-timeout) is not reset prematurely, though it
// may look so: the client resets its stream when its deadline passes, which the gateway, timing
// that deadline from the call's arrival, may see just before its own copy of it passes, so that
// the call ends cancelled rather than DeadlineExceeded. A reset within deadlineSlack of the deadline
// is taken for that (resetByClient, resetRequest).
//
// Each call costs a context lookup, a clock reading, a check of its context and one atomic
// compare-and-swap on its connection's counts; a cancelled one also a look at its deadline.

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
		resets.StreamEnded(opened, resetRequest(r, opened))
	})
}

// resetRequest reports whether the client of r, opened at opened, reset its stream before its
// deadline: net/http cancels r's context when it does. The deadline is Grpc-Timeout's (native gRPC
// over TLS and gRPC-Web carry it, and the REST front honours it), which net/http leaves to the
// handler: it is read only for a request that was cancelled.
func resetRequest(r *http.Request, opened time.Time) bool {
	if r.Context().Err() != context.Canceled {
		return false
	}
	timeout, ok, err := routing.ParseTimeout(r.Header.Get("Grpc-Timeout"))
	return err != nil || !ok || !nearDeadline(opened, opened.Add(timeout))
}

// resetByClient reports whether the client of a call on grpc-go, opened at opened with context
// ctx, reset its stream before its deadline: grpc-go cancels the call's context when it does, and
// ends it with DeadlineExceeded at the deadline (grpc-timeout) it set on it.
func resetByClient(ctx context.Context, opened time.Time) bool {
	if ctx.Err() != context.Canceled {
		return false
	}
	deadline, ok := ctx.Deadline()
	return !ok || !nearDeadline(opened, deadline)
}

// nearDeadline reports whether it is now within deadlineSlack of deadline, that of a call opened at
// opened: a reset then is its client's at that deadline.
func nearDeadline(opened, deadline time.Time) bool {
	return time.Until(deadline) <= deadlineSlack(deadline.Sub(opened))
}

// minDeadlineSlack is the least of deadlineSlack.
const minDeadlineSlack = 10 * time.Millisecond

// deadlineSlack is how long before the deadline of a call of timeout its client's reset is taken
// for one at that deadline.
//
// The client's clock and the gateway's start a transport's delay apart (grpc-timeout is what was
// left when the client sent its headers), and its reset comes that same delay after its deadline:
// which of the reset and the gateway's timer comes first is down to scheduling, a few milliseconds
// on a busy host (minDeadlineSlack). Clients that send grpc-timeout in a coarse unit, rounded up,
// give the gateway a later deadline than their own, by up to a share of the timeout: hence 5% of
// it when that is more. The slack is never more than half of the timeout: a client that sets a
// tiny one and resets at once, to pass its resets for deadlines, still has each stream live half
// its time, so that resetting saves it at most half of what its streams cost it anyway. The slack
// only matters for timeouts under the policy's Lifetime (a second): a later reset is no premature
// one whatever its deadline.
func deadlineSlack(timeout time.Duration) time.Duration {
	return min(max(minDeadlineSlack, timeout/20), timeout/2)
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
// deadline (DeadlineExceeded, not a reset; nor is a reset at it: resetByClient).
func (s *Server) interceptCounted(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	resets := resetsOf(ss.Context())
	if resets == nil {
		return s.intercept(srv, ss, info, handler)
	}
	opened := time.Now()
	err := s.intercept(srv, ss, info, handler)
	resets.StreamEnded(opened, resetByClient(ss.Context(), opened))
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
			resets.StreamEnded(opened, resetByClient(ctx, opened))
			return resp, err
		}
	}
	c.ServiceRegistrar.RegisterService(&d, impl)
}
