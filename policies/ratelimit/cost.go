package ratelimit

import (
	"context"
	"sync"

	"github.com/protogate/gateway/policies/policy"
)

// operation is the price of one GraphQL operation and what each rate limit made of it.
type operation struct {
	cost int64

	mu      sync.Mutex
	charged []charge // one per rate-limit Step the operation's calls went through
}

type charge struct {
	step *rateStep
	err  error // the decision: nil when the operation paid
}

type operationKey struct{}

// WithOperationCost prices the GraphQL operation that ctx carries at complexity (at least 1): the
// GraphQL front calls it once per operation (resolvers.Options.OnOperation) and runs the operation's
// calls under the context it returns. The first call of the operation that a rule's rate limit
// applies to takes the whole complexity from the rule's bucket; the operation's later calls under
// that rule get the same decision without taking again. So an operation costs its complexity once
// per rule, however many calls it fans out to, and a refused operation is refused on every field the
// rule guards while the rest of the query still resolves.
func WithOperationCost(ctx context.Context, complexity int) context.Context {
	return context.WithValue(ctx, operationKey{}, &operation{cost: int64(max(complexity, 1))})
}

func operationFrom(ctx context.Context) *operation {
	if ctx == nil {
		return nil
	}
	op, _ := ctx.Value(operationKey{}).(*operation)
	return op
}

// admit decides c, a call of the operation, under rate limit s.
func (op *operation) admit(s *rateStep, c *policy.Call) error {
	op.mu.Lock()
	defer op.mu.Unlock()
	for _, ch := range op.charged {
		if ch.step == s {
			return ch.err
		}
	}
	err := s.take(c, op.cost)
	op.charged = append(op.charged, charge{step: s, err: err})
	return err
}
