package routing

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// CallUnary makes a unary call of method with request metadata md through the routing core, for the
// fronts that build their requests themselves (REST, GraphQL): it routes the call as [Proxy.Route]
// does, calls the endpoint, records the result with [Upstream.DoneWith], and retries on another
// endpoint of the cluster as the route's [RetryPolicy] and the cluster's retry budget allow, exactly
// as the gRPC proxy retries its unary calls. Errors are gRPC statuses, or the context's error.
//
// req and resp go through the proxy's codec: a *[Frame] carries bytes untouched (a request Frame is
// consumed: its buffers are handed to the transport, kept for retries meanwhile), anything else is
// proto-encoded. opts are added to the proxy's [Proxy.CallOptions]; with grpc.Header and
// grpc.Trailer they report the last attempt's metadata.
func (p *Proxy) CallUnary(ctx context.Context, method string, md metadata.MD, req, resp any, opts ...grpc.CallOption) error {
	up, err := p.Route(ctx, method, md)
	if err != nil {
		return err
	}
	callOpts := p.callOpts
	if len(opts) > 0 {
		callOpts = append(callOpts[:len(callOpts):len(callOpts)], opts...)
	}
	pol := up.Route.retryPolicy()
	if pol.Attempts <= 1 && pol.PerTryTimeout == 0 || up.Kind != KindUnary && up.Kind != KindUnknown {
		err = up.Conn.Invoke(up.Ctx, method, req, resp, callOpts...)
		up.DoneWith(err)
		return err
	}

	// A Frame's buffers go to the transport on each send: keep a reference for later attempts.
	f, isFrame := req.(*Frame)
	var saved Frame
	if isFrame {
		saved.data, f.data = f.data, nil
		defer saved.Free()
	}
	actx, cancel := up.Ctx, up.cancel // bounds every attempt; released when the call ends
	up.cancel = nil
	if cancel != nil {
		defer cancel()
	}
	cur := up
	for attempt := 1; ; attempt++ {
		if isFrame {
			saved.data.Ref()
			f.data = saved.data
		}
		tctx, tcancel := actx, context.CancelFunc(nil)
		if pol.PerTryTimeout > 0 {
			tctx, tcancel = context.WithTimeout(actx, pol.PerTryTimeout)
		}
		err = attemptErr(actx, cur.Conn.Invoke(tctx, method, req, resp, callOpts...))
		if isFrame {
			f.Free() // a request that was not sent
		}
		if tcancel != nil {
			tcancel()
		}
		failed := cur.ep
		cur.DoneWith(err)
		if !p.retryAgain(actx, pol, &cur, method, attempt, err) {
			return err
		}
		next, cerr := connect(cur.parent, cur.cluster, md, failed, nanotime())
		if cerr != nil {
			return err
		}
		next.Kind, next.Route, next.Ctx = cur.Kind, cur.Route, actx
		cur = next
	}
}

// retryAgain decides, after attempt (1 for the first) of a unary call failed with err, whether to make
// another: attempts remain, the caller still waits, the code is retryable, and either the request
// never reached a backend or the method is idempotent and the cluster's retry budget allows; then
// it waits out the backoff, bounded by ctx. cur is the finished attempt.
//
// A request that never reached a backend is not charged to the budget: the budget keeps retries
// from multiplying the load on sick backends, and that attempt put none on any. gRPC's transparent
// retries (gRFC A6) likewise do not count toward its retry throttling.
func (p *Proxy) retryAgain(ctx context.Context, pol *RetryPolicy, cur *Upstream, method string, attempt int, err error) bool {
	return err != nil && attempt < pol.Attempts && cur.parent.Err() == nil && !deadlinePassed(cur.parent) &&
		pol.retryable(status.Code(err)) &&
		(notSent(err) || idempotent(p.state(), method) && cur.cluster.budget.retry(nanotime())) &&
		pol.backoff(ctx, attempt)
}
