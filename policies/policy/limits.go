package policy

import "context"

// MessageLimits holds the messages of a WebSocket to the request's input limits (policies.limits:
// JSON depth, array length, string length, valid UTF-8), as a JSON body is held to them. A request
// middleware checks a body as the front reads it, but a WebSocket's messages come after the
// handshake it sees: so the limits policy puts its MessageLimits in the context of a handshake
// (WithMessageLimits), and the front calls CheckMessage on each JSON message as the client sent it,
// before decoding it: each text frame of a REST WebSocket, each message of a GraphQL WebSocket.
//
// CheckMessage returns nil for a message within the limits, or the refusal: an InvalidArgument
// status naming the limit, with a google.rpc.BadRequest detail. The front renders it as that
// message's or stream's error, and the message goes nowhere. The refusal is recorded as the
// request's denial (callinfo, for the access log and the denials metric). msg is valid only during
// the call. A MessageLimits is safe for concurrent use and allocates nothing for a message within
// the limits.
type MessageLimits interface {
	CheckMessage(ctx context.Context, msg []byte) error
}

type limitsKey struct{}

// WithMessageLimits returns ctx carrying l.
func WithMessageLimits(ctx context.Context, l MessageLimits) context.Context {
	return context.WithValue(ctx, limitsKey{}, l)
}

// MessageLimitsFrom returns the message limits of ctx's request, or nil when it carries none (a
// request that is not a WebSocket handshake, or a gateway without the limits policy).
func MessageLimitsFrom(ctx context.Context) MessageLimits {
	l, _ := ctx.Value(limitsKey{}).(MessageLimits)
	return l
}
