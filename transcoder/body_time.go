package transcoder

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/routing"
)

// Request bodies arrive in bounded time. The limits policy bounds every body it does not take for a
// stream (sanitize: a minute, plus a second per 16 KiB announced, 408 past it), before the front
// reads it. An NDJSON body it leaves alone: it may be a stream's, whose messages may come for as
// long as the client likes. The front bounds that itself, knowing the method: such a body read
// whole (a method that does not stream requests) as the policy would, and a stream's first
// message, after which the bound is lifted. The upstream of a client or bidi stream opens at once,
// so its first message's bound is also how long a silent client holds its place in the cluster.

// bodyDeadline moves the read deadline of a request body: a bound set and lifted by the goroutine
// that reads the body, and the stop of a read the call no longer waits for (a bidi stream whose
// upstream has ended), which no lift undoes.
type bodyDeadline struct {
	rc      *http.ResponseController
	mu      sync.Mutex
	stopped bool
}

// bound sets the deadline to the time allowed for n bytes from now, and returns that time.
func (d *bodyDeadline) bound(t routing.ReadTime, n int64) time.Duration {
	wait := t.Allow(n)
	d.set(time.Now().Add(wait))
	return wait
}

// lift removes the bound.
func (d *bodyDeadline) lift() { d.set(time.Time{}) }

func (d *bodyDeadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.stopped {
		_ = d.rc.SetReadDeadline(t)
	}
}

// stop wakes a blocked read, and keeps the body from being read from then on.
func (d *bodyDeadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	_ = d.rc.SetReadDeadline(aLongTimeAgo)
}

// late returns, for err, a failure to read the body under a bound of wait, the call's error when
// the bound ended the read: 408 DEADLINE_EXCEEDED naming the time; nil otherwise. A refusal the
// limits policy met on the same deadline (its own bound, which the front's replaced) is the
// bound's too.
func (d *bodyDeadline) late(err error, wait time.Duration) error {
	d.mu.Lock()
	stopped := d.stopped
	d.mu.Unlock()
	if stopped || !errors.Is(err, os.ErrDeadlineExceeded) && status.Code(err) != codes.DeadlineExceeded {
		return nil
	}
	return BodyLate(wait, err)
}

// BodyLate is the error of a request body that did not arrive within wait, on any HTTP front: 408
// DEADLINE_EXCEEDED naming the time. cause, if not nil, is the read's failure.
func BodyLate(wait time.Duration, cause error) *Error {
	return &Error{code: codes.DeadlineExceeded, msg: fmt.Sprintf("the request body did not arrive within %s", wait),
		httpStatus: http.StatusRequestTimeout, cause: cause}
}

// firstMessageAnnounced is what a streamed body announces of its first message: its whole length
// when that is less than a message may be, else the most a message may be.
func firstMessageAnnounced(contentLength int64, maxMessage int) int64 {
	if contentLength >= 0 && contentLength < int64(maxMessage) {
		return contentLength
	}
	return int64(maxMessage)
}
