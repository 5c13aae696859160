package routing

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
)

// ReadTime bounds how long a request may take to arrive: Base, plus a second per PerSecond bytes it
// announced. A client that stalls, or trickles a byte now and then, has its call ended rather than
// held: the time is nginx's client_body_timeout, plus room for a large body over a slow link. The
// HTTP fronts hold request bodies to it, the proxy each call's request message (a stream's first).
type ReadTime struct {
	Base      time.Duration
	PerSecond int64 // the bytes each second of allowance on top of Base is for
}

// DefaultReadTime is a minute, plus a second per 16 KiB announced: 5m16s for 4 MiB.
var DefaultReadTime = ReadTime{Base: time.Minute, PerSecond: 16 << 10}

// Allow returns the time a request announcing n bytes may take to arrive.
func (t ReadTime) Allow(n int64) time.Duration {
	if t.PerSecond <= 0 || n <= 0 {
		return t.Base
	}
	return t.Base + time.Duration(n/t.PerSecond)*time.Second
}

// RequestLate is the status of a call whose request did not arrive within wait.
func RequestLate(wait time.Duration) error {
	return status.Errorf(codes.DeadlineExceeded, "the request did not arrive within %s", wait)
}

// RecvBounder is a server stream that bounds its receiving itself, by what the request's framing
// announces (gRPC-Web's stream, which reads its frames from the body).
type RecvBounder interface {
	// BoundRecv makes the stream's receives fail once t.Allow(n) has passed since the call,
	// n the lengths the request's messages announced so far (none: t.Base), until end is called.
	// end returns nil if the request came in time, else its status (RequestLate). Both are
	// called by the goroutine that receives.
	BoundRecv(t ReadTime) (end func() error)
}

// recvAbortKey is the context key of a call's receive abort (WithRecvAbort), a recvAborter.
type recvAbortKey struct{}

// recvAborter ends a call's pending and later receives.
type recvAborter interface{ abortRecv() }

// abortFunc is a recvAborter that is a function.
type abortFunc func()

func (f abortFunc) abortRecv() { f() }

// WithRecvAbort returns ctx, the context of a call a server transport serves, carrying abort: a
// function that makes the call's pending and later receives fail at once. The proxy calls it when
// the call's request has not arrived in time (WithRequestReadTime). A call whose context carries
// none, and whose stream is no RecvBounder, waits for its request as long as its client likes.
func WithRecvAbort(ctx context.Context, abort func()) context.Context {
	return context.WithValue(ctx, recvAbortKey{}, abortFunc(abort))
}

// AbortableRecv is a tap handle for grpc-go's server (grpc.InTapHandle) that gives each call a
// receive abort: grpc-go makes the context its tap handle returns the stream's, and ends a pending
// receive when that context ends, failing the call with the context's error. The abort ends it as
// its deadline would, so that error, and the call's status, is DeadlineExceeded.
func AbortableRecv(ctx context.Context, _ *tap.Info) (context.Context, error) {
	c := new(abortableCtx)
	c.Context, c.cancel = context.WithCancelCause(ctx)
	return c, nil
}

// abortableCtx is the context of a call AbortableRecv made: a cancelable child of the stream's
// whose abort ends it with context.DeadlineExceeded for its error and errRecvAborted for its
// cause.
type abortableCtx struct {
	context.Context
	cancel  context.CancelCauseFunc
	aborted atomic.Bool
}

func (c *abortableCtx) abortRecv() {
	c.aborted.Store(true) // before Done closes: whoever sees it closed sees the abort
	c.cancel(errRecvAborted)
}

func (c *abortableCtx) Err() error {
	err := c.Context.Err()
	if err != nil && c.aborted.Load() {
		return context.DeadlineExceeded
	}
	return err
}

func (c *abortableCtx) Value(key any) any {
	if key == (recvAbortKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// errRecvAborted is the cause of the end of a call's context that AbortableRecv's abort ended.
var errRecvAborted = errors.New("the request did not arrive in time")

// inTime is the end of a bound that bounded nothing.
func inTime() error { return nil }

// boundRecv bounds the time ss's receives may take, by the proxy's ReadTime, until end is called;
// end returns nil if the request came in time, else its status. A RecvBounder bounds itself, by
// what its messages announce. Any other stream is given the time of the largest request the
// gateway takes (grpc-go reads the frames, so nothing tells the proxy a message's length before it
// has all of it), and aborted through its context (WithRecvAbort) once that passes.
func (p *Proxy) boundRecv(ss grpc.ServerStream) (end func() error) {
	if b, ok := ss.(RecvBounder); ok {
		return b.BoundRecv(p.readTime)
	}
	a, _ := ss.Context().Value(recvAbortKey{}).(recvAborter)
	if a == nil {
		return inTime
	}
	wait := p.readTime.Allow(int64(p.maxMsgSize))
	t := time.AfterFunc(wait, a.abortRecv)
	return func() error {
		if t.Stop() {
			return nil
		}
		return RequestLate(wait)
	}
}
