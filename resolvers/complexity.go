package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// complexityLimit is gqlgen's extension.FixedComplexityLimit measured without argument maps: the
// same walk as complexity.Calculate (each field priced by executor.Complexity, interface fields at
// their dearest implementation, fragments counted where spread, introspection's __schema and
// Query.__type free), but executor.Complexity ignores arguments, so the map of each field's
// arguments gqlgen builds (and allocates) for it is never made. It answers with gqlgen's error
// (COMPLEXITY_LIMIT_EXCEEDED, same text) with the extensions of the front's other limits (limit,
// max, actual), and records extension.ComplexityStats where extension.GetComplexityStats finds
// them.
type complexityLimit struct {
	x      *executor
	limit  int
	schema *ast.Schema
	query  string // the Query type's name: its __type field is free
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = (*complexityLimit)(nil)

// ExtensionName is gqlgen's: the stats are stored under it.
func (*complexityLimit) ExtensionName() string                   { return "ComplexityLimit" }
func (*complexityLimit) Validate(graphql.ExecutableSchema) error { return nil }

func newComplexityLimit(x *executor, limit int) *complexityLimit {
	s := x.Schema()
	q := ""
	if s.Query != nil {
		q = s.Query.Name
	}
	return &complexityLimit{x: x, limit: limit, schema: s, query: q}
}

// MutateOperationContext measures the operation and refuses it over the limit.
func (c *complexityLimit) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	op := opCtx.Operation
	if op == nil {
		op = opCtx.Doc.Operations.ForName(opCtx.OperationName)
	}
	n := 0
	if op != nil {
		n = c.selections(ctx, op.SelectionSet)
	}
	opCtx.Stats.SetExtension(c.ExtensionName(), &extension.ComplexityStats{Complexity: n, ComplexityLimit: c.limit})
	if n > c.limit {
		err := gqlerror.Errorf("operation has complexity %d, which exceeds the limit of %d (%s)", n, c.limit, limitSettings["complexity"])
		err.Extensions = map[string]any{"code": CodeComplexityLimit, "limit": "complexity", "max": c.limit, "actual": n}
		return err
	}
	return nil
}

func (c *complexityLimit) selections(ctx context.Context, set ast.SelectionSet) int {
	total := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			def := c.schema.Types[s.Definition.Type.Name()]
			if def.Name == "__Schema" || (s.Name == "__type" && s.ObjectDefinition.Name == c.query) {
				continue
			}
			child := 0
			switch def.Kind {
			case ast.Object, ast.Interface, ast.Union:
				child = c.selections(ctx, s.SelectionSet)
			}
			n := 0
			if s.ObjectDefinition.Kind == ast.Interface {
				for _, t := range c.schema.GetPossibleTypes(s.ObjectDefinition) {
					n = max(n, c.field(ctx, t.Name, s.Name, child))
				}
			} else {
				n = c.field(ctx, s.ObjectDefinition.Name, s.Name, child)
			}
			total = saturate(total, n)
		case *ast.FragmentSpread:
			total = saturate(total, c.selections(ctx, s.Definition.SelectionSet))
		case *ast.InlineFragment:
			total = saturate(total, c.selections(ctx, s.SelectionSet))
		}
	}
	return total
}

func (c *complexityLimit) field(ctx context.Context, typeName, field string, child int) int {
	if n, ok := c.x.Complexity(ctx, typeName, field, child, nil); ok && n >= 1 {
		return n
	}
	return saturate(1, child)
}
