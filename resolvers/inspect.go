package resolvers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/policies/policy"
)

// messageInspection is the extension that shows each operation sent over a WebSocket to the
// request's message inspector (policy.MessageInspector, the WAF's), before anything else reads it
// (persisted operations, APQ, parsing). The WAF inspects a POST's body, SSE subscriptions included,
// and a GET's variables itself, and puts an inspector in the context of WebSocket upgrades only, so
// no operation is inspected twice and the others pay one context lookup. The operation is shown as
// the JSON body a POST would carry, so the same rules fire on the same argument names
// (json.query, json.variables.id). A refusal answers the operation with the transport's "error"
// message (graphql-transport-ws; graphql-ws alike) carrying the denial as any error is presented:
// extensions.code PERMISSION_DENIED and the ErrorInfo in extensions.details.
type messageInspection struct {
	present func(ctx context.Context, err error) *gqlerror.Error
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = messageInspection{}

func (messageInspection) ExtensionName() string { return "MessageInspection" }

func (messageInspection) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters inspects the operation when the request carries an inspector.
func (m messageInspection) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	in := policy.MessageInspectorFrom(ctx)
	if in == nil {
		return nil
	}
	body, err := operationJSON(p)
	if err != nil {
		return m.present(ctx, status.Errorf(codes.InvalidArgument, "the operation's variables do not encode as JSON: %v", err))
	}
	if err := in.InspectMessage(ctx, body); err != nil {
		return m.present(ctx, err)
	}
	return nil
}

// operationJSON is an operation's parameters as a GraphQL POST's body carries them.
func operationJSON(p *graphql.RawParams) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the inspector sees the client's text, not \u003c for "<"
	err := enc.Encode(struct {
		Query         string         `json:"query"`
		OperationName string         `json:"operationName,omitempty"`
		Variables     map[string]any `json:"variables,omitempty"`
		Extensions    map[string]any `json:"extensions,omitempty"`
	}{p.Query, p.OperationName, p.Variables, p.Extensions})
	return b.Bytes(), err
}

// registerRefusalKind tells gqlgen that the codes of the refusals made before an operation runs are
// request errors rather than results, as a document that does not validate is: PERMISSION_DENIED
// (only messageInspection refuses an operation with it before it is parsed), the document's
// limits, and the refusals of operations that are not allowed or not known. The WebSocket transport
// then answers with an "error" message instead of "next" and "complete", and a request that asked
// for application/graphql-response+json gets 400, as the GraphQL-over-HTTP specification says of
// a request that is not executed. gqlgen keeps error kinds in a process-wide table that its
// transports read (errcode.RegisterErrorType, its API for extensions): it is written once, by the
// first NewHandler, before any handler of this package serves.
var registerRefusalKind = sync.OnceFunc(func() {
	for _, code := range []string{codeName(codes.PermissionDenied), CodeDepthLimit, CodeAliasLimit, CodeRootFieldLimit,
		CodeFieldLimit, CodeFragmentLimit, CodeDocumentTooLarge, CodeIntrospectionDisabled, CodeOperationNotAllowed, CodeComplexityLimit,
		"PERSISTED_QUERY_NOT_FOUND", "PERSISTED_QUERY_NOT_SUPPORTED"} {
		errcode.RegisterErrorType(code, errcode.KindProtocol)
	}
})

// connectionInit is the WebSocket transport's InitFunc. The connection_init payload stands in for
// the headers browsers cannot set on a WebSocket's upgrade: it is shown to the firewall
// (inspectInit) and, once accepted, its headers (initHeader) are what the connection's operations
// run with. Those on the forwarded list go upstream (executor.outgoing); the policies read the
// others, such as an API key's header, as they read the upgrade's (policy.WithInitHeader), without
// passing them upstream, as over HTTP.
func connectionInit(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	ctx, ack, err := inspectInit(ctx, p)
	if err != nil || len(p) == 0 {
		return ctx, ack, err
	}
	h := initHeader(p)
	return policy.WithInitHeader(context.WithValue(ctx, initHeaderKey{}, h), h), ack, nil
}

// inspectInit shows a WebSocket's connection_init payload to the request's message inspector (the
// WAF's), when it has one: the payload's values stand in for the upgrade request's headers
// (connectionInit), and those the WAF inspects. It is
// shown as a JSON body of the payload's keys (json.authorization, json.headers.x-request-id). A
// refusal ends the connection before it is acknowledged: close code 4403 (Forbidden).
func inspectInit(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	in := policy.MessageInspectorFrom(ctx)
	if in == nil || len(p) == 0 {
		return ctx, nil, nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the inspector sees the client's text
	if err := enc.Encode(map[string]any(p)); err != nil {
		return ctx, nil, fmt.Errorf("the connection_init payload does not encode as JSON: %w", err)
	}
	if err := in.InspectMessage(ctx, b.Bytes()); err != nil {
		// graphql-transport-ws closes with 4403 Forbidden; a close reason holds at most 123 bytes,
		// so it names the refusal and the legacy protocol's connection_error carries the message.
		ctx = transport.WithWebsocketCloseCode(ctx, 4403)
		ctx = transport.AppendCloseReason(ctx, "connection_init refused by the web application firewall")
		if st, ok := status.FromError(err); ok {
			err = errors.New(st.Message())
		}
		return ctx, nil, err
	}
	return ctx, nil, nil
}
