package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/policies/ratelimit"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/resolvers"
	"github.com/protogate/gateway/transcoder"
)

// graphqlFront builds the GraphQL front of each snapshot. gqlgen caches validated documents per
// handler, so each snapshot gets a handler of its own (built when the snapshot is published, off the
// request path), which its fronts serve /graphql with (fronts.gql), behind its request policies.
// Subscriptions stay on the handler they started on; a WebSocket runs no new operation once its
// fronts are no longer the current ones (resolvers.Options.Current): it closes with 1012.
type graphqlFront struct {
	opts     resolvers.Options
	stopping context.Context         // done when the gateway starts its drain (Server.leaving)
	serving  *atomic.Pointer[fronts] // the server's current fronts
}

// graphqlState is the GraphQL front of one snapshot; it serves /graphql and the REST routes of
// persisted operations.
type graphqlState struct {
	snap    *registry.Snapshot
	sdl     []byte // nil when introspection is off: the schema is not served
	handler *resolvers.Handler
	err     error // why this snapshot has no GraphQL API
}

// errSchemaNotServed is the answer to /graphql/schema.graphql while introspection is off: the SDL
// would tell what introspection refuses to.
const errSchemaNotServed = "the GraphQL schema is not served: graphql.introspection is off"

// noGraphQL serves before the first snapshot is published.
var noGraphQL = &graphqlState{err: status.Error(codes.Unavailable, "no snapshot is serving yet")}

// build builds the GraphQL front of snap. It has a state even when it fails: one that answers with
// the reason.
func (f *graphqlFront) build(snap *registry.Snapshot, caller resolvers.Caller) (*graphqlState, error) {
	st := &graphqlState{snap: snap}
	sch := snap.GraphQL()
	if sch == nil {
		st.err = status.Error(codes.Unavailable, "no GraphQL schema: nothing is registered")
		return st, nil
	}
	opts := frontOptions(f.opts, snap.GraphQLFront())
	// The headers the snapshot's routes match on and its clusters hash go upstream too, so that a
	// header-matched route or a ring_hash cluster decides over GraphQL as it does over gRPC.
	opts.ForwardHeaders = append(slices.Clone(opts.ForwardHeaders), snap.RouteHeaders()...)
	opts.Types = snap.DynamicTypes()
	opts.OnOperation = operationCost
	opts.Stopping = f.stopping // WebSockets close with 1001 once nothing runs on them
	// A WebSocket upgraded through this snapshot's fronts holds its handler and the policies that
	// wrap it (the JSON limits and the firewall its messages meet) for as long as it is open: once
	// another snapshot's fronts serve, it runs no new operation. Every snapshot gets both anew (a
	// handler here, a policy set in registry.Compile), so the fronts' state is what to compare.
	serving := f.serving
	opts.Current = func() bool {
		cur := serving.Load()
		return cur != nil && cur.gql == st
	}
	h, err := resolvers.NewHandler(sch, caller, opts)
	if err != nil {
		st.err = status.Errorf(codes.Internal, "GraphQL API unavailable: %v", err)
		return st, fmt.Errorf("graphql: %w", err)
	}
	if !opts.DisableIntrospection { // the SDL is the schema introspection would give
		st.sdl = []byte(sch.SDL())
	}
	st.handler = h
	return st, nil
}

// operationCost prices a GraphQL operation for the rate limits: its complexity in method calls
// (each call weighs resolvers.CallComplexity, other fields 1), at least 1. A query of one method call
// costs what the same call over REST or gRPC costs; one that fans out to many calls, or selects
// hundreds of fields, costs accordingly.
func operationCost(ctx context.Context, complexity int) context.Context {
	return ratelimit.WithOperationCost(ctx, complexity/resolvers.CallComplexity)
}

// frontOptions are the options of a snapshot's GraphQL front: those of its spec (from the config
// file, the query page among them) when it sets any, else the server's (WithGraphQL). The logger
// and the forwarded headers are the server's in either case.
func frontOptions(server, spec resolvers.Options) resolvers.Options {
	if reflect.ValueOf(spec).IsZero() {
		return server
	}
	if spec.Logger == nil {
		spec.Logger = server.Logger
	}
	spec.ForwardHeaders = append(slices.Clone(server.ForwardHeaders), spec.ForwardHeaders...)
	return spec
}

// hasRoute reports whether r is for a REST route bound to a persisted operation of st's snapshot,
// which ServeHTTP serves: a route that takes r's method, or a route's path with another method that
// no REST binding serves either, which is answered 405 (serveRoute).
func (st *graphqlState) hasRoute(r *http.Request) bool {
	if st.handler == nil {
		return false
	}
	if st.handler.HasRoute(r.Method, r.URL.Path) {
		return true
	}
	if st.handler.RouteMethods(r.URL.Path) == nil {
		return false
	}
	_, err := restMatch(st.snap, r)
	return err != nil
}

// restMatch is the REST front's binding of r in snap, or its error (transcoder.Router.MatchCall).
func restMatch(snap *registry.Snapshot, r *http.Request) (*transcoder.Binding, error) {
	rt := snap.REST()
	if rt == nil {
		return nil, transcoder.NewError(codes.NotFound, "no REST routes")
	}
	var p transcoder.Params
	return rt.MatchCall(r, &p)
}

// serveRoute serves r, for a REST route of a persisted operation. On a route's path, a method no
// route takes is 405, as the REST front answers it: the Allow header names the methods the routes
// take, and those the REST front's bindings serve on the path.
func (st *graphqlState) serveRoute(w http.ResponseWriter, r *http.Request) {
	if !st.handler.HasRoute(r.Method, r.URL.Path) {
		if allow := st.handler.RouteMethods(r.URL.Path); allow != nil {
			var e *transcoder.Error
			if _, err := restMatch(st.snap, r); errors.As(err, &e) {
				allow = append(allow, e.Allowed()...)
			}
			transcoder.WriteError(w, transcoder.MethodNotAllowed(r.Method, r.URL.Path, allow...))
			return
		}
	}
	if !st.handler.ServeRoute(w, r) { // not after hasRoute, which asked the same handler
		transcoder.WriteError(w, status.Errorf(codes.NotFound, "no route for %s %s", r.Method, r.URL.Path))
	}
}

// ServeHTTP serves /graphql, and the REST routes of persisted operations, with st's snapshot.
func (st *graphqlState) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case st.err != nil:
		if isGraphQL(r) {
			transcoder.WriteGraphQLError(w, st.err)
		} else {
			transcoder.WriteError(w, st.err)
		}
	case r.URL.Path == "/graphql/schema.graphql":
		if st.sdl == nil {
			transcoder.WriteError(w, transcoder.NewError(codes.NotFound, errSchemaNotServed))
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(st.sdl)
	case !isGraphQL(r):
		st.serveRoute(w, r) // a REST route of a persisted operation
	default:
		st.handler.ServeHTTP(w, r)
	}
}
