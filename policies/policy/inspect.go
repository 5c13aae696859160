package policy

import "context"

// MessageInspector inspects the messages of one streaming request as they arrive: the lines of a
// newline-delimited JSON body, the text frames of a WebSocket, the operations sent over a GraphQL
// WebSocket. A request middleware that cannot read such a body ahead (the WAF: a bidi client waits
// for answers before it sends more) puts one in the request's context with WithMessageInspector;
// the front that decodes the messages calls it on each before the message goes anywhere, so the
// fronts need not import the policy that made it.
//
// InspectMessage returns nil to let msg through, or the refusal (a *Denial, or any gRPC status)
// that ends the call: the front renders it as the stream's error and cancels the upstream call,
// which never sees msg. msg is the message as the client sent it (one JSON document) and is valid
// only during the call. An inspector is safe for concurrent use.
type MessageInspector interface {
	InspectMessage(ctx context.Context, msg []byte) error
}

type inspectorKey struct{}

// WithMessageInspector returns ctx carrying in, replacing any inspector ctx carried.
func WithMessageInspector(ctx context.Context, in MessageInspector) context.Context {
	return context.WithValue(ctx, inspectorKey{}, in)
}

// MessageInspectorFrom returns the inspector of ctx's request, or nil when no policy inspects its
// messages (the usual case: a front then pays one context lookup per stream, not per message).
func MessageInspectorFrom(ctx context.Context) MessageInspector {
	in, _ := ctx.Value(inspectorKey{}).(MessageInspector)
	return in
}
