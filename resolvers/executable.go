package resolvers

import (
	"context"
	"log/slog"
	"net/textproto"
	"slices"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/protogate/gateway/schema"
)

// executor is the graphql.ExecutableSchema gqlgen's server runs: the schema, the caller, and what
// NewHandler precomputed from them. It is immutable once built and shared by all operations.
type executor struct {
	s      *schema.Schema
	caller Caller
	types  Types
	log    *slog.Logger
	// suggest lets error messages name what the schema has that the client did not ask for (the
	// values of an enum): not when introspection is off.
	suggest bool

	maxCalls     int
	maxBatchKeys int
	forward      []string // lower-case metadata keys of forwarded headers
	forwardCanon []string // the same, as canonical HTTP header names

	// hasLinks marks the objects below which (through message fields, not links) a link field
	// may be selected: only their values are walked for links between waves.
	hasLinks map[*schema.Object]bool
	// roots maps the root type names ("Query") to their operation.
	roots  map[string]ast.Operation
	plans  plans
	frames sync.Pool // *frames
}

// maxBatchKeys is how many keys one call of a batch method carries; more keys make more calls,
// made in parallel.
const maxBatchKeys = 500

func newExecutor(s *schema.Schema, c Caller, opts Options) *executor {
	x := &executor{
		s:            s,
		caller:       c,
		types:        opts.Types,
		log:          opts.Logger,
		suggest:      !opts.DisableIntrospection,
		maxCalls:     limit(opts.MaxConcurrentCalls, DefaultMaxConcurrentCalls),
		maxBatchKeys: maxBatchKeys,
		roots:        make(map[string]ast.Operation, 3),
	}
	if x.types == nil {
		x.types = protoregistry.GlobalTypes
	}
	if x.log == nil {
		x.log = slog.Default()
	}
	if x.maxCalls == 0 {
		x.maxCalls = 1 << 20
	}
	for _, h := range append(slices.Clone(DefaultForwardHeaders), opts.ForwardHeaders...) {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" || slices.Contains(x.forward, h) {
			continue
		}
		x.forward = append(x.forward, h)
		x.forwardCanon = append(x.forwardCanon, textproto.CanonicalMIMEHeaderKey(h))
	}
	a := s.AST()
	for _, op := range [...]ast.Operation{ast.Query, ast.Mutation, ast.Subscription} {
		if def := rootDef(a, op); def != nil {
			x.roots[def.Name] = op
		}
	}
	x.hasLinks = linkReach(s)
	x.frames.New = func() any { return new(frames) }
	return x
}

// linkReach finds, among the objects reachable from the root fields, those with a link field on
// them or below them through message fields.
func linkReach(s *schema.Schema) map[*schema.Object]bool {
	var all []*schema.Object
	seen := make(map[*schema.Object]bool)
	var visit func(o *schema.Object)
	visit = func(o *schema.Object) {
		if o == nil || seen[o] {
			return
		}
		seen[o] = true
		all = append(all, o)
		for _, f := range o.Fields {
			visit(f.Object)
		}
	}
	for _, op := range [...]ast.Operation{ast.Query, ast.Mutation, ast.Subscription} {
		for _, rf := range s.RootFields(op) {
			visit(rf.Result.Object)
		}
	}
	has := make(map[*schema.Object]bool)
	for _, o := range all {
		for _, f := range o.Fields {
			if f.Link != nil {
				has[o] = true
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for _, o := range all {
			if has[o] {
				continue
			}
			for _, f := range o.Fields {
				if f.Link == nil && f.Object != nil && has[f.Object] {
					has[o], changed = true, true
					break
				}
			}
		}
	}
	return has
}

// Schema returns the schema gqlgen validates documents against.
func (x *executor) Schema() *ast.Schema { return x.s.AST() }

// Cost of a field that calls a method, in the complexity limit.
const callCost = CallComplexity

// Complexity prices a field for gqlgen's complexity limit: a root field or link, which calls a
// method, costs callCost, any other field 1, each plus what its selections cost.
func (x *executor) Complexity(_ context.Context, typeName, fieldName string, childComplexity int, _ map[string]any) (int, bool) {
	if op, ok := x.roots[typeName]; ok {
		if x.s.RootField(op, fieldName) != nil {
			return callCost + childComplexity, true
		}
		return 1 + childComplexity, true
	}
	if o := x.s.ObjectType(typeName); o != nil {
		if f := o.Field(fieldName); f != nil && f.Link != nil {
			return callCost + childComplexity, true
		}
	}
	return 1 + childComplexity, true
}

// Exec runs the operation of ctx. A query or mutation answers once; a subscription answers once per
// message of its upstream stream, until the stream or the client ends.
func (x *executor) Exec(ctx context.Context) graphql.ResponseHandler {
	opCtx := graphql.GetOperationContext(ctx)
	if opCtx.Operation.Operation == ast.Subscription {
		return x.subscribe(ctx, opCtx)
	}
	ran := false
	return func(ctx context.Context) *graphql.Response {
		if ran {
			return nil
		}
		ran = true
		return x.execute(ctx, opCtx)
	}
}

// execute runs a query or mutation: the root fields' calls (in parallel for a query, in order for a
// mutation, as GraphQL requires), then the links, wave by wave, then the response is written.
func (x *executor) execute(ctx context.Context, opCtx *graphql.OperationContext) *graphql.Response {
	op := x.newOperation(ctx, opCtx)
	typeName := rootTypeName(x.s.AST(), opCtx.Operation.Operation)
	fields := op.collect(opCtx.Operation.SelectionSet, nil, typeName)
	roots := make([]*call, len(fields))
	var tasks []task
	for i := range fields {
		sf := &fields[i]
		rf := sf.root
		if rf == nil {
			continue
		}
		req, err := op.request(rf.Args, sf)
		c := &call{path: rf.Path, req: req, err: err}
		if opCtx.Operation.Operation == ast.Query && err == nil {
			if prev := sameCall(roots[:i], c); prev != nil {
				roots[i] = prev
				continue
			}
		}
		roots[i] = c
		if err == nil {
			tasks = append(tasks, task{c: c})
		}
	}
	if opCtx.Operation.Operation == ast.Mutation {
		for _, t := range tasks {
			op.do(t)
		}
	} else {
		op.run(tasks)
	}
	for i := range fields {
		if c := roots[i]; c != nil && c.err == nil {
			op.walkValue(c.resp, &fields[i].root.Result, fields[i].Selections)
		}
	}
	op.resolveLinks()

	w := op.writer(op.sizeHint(roots))
	w.rootObject(fields, roots, typeName)
	op.finish()
	return &graphql.Response{Data: w.buf}
}

// sameCall returns the call among prev with c's method and request, or nil.
func sameCall(prev []*call, c *call) *call {
	for _, p := range prev {
		if p != nil && p.err == nil && p.path == c.path && string(p.req) == string(c.req) {
			return p
		}
	}
	return nil
}

// rootDef returns the root type of operation type op, or nil.
func rootDef(a *ast.Schema, op ast.Operation) *ast.Definition {
	switch op {
	case ast.Query:
		return a.Query
	case ast.Mutation:
		return a.Mutation
	case ast.Subscription:
		return a.Subscription
	}
	return nil
}

func rootTypeName(a *ast.Schema, op ast.Operation) string {
	if def := rootDef(a, op); def != nil {
		return def.Name
	}
	return a.Query.Name
}
