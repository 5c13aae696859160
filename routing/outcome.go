package routing

import (
	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// clockBase anchors nanotime; it is set once and never changes.
var clockBase = time.Now()

// nanotime is the monotonic time since clockBase in nanoseconds: cheap, comparable, and stored in
// atomics where a time.Time would not fit.
func nanotime() int64 { return int64(time.Since(clockBase)) }

// outcome is what a finished call says about the health of the endpoint that served it.
type outcome uint8

const (
	// outcomeUnknown: the caller did not report the call's result (Upstream.Done).
	outcomeUnknown outcome = iota
	// outcomeSuccess: the backend answered, whatever the answer (NotFound, InvalidArgument...).
	outcomeSuccess
	// outcomeFailure: a sick-backend result: Unavailable, ResourceExhausted, a deadline the caller
	// did not set, a connection error.
	outcomeFailure
	// outcomeExcluded: the caller caused the failure (cancelled, or its own deadline passed).
	outcomeExcluded
)

// classify decides what err, the result of a call made on behalf of the caller context parent, says
// about the backend.
func classify(parent context.Context, err error) outcome {
	if err == nil {
		return outcomeSuccess
	}
	if parent != nil && parent.Err() != nil {
		return outcomeExcluded // the caller went away or its deadline passed: not the backend's fault
	}
	o := outcomeOf(err)
	if o == outcomeFailure && parent != nil && deadlinePassed(parent) {
		return outcomeExcluded // the caller's deadline passed; parent's timer has yet to run
	}
	return o
}

// outcomeOf decides what err, a call's failure, says about the backend, its caller left aside.
func outcomeOf(err error) outcome {
	s, ok := status.FromError(err)
	if !ok {
		if errors.Is(err, context.Canceled) {
			return outcomeExcluded
		}
		return outcomeFailure // a transport error without a status: the connection failed
	}
	switch s.Code() {
	case codes.Unavailable, codes.DeadlineExceeded:
		return outcomeFailure
	case codes.ResourceExhausted:
		// grpc-go reports the gateway's own message size limits with this code; those are the
		// caller's doing, not the backend's.
		if strings.HasPrefix(s.Message(), "grpc: received message larger than max") ||
			strings.HasPrefix(s.Message(), "grpc: trying to send message larger than max") {
			return outcomeSuccess
		}
		return outcomeFailure
	case codes.Canceled:
		return outcomeExcluded
	default:
		return outcomeSuccess
	}
}

// deadlinePassed reports whether ctx has a deadline and the clock has passed it, whether or not ctx
// has ended yet. The timer that ends a context runs a moment after its deadline, longer on a busy
// process, and meanwhile the call's end may already be known: a backend's own timer reset its
// stream at the same deadline, which grpc-go reports as DeadlineExceeded once the deadline is
// past; or grpc-go ended the client's stream at the deadline by cancelling its context, which
// then ended with Canceled.
func deadlinePassed(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// notSent reports whether err shows that a call failed before its request reached a backend, so
// that retrying it is safe whatever the method does: the gateway refused it (an open circuit, a
// draining endpoint), no connection could be made, or the server refused the stream while
// draining. grpc-go has no typed error for the last two; its messages are stable.
func notSent(err error) bool {
	if _, ok := err.(*unsentError); ok {
		return true
	}
	s, ok := status.FromError(err)
	if !ok || s.Code() != codes.Unavailable {
		return false
	}
	msg := s.Message()
	return strings.Contains(msg, "while dialing") ||
		strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "server is draining")
}

// notReady ends grpc-go's message for a call whose context ended while it waited for a ready
// connection ("context deadline exceeded while waiting for connections to become ready").
const notReady = "while waiting for connections to become ready"

// errUnready is an attempt's failure when its own timeout (the route's per_try_timeout) passed
// before a connection to its endpoint was ready: nothing was sent.
var errUnready error = &unsentError{status.New(codes.Unavailable, "upstream connection failed: timed out")}

// attemptErr is the failure of one attempt of a call whose own context is call: an attempt that
// ran out of its per-try timeout while grpc-go waited for a ready connection (a backend that
// accepts connections and never answers, a connection still being made) never reached a backend,
// so it is errUnready, which another endpoint may take (notSent), rather than grpc-go's
// DEADLINE_EXCEEDED, which only the call's own deadline earns. Any other err is returned as it is.
func attemptErr(call context.Context, err error) error {
	if err == nil || call.Err() != nil {
		return err
	}
	s, ok := status.FromError(err)
	if !ok || s.Code() != codes.DeadlineExceeded {
		return err
	}
	if msg := s.Message(); strings.HasSuffix(msg, notReady) ||
		strings.HasPrefix(msg, "latest balancer error: ") {
		return errUnready
	}
	return err
}
