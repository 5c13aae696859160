package resolvers

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/schema"
)

// operation is the state of one executing operation (for a subscription: of one event). Calls run
// in parallel, but everything else — collecting fields, walking results for links, writing the
// response — happens on the goroutine that runs the operation, so none of it needs a lock.
type operation struct {
	x     *executor
	ctx   context.Context // the response context errors are added to; upstream calls use it too
	opCtx *graphql.OperationContext
	md    metadata.MD

	plan    *plan       // what earlier requests collected of this operation; nil if it varies
	sels    []collected // selection sets this operation collected itself
	selsBuf [8]collected

	calls  map[string]*call // link calls by method and request: each is made once
	groups []*batchGroup    // batched links, one group per batch method and key
	tasks  []task           // calls of the next wave
	next   []pending        // link results to walk for links once the next wave is done
	chunks int              // batch calls numbered so far, so each fills only its own keys

	key, val []byte    // scratch for link requests and keys
	arena    []wireRef // the indexes of the messages being walked or written, innermost last
	arenaBuf [32]wireRef

	w writer // the response's writer, once the calls are done
}

func (x *executor) newOperation(ctx context.Context, opCtx *graphql.OperationContext) *operation {
	op := &operation{x: x, ctx: ctx, opCtx: opCtx, md: x.outgoing(ctx, opCtx), plan: x.plans.get(opCtx)}
	op.sels = op.selsBuf[:0]
	op.arena = op.arenaBuf[:0]
	return op
}

// finish publishes what the operation collected for the operations to come.
func (op *operation) finish() {
	if op.plan != nil && len(op.sels) > 0 {
		op.plan.publish(op.sels)
	}
}

// selField is a collected field with what the executor needs of it, looked up once per operation.
type selField struct {
	graphql.CollectedField
	f       *schema.Field     // the object's field; nil for __typename and on root and introspection types
	root    *schema.RootField // the root field; nil elsewhere
	nonNull bool              // the field's type is non-null
}

type collected struct {
	key    collectKey
	fields []selField
}

// collect returns the fields of selection set sel on object obj (nil for root and introspection
// types, named by typ), fragments merged and @skip/@include applied.
func (op *operation) collect(sel ast.SelectionSet, obj *schema.Object, typ string) []selField {
	key := collectKey{ptr: unsafe.SliceData(sel), n: len(sel), obj: obj, typ: typ}
	if op.plan != nil {
		if fields, ok := op.plan.lookup(key); ok {
			return fields
		}
	}
	for i := range op.sels {
		if op.sels[i].key == key {
			return op.sels[i].fields
		}
	}
	cfs := graphql.CollectFields(op.opCtx, sel, []string{typ})
	fields := make([]selField, len(cfs))
	rootOp, isRoot := op.x.roots[typ]
	for i, cf := range cfs {
		sf := selField{CollectedField: cf}
		if cf.Definition != nil {
			sf.nonNull = cf.Definition.Type.NonNull
		}
		switch {
		case obj != nil:
			sf.f = obj.Field(cf.Name)
		case isRoot:
			sf.root = op.x.s.RootField(rootOp, cf.Name)
		}
		fields[i] = sf
	}
	op.sels = append(op.sels, collected{key: key, fields: fields})
	return fields
}

// call is one upstream call of a unary method.
type call struct {
	path string
	req  []byte
	resp []byte
	err  error
}

// task is one call of a wave: a call, or one batch call for some keys of a group.
type task struct {
	c     *call
	g     *batchGroup
	keys  []string
	chunk int
}

// run makes the calls of one wave, in parallel up to the executor's bound; the caller's goroutine
// takes part, so one call starts no goroutine.
func (op *operation) run(tasks []task) {
	switch len(tasks) {
	case 0:
		return
	case 1:
		op.do(tasks[0])
		return
	}
	var next atomic.Int64
	work := func() {
		for {
			i := next.Add(1) - 1
			if i >= int64(len(tasks)) {
				return
			}
			op.do(tasks[i])
		}
	}
	var wg sync.WaitGroup
	for range min(len(tasks), op.x.maxCalls) - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// do makes one call of a wave.
func (op *operation) do(t task) {
	if t.c != nil {
		t.c.resp, t.c.err = op.invoke(t.c.path, t.c.req)
		return
	}
	op.batch(t.g, t.keys, t.chunk)
}

// invoke calls a unary method through the routing core with req, a serialized request, and returns
// the serialized response. Errors are gRPC statuses.
func (op *operation) invoke(path string, req []byte) ([]byte, error) {
	f := op.x.frames.Get().(*frames)
	defer op.x.frames.Put(f)
	f.in.SetBytes(req)
	// Routed, recorded for the endpoint's breaker and outlier detection, and retried as gRPC calls are.
	ctx, end := callinfo.Start(op.ctx, "graphql.resolve", path) // the field's span, when traced
	err := op.x.caller.CallUnary(ctx, path, op.md, &f.in, &f.out)
	end(asStatus(err))
	f.in.Free()
	if err != nil {
		policy.SetRefusalHeaders(op.ctx, err) // a rate limit's Retry-After and RateLimit-*
		f.out.Free()
		return nil, asStatus(err)
	}
	resp := f.out.Bytes()
	f.out.Free()
	return resp, nil
}

// frames are the request and response of one call, pooled: the transport needs them on the heap.
type frames struct{ in, out routing.Frame }

// asStatus makes err a gRPC status error: upstream statuses pass as they are, context errors become
// Canceled or DeadlineExceeded, anything else Unavailable, as the proxy reports them.
func asStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unavailable, "upstream: "+err.Error())
}

// sizeHint guesses the size of the response from the sizes of the root responses.
func (op *operation) sizeHint(roots []*call) int {
	n := 64
	for _, c := range roots {
		if c != nil {
			n += 2 * len(c.resp)
		}
	}
	return min(n, 1<<20)
}
