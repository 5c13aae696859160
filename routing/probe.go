package routing

import (
	"context"
	"errors"
	"io"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// streamProbe is the connection of a stream that is a half-open circuit's probe. A stream may run
// for as long as its client likes, and a probe holds one of the circuit's few half-open slots until
// its verdict: were the verdict the stream's end, every other call to the endpoint would be refused
// "circuit breaker open" meanwhile, though the backend answers. So the probe is settled once the
// stream is established, whichever front reads it (they all open their streams on Upstream.Conn):
//
//   - a success when the upstream's response header or first message arrives;
//   - the outcome of the failure, as a unary probe's would be classified, when the stream fails
//     before that (Unavailable, a deadline the caller did not set, a connection error);
//   - no verdict (the slot released, as for a cancelled unary probe) when the caller goes away first.
//
// A stream that ends before any of these is settled by its end (Upstream.DoneWith). Once settled,
// the stream's end counts as any stream's does (Endpoint.observe, breaker.record), never again as
// the probe.
type streamProbe struct {
	grpc.ClientConnInterface                 // the endpoint's connection
	parent                   context.Context // the caller's: its end excuses the backend
	report                   func(error)     // the breaker's probe report
	settled                  atomic.Bool
}

// settle reports outcome o as the probe's verdict, unless it has one already; it reports whether
// this call did.
func (p *streamProbe) settle(o outcome) bool {
	if p.settled.Load() || p.settled.Swap(true) {
		return false
	}
	p.report(breakerErr(o))
	return true
}

// NewStream opens the stream, watched for the first sign of the backend's answer.
func (p *streamProbe) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := p.ClientConnInterface.NewStream(ctx, desc, method, opts...)
	if err != nil {
		p.settle(classify(p.parent, err))
		return nil, err
	}
	return &probedStream{ClientStream: cs, probe: p}, nil
}

// probedStream is a probe's stream: its first header or message settles the probe.
type probedStream struct {
	grpc.ClientStream
	probe *streamProbe
}

// Header settles the probe a success once the upstream's header has arrived. A nil header without
// an error is a stream that ended without one: its status, which settles the probe, comes from
// RecvMsg.
func (s *probedStream) Header() (metadata.MD, error) {
	md, err := s.ClientStream.Header()
	switch {
	case err != nil:
		s.probe.settle(classify(s.probe.parent, err))
	case md != nil:
		s.probe.settle(outcomeSuccess)
	}
	return md, err
}

// RecvMsg settles the probe with the first message, or with the status of a stream that ended
// before one.
func (s *probedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if errors.Is(err, io.EOF) {
		s.probe.settle(outcomeSuccess)
	} else {
		s.probe.settle(classify(s.probe.parent, err))
	}
	return err
}
