package server

import (
	"fmt"
	"net/http"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/resolvers"
	"github.com/protogate/gateway/transcoder"
)

// graphqlFront serves /graphql with the handler of the current snapshot. gqlgen caches validated
// documents per handler, so each snapshot gets a handler of its own (built when the snapshot is
// published, off the request path); subscriptions stay on the handler they started on.
type graphqlFront struct {
	opts resolvers.Options
	cur  atomic.Pointer[graphqlState]
}

type graphqlState struct {
	snap    *registry.Snapshot
	sdl     []byte
	handler http.Handler
	err     error // why this snapshot has no GraphQL API
}

// publish builds the GraphQL handler of snap.
func (f *graphqlFront) publish(snap *registry.Snapshot, caller resolvers.Caller) error {
	st := &graphqlState{snap: snap}
	defer f.cur.Store(st)
	sch := snap.GraphQL()
	if sch == nil {
		st.err = status.Error(codes.Unavailable, "no GraphQL schema: nothing is registered")
		return nil
	}
	opts := f.opts
	opts.Types = snap.DynamicTypes()
	h, err := resolvers.NewHandler(sch, caller, opts)
	if err != nil {
		st.err = status.Errorf(codes.Internal, "GraphQL API unavailable: %v", err)
		return fmt.Errorf("graphql: %w", err)
	}
	st.sdl = []byte(sch.SDL())
	st.handler = h
	return nil
}

func (f *graphqlFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := f.cur.Load()
	switch {
	case st == nil:
		transcoder.WriteError(w, status.Error(codes.Unavailable, "no snapshot is serving yet"))
	case st.err != nil:
		transcoder.WriteError(w, st.err)
	case r.URL.Path == "/graphql/schema.graphql":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(st.sdl)
	default:
		st.handler.ServeHTTP(w, r)
	}
}
