package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
)

// CallComplexity is what a field that calls a method (a root field or a link) adds to an operation's
// complexity, besides its selections; any other field adds 1. Dividing a complexity by it prices
// an operation in method calls.
const CallComplexity = 10

// operationCost is the extension behind Options.OnOperation: once per operation, after validation
// and the limits, it hands the operation's complexity to the hook and runs the operation under the
// context the hook returns, so every upstream call of the operation carries what the hook put there
// (the rate limiter's price of the operation).
type operationCost struct {
	hook func(ctx context.Context, complexity int) context.Context
	opts []complexity.Option
	es   graphql.ExecutableSchema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = (*operationCost)(nil)

func (*operationCost) ExtensionName() string { return "OperationCost" }

func (c *operationCost) Validate(es graphql.ExecutableSchema) error {
	c.es = es
	return nil
}

// InterceptOperation prices the operation: the complexity the complexity limit measured, or, when
// that limit is off, the same measure taken here.
func (c *operationCost) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	n := 0
	if st := extension.GetComplexityStats(ctx); st != nil {
		n = st.Complexity
	} else if opCtx := graphql.GetOperationContext(ctx); opCtx != nil && opCtx.Operation != nil {
		n = complexity.Calculate(ctx, c.es, opCtx.Operation, opCtx.Variables, c.opts...)
	}
	return next(c.hook(ctx, n))
}
