package resolvers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/internal/wsguard"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
	"github.com/protogate/gateway/routing"
)

var serverStream = grpc.StreamDesc{ServerStreams: true}

// subscribe starts the server-streaming call of a subscription and returns the handler gqlgen's
// transports call for each event: every upstream message is one response, its links resolved as in
// a query. The upstream call runs on the subscription's context, so when the client unsubscribes
// (graphql-transport-ws "complete"), closes the socket or drops the SSE connection, the call is
// cancelled; the upstream ending the stream ends the subscription.
func (x *executor) subscribe(ctx context.Context, opCtx *graphql.OperationContext) graphql.ResponseHandler {
	if !streaming(opCtx.Headers) {
		graphql.AddError(ctx, requestError(codeName(codes.InvalidArgument),
			"a subscription needs a streaming transport: Server-Sent Events (Accept: text/event-stream) or WebSocket"))
		return graphql.OneShot(&graphql.Response{Data: []byte("null")})
	}
	op := x.newOperation(ctx, opCtx)
	typeName := rootTypeName(x.s.AST(), opCtx.Operation.Operation)
	fields := op.collect(opCtx.Operation.SelectionSet, nil, typeName)
	if len(fields) != 1 || fields[0].root == nil {
		// Validation has allowed one root field, not __typename, and no @skip or @include to leave
		// it out (singleFieldSubscriptions): this guards the executor all the same.
		graphql.AddError(ctx, requestError(codeName(codes.InvalidArgument), "a subscription selects exactly one field of a method"))
		return graphql.OneShot(&graphql.Response{Data: []byte("null")})
	}
	sf := fields[0]
	rf := sf.root
	failed := func(err error) graphql.ResponseHandler {
		w := op.writer(0)
		w.push(sf.Alias)
		w.fail(&sf, err)
		return graphql.OneShot(&graphql.Response{Data: []byte("null")})
	}
	req, err := op.request(rf.Args, &sf)
	if err != nil {
		return failed(err)
	}
	// The call's span and its metrics, as a query field's call has them; observed reports its end.
	callCtx, observed := callinfo.Start(ctx, "graphql.subscribe", rf.Path)
	up, err := x.caller.Route(callCtx, rf.Path, op.md)
	policy.SetRefusalHeaders(ctx, err)
	admitted(ctx)
	if err != nil {
		observed(asStatus(err))
		return failed(asStatus(err))
	}
	var once sync.Once
	release := func() { once.Do(up.Done) }
	stop := context.AfterFunc(ctx, release)
	end := func() {
		stop()
		release()
	}
	cs, err := up.Conn.NewStream(up.Ctx, &serverStream, rf.Path, x.caller.CallOptions()...)
	if err == nil {
		var f routing.Frame
		f.SetBytes(req)
		if err = cs.SendMsg(&f); err == nil || errors.Is(err, io.EOF) {
			err = cs.CloseSend()
		}
		f.Free()
	}
	if err != nil {
		end()
		observed(asStatus(err))
		return failed(asStatus(err))
	}

	op.finish()
	done := false
	return func(ctx context.Context) *graphql.Response {
		if done {
			return nil
		}
		var f routing.Frame
		err := cs.RecvMsg(&f)
		if err != nil {
			f.Free()
			done = true
			end()
			if errors.Is(err, io.EOF) {
				observed(nil)
				return nil
			}
			err = routing.StreamError(up.Ctx, err) // a stopping gateway's end, said as such
			observed(asStatus(err))
			if ctx.Err() != nil || up.Ctx.Err() != nil && status.Code(err) == codes.Canceled {
				return nil
			}
			// The upstream failed: one last event with the error, then the end.
			op := x.newOperation(ctx, opCtx)
			w := op.writer(16 + len(sf.Alias))
			w.buf = append(w.buf, '{')
			w.member(true, &sf, func() bool {
				w.fail(&sf, asStatus(err))
				return false
			})
			w.buf = append(w.buf, '}')
			return &graphql.Response{Data: w.buf}
		}
		msg := f.Bytes()
		f.Free()
		return x.event(ctx, opCtx, fields, msg)
	}
}

// wsImplementation accepts the GraphQL WebSockets whose origin Handler.ServeHTTP has let through
// (checkOrigin). Its sockets hold every message to the request's JSON limits, its
// graphql-transport-ws connections keep the protocol's operation rules gqlgen does not, every
// socket closes with 1001 when the gateway stops, and with 1012 when its client starts an operation
// after the configuration changed (wsprotocol.go). A frame announcing a message over the read
// limit closes its socket with 1009 at its header (internal/wsguard).
type wsImplementation struct {
	stopping context.Context                              // Options.Stopping
	current  func() bool                                  // Options.Current
	present  func(context.Context, error) *gqlerror.Error // the handler's error presenter
}

func (wi wsImplementation) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	var impl transport.CoderWebsocketImplementation
	impl.AcceptOptions.InsecureSkipVerify = true // the origin check only: checkOrigin has made it
	// frames is nil when w cannot hand over its connection: Accept refuses the handshake (501).
	w, frames := wsguard.Wrap(w)
	c, err := impl.Accept(w, r, o)
	if err != nil {
		return nil, err
	}
	return conformWS(r.Context(), c, wi, frames), nil
}

// checkOrigin refuses a browser's WebSocket handshake from another origin than the gateway's own
// unless the CORS policy allowed it (policy.CrossOriginAllowed): browsers open WebSockets without a
// preflight, so the handshake is where the policy applies. A handshake without Origin is not a
// browser's and passes. It is the check coder/websocket's Accept makes, made before gqlgen's
// transport runs so that a refusal is one GraphQL error, PERMISSION_DENIED, rather than the
// library's text followed by gqlgen's own error.
func checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" || policy.CrossOriginAllowed(r.Context()) {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil {
		return requestError(codeName(codes.PermissionDenied), "WebSocket origin %q is not a URL", origin)
	}
	if u.Host != "" && strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	return requestError(codeName(codes.PermissionDenied),
		"WebSocket from origin %q refused: allow it in policies.cors.allowed_origins", origin)
}

// streaming reports whether a request came through a transport that streams responses: SSE (its
// Accept prefers it: wantsEventStream), or a WebSocket (whose operations carry the headers of the
// upgrade request).
func streaming(h http.Header) bool {
	return h.Get("Upgrade") != "" || wantsEventStream(h.Values("Accept"))
}

// event answers one message of a subscription's stream: its links resolved, then written.
func (x *executor) event(ctx context.Context, opCtx *graphql.OperationContext, fields []selField, msg []byte) *graphql.Response {
	op := x.newOperation(ctx, opCtx)
	sf := &fields[0]
	c := &call{path: sf.root.Path, resp: msg}
	op.walkValue(msg, &sf.root.Result, sf.Selections)
	op.resolveLinks()
	w := op.writer(64 + 2*len(msg))
	w.rootObject(fields, []*call{c}, rootTypeName(x.s.AST(), opCtx.Operation.Operation))
	op.finish()
	return &graphql.Response{Data: w.buf}
}

// singleFieldSubscriptions is gqlparser's SingleFieldSubscriptions rule as the GraphQL
// specification states it (section 5.2.3.1, "Single root field", with graphql-spec#860) and
// graphql-js checks it: the selections at a subscription's top level, collected through fragment
// spreads and inline fragments, must not carry @skip or @include, and the fields among them,
// grouped by response name, must be one entry, not an introspection field. Validation knows no
// variables, so whether such a directive leaves a field out is known only when the operation runs,
// which could then find none or two: without them, the field validation counts is the one that runs.
// gqlparser groups the fields by field name, so two aliases of one field (`a: watchInventory(id:
// "p1") { stock } b: watchInventory(id: "p2") { stock }`, written out or in fragments) passed
// validation and were refused only when the subscription ran; and it lets the directives through.
// The messages are graphql-js's; as there, the directives are reported alone, at each of them.
func singleFieldSubscriptions(observers *core.Events, addError core.AddErrFunc) {
	observers.OnOperation(func(walker *core.Walker, op *ast.OperationDefinition) {
		if walker.Schema.Subscription == nil || op.Operation != ast.Subscription {
			return
		}
		var fields []*ast.Field         // the first field of each response name, in order
		var conditions []*ast.Directive // the @skip and @include at the top level
		names, fragments := make(map[string]bool), make(map[string]bool)
		var collect func(set ast.SelectionSet)
		collect = func(set ast.SelectionSet) {
			for _, sel := range set {
				var directives ast.DirectiveList
				switch s := sel.(type) {
				case *ast.Field:
					directives = s.Directives
					key := s.Alias
					if key == "" {
						key = s.Name
					}
					if !names[key] {
						names[key] = true
						fields = append(fields, s)
					}
				case *ast.InlineFragment:
					directives = s.Directives
					collect(s.SelectionSet)
				case *ast.FragmentSpread:
					directives = s.Directives
					if s.Definition != nil && !fragments[s.Name] {
						fragments[s.Name] = true
						collect(s.Definition.SelectionSet)
					}
				}
				for _, d := range directives {
					if d.Name == "skip" || d.Name == "include" {
						conditions = append(conditions, d)
					}
				}
			}
		}
		collect(op.SelectionSet)
		name := "Anonymous Subscription"
		if op.Name != "" {
			name = "Subscription " + strconv.Quote(op.Name)
		}
		if len(conditions) > 0 {
			options := []core.ErrorOption{core.Message("%s must not use `@skip` or `@include` directives in the top level selection.", name)}
			for _, d := range conditions {
				options = append(options, core.At(d.Position))
			}
			addError(options...)
			return
		}
		if len(fields) > 1 {
			addError(core.Message("%s must select only one top level field.", name), core.At(fields[1].Position))
		}
		for _, f := range fields {
			if strings.HasPrefix(f.Name, "__") {
				addError(core.Message("%s must not select an introspection top level field.", name), core.At(f.Position))
			}
		}
	})
}
