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

// charge is what one rate limit made of the operation.
type charge struct {
	step  *rateStep
	calls int64 // the operation's calls the rule admitted so far
	err   error // the decision on the operation's price: nil when it paid
}

type operationKey struct{}

// WithOperationCost prices the GraphQL operation that ctx carries at complexity (at least 1): the
// GraphQL front calls it once per operation (resolvers.Options.OnOperation) and runs the operation's
// calls under the context it returns. The first call of the operation that a rule's rate limit
// applies to takes the whole complexity from the rule's bucket, which pays for that many calls
// under the rule; the operation's later calls get the same decision without taking again, until
// they outnumber what it paid for. Calls beyond that (a link under a list fans out to one call per
// element, which the complexity, counted on the document, cannot know) each take one token, as the
// same call over REST or gRPC would. A call of policy.Call.Cost n (a link batch, one call of its
// method per key) counts as n calls. So an operation costs its complexity per rule, or its calls
// under the rule if they are more, and a refused call is refused on its field while the rest of the
// query still resolves.
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

// admit decides c, a call of the operation, under rate limit s. c counts as c.Cost calls (a
// GraphQL link batch's calls of its method): those beyond what the operation paid for take one
// token each, in one decision, so the batch is admitted or refused whole.
func (op *operation) admit(s *rateStep, c *policy.Call) error {
	n := int64(max(c.Cost, 1))
	op.mu.Lock()
	var ch *charge
	for i := range op.charged {
		if op.charged[i].step == s {
			ch = &op.charged[i]
			break
		}
	}
	if ch == nil {
		// The rule's first call takes the price under the lock, so that the operation's calls
		// running alongside it wait for the one decision rather than each taking.
		err := s.take(c, op.cost)
		op.charged = append(op.charged, charge{step: s, err: err})
		ch = &op.charged[len(op.charged)-1]
	}
	if ch.err != nil {
		op.mu.Unlock()
		return ch.err
	}
	paid := max(ch.calls, op.cost)
	ch.calls += n
	over := ch.calls - paid
	op.mu.Unlock()
	if over <= 0 {
		return nil
	}
	return s.take(c, over) // beyond the price: the calls pay for themselves
}
