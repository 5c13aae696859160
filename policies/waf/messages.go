package waf

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/corazawaf/coraza/v3/types"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
	"github.com/protogate/gateway/transcoder"
)

// Streamed messages. The body of a streaming request cannot be read ahead: a bidi client waits for
// answers before it sends more, and a WebSocket's frames come after the upgrade the middleware sees.
// So when such a request passes, the middleware puts a policy.MessageInspector in its context, and
// the front calls it on each message it decodes: each line of an NDJSON body, each text frame of a
// REST WebSocket, each operation sent over a GraphQL WebSocket (as the JSON a GraphQL POST would
// carry: query, operationName, variables, extensions). Binary WebSocket frames are protobuf, which
// the rules cannot read: the transcoder passes them on uninspected, as gRPC bodies are.
//
// A message is inspected as a one-message JSON body would be: one transaction with the request's
// connection, request line and headers (Content-Type made application/json, so Coraza's JSON body
// processor names its arguments json.field as for a POST), then the message as the body, a GraphQL
// operation's document with its string literals unescaped as a POST's (graphql.go). A message
// the rules block in blocking mode is refused with the request's denial (403 PERMISSION_DENIED,
// ErrorInfo WAF_BLOCKED with the rule ids), which ends the call; in detection mode it passes. Either
// way a message that matched is logged once, like a request, with its number in the stream.

// withMessages returns r, which calls b (or nil), with an inspector of its messages in its context
// when r streams them (an NDJSON body, a WebSocket); otherwise r itself, at no cost.
func (f *Firewall) withMessages(r *http.Request, front policy.Front, b *transcoder.Binding, blocking, ndjson bool) *http.Request {
	if !ndjson && !isWebSocket(r) {
		return r
	}
	m := &messages{f: f, head: headOf(r, front), binding: b, blocking: blocking}
	// The head outlives the request's handler chain: keep a copy of the headers, which inner
	// handlers may change while messages are inspected on other goroutines.
	m.head.header = r.Header.Clone()
	if m.head.header.Get("Content-Type") != "" {
		m.head.header.Set("Content-Type", "application/json")
	}
	return r.WithContext(policy.WithMessageInspector(r.Context(), m))
}

// messages inspects the messages of one streaming request (see withMessages). It is safe for
// concurrent use: a GraphQL WebSocket runs its operations concurrently.
type messages struct {
	f        *Firewall
	head     head
	binding  *transcoder.Binding // the REST binding the request calls, or nil, for the log
	blocking bool
	n        atomic.Int64 // messages inspected so far, to number them in the log
}

var _ policy.MessageInspector = (*messages)(nil)

// InspectMessage runs one transaction over msg, a JSON document; it returns the denial of a message
// blocked in blocking mode, else nil.
func (m *messages) InspectMessage(ctx context.Context, msg []byte) error {
	n := m.n.Add(1)
	tx := m.f.waf.NewTransaction()
	defer func() {
		tx.ProcessLogging()
		_ = tx.Close()
	}()
	it, err := m.inspect(tx, msg)
	if err != nil {
		return fmt.Errorf("waf: inspecting message %d: %w", n, err)
	}
	if it == nil {
		return nil
	}
	ids, msgs, vars := matched(tx.MatchedRules(), it)
	action := "detected"
	if m.blocking {
		action = "blocked"
	}
	route, rpc := routeAttrs(m.binding)
	m.f.log.WarnContext(ctx, "waf: message matched rules", "action", action, "front", string(m.head.front),
		"method", m.head.method, route, rpc, "message", n, "rules", ids, "messages", msgs, "variables", vars)
	if !m.blocking {
		return nil
	}
	reason, err := denial(it, ids, msgs)
	callinfo.From(ctx).Deny(callinfo.Denial{Policy: "waf", Reason: reason, Code: uint32(status.Code(err))})
	return err
}

// inspect runs the request phases over the head and msg as the body.
func (m *messages) inspect(tx types.Transaction, msg []byte) (*types.Interruption, error) {
	if it := m.head.process(tx); it != nil {
		return it, nil
	}
	if int64(len(msg)) > m.f.bodyLimit {
		return bodyTooLarge, nil
	}
	if tx.IsRequestBodyAccessible() {
		if it, _, err := tx.WriteRequestBody(msg); it != nil || err != nil {
			return it, err
		}
		if m.head.front == policy.FrontGraphQL {
			addBodyLiterals(msg, tx.AddPostRequestArgument)
		}
	}
	return tx.ProcessRequestBody()
}

// isWebSocket reports whether r asks for a WebSocket (Upgrade: websocket): its messages are frames
// that come after the upgrade. A request without Upgrade pays one map lookup.
func isWebSocket(r *http.Request) bool {
	for _, v := range r.Header["Upgrade"] {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "websocket") {
				return true
			}
		}
	}
	return false
}
