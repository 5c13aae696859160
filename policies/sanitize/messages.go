package sanitize

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/protogate/gateway/policies/policy"
)

// WebSocket messages. The middleware checks a request's body, but a WebSocket's messages come after
// the handshake: so a handshake to the REST or GraphQL front carries the limits in its context
// (policy.WithMessageLimits), and the front holds each JSON message to the JSON limits
// (CheckMessage) before it decodes it. Binary frames of a REST WebSocket are protobuf, bounded by
// the front's frame size limit like gRPC-Web messages.

var _ policy.MessageLimits = (*limits)(nil)

// withMessageLimits returns r with the limits in its context when it asks to upgrade the connection
// (any Upgrade header: the fronts decide whether it is a WebSocket); otherwise r itself, at the cost
// of one map lookup.
func (l *limits) withMessageLimits(r *http.Request) *http.Request {
	if len(r.Header["Upgrade"]) == 0 {
		return r
	}
	return r.WithContext(policy.WithMessageLimits(r.Context(), l))
}

// CheckMessage holds msg, one JSON message of a WebSocket, to the JSON limits (policy.MessageLimits).
// A refusal is a 400 INVALID_ARGUMENT naming the limit and where it was met, with a
// google.rpc.BadRequest detail naming the body, recorded as the request's denial (Refused).
func (l *limits) CheckMessage(ctx context.Context, msg []byte) error {
	shape := l.shapes.Get().(*JSONShape)
	shape.Reset()
	_, err := shape.Write(msg)
	if err == nil {
		err = shape.Close()
	}
	l.shapes.Put(shape)
	if err == nil {
		return nil
	}
	text := err.Error()
	if se := (*ShapeError)(nil); errors.As(err, &se) {
		text = fmt.Sprintf("%s (at byte %d of the message)", se.Msg, se.Offset)
	}
	d := badRequest("body", text)
	Refused(ctx, d)
	return d
}
