package resolvers

import (
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/protogate/gateway/schema"
)

// A plan is what the executor keeps of an operation across requests: its selection sets with
// their fields collected (fragments merged, directives applied) and looked up in the schema.
// gqlgen's query cache hands out the same parsed document for the same text, so an operation that
// repeats finds its fields collected already, and collecting costs nothing on the request path.
// Operations whose @skip or @include depend on variables collect per request instead.
type plan struct {
	// sets grows copy-on-write: readers load it without a lock; an operation that collected new
	// sets publishes a merged copy when it is done.
	sets atomic.Pointer[map[collectKey][]selField]
}

// collectKey identifies a selection set on a type.
type collectKey struct {
	ptr *ast.Selection
	n   int
	obj *schema.Object
	typ string
}

// plans holds the plans of recent operations. It is bounded: past maxPlans it starts over.
type plans struct {
	m sync.Map // *ast.OperationDefinition -> *plan (nil: the operation is not cacheable)
	n atomic.Int64
}

const maxPlans = 2048

// get returns the plan of the operation of opCtx, or nil when its collection depends on variables.
func (p *plans) get(opCtx *graphql.OperationContext) *plan {
	if v, ok := p.m.Load(opCtx.Operation); ok {
		return v.(*plan)
	}
	var pl *plan
	if !variableDirectives(opCtx.Doc) {
		pl = &plan{}
	}
	if p.n.Add(1) > maxPlans {
		p.m.Clear()
		p.n.Store(1)
	}
	v, _ := p.m.LoadOrStore(opCtx.Operation, pl)
	return v.(*plan)
}

// lookup returns the collected fields of key, if the plan has them.
func (pl *plan) lookup(key collectKey) ([]selField, bool) {
	m := pl.sets.Load()
	if m == nil {
		return nil, false
	}
	f, ok := (*m)[key]
	return f, ok
}

// publish adds the sets an operation collected to the plan. When another operation publishes at
// the same time one of them loses its additions; a later operation adds them again.
func (pl *plan) publish(sets []collected) {
	old := pl.sets.Load()
	n := len(sets)
	if old != nil {
		n += len(*old)
	}
	m := make(map[collectKey][]selField, n)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	for _, c := range sets {
		m[c.key] = c.fields
	}
	pl.sets.CompareAndSwap(old, &m)
}

// variableDirectives reports whether a document has @skip or @include with a variable argument:
// then which fields an operation selects depends on the request.
func variableDirectives(doc *ast.QueryDocument) bool {
	var walk func(set ast.SelectionSet) bool
	check := func(ds ast.DirectiveList) bool {
		for _, d := range ds {
			if d.Name != "skip" && d.Name != "include" {
				continue
			}
			for _, a := range d.Arguments {
				if a.Value != nil && a.Value.Kind == ast.Variable {
					return true
				}
			}
		}
		return false
	}
	walk = func(set ast.SelectionSet) bool {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if check(s.Directives) || walk(s.SelectionSet) {
					return true
				}
			case *ast.InlineFragment:
				if check(s.Directives) || walk(s.SelectionSet) {
					return true
				}
			case *ast.FragmentSpread:
				if check(s.Directives) {
					return true
				}
			}
		}
		return false
	}
	for _, op := range doc.Operations {
		if walk(op.SelectionSet) {
			return true
		}
	}
	for _, f := range doc.Fragments {
		if walk(f.SelectionSet) {
			return true
		}
	}
	return false
}
