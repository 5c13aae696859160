package ratelimit

import (
	"fmt"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/protogate/gateway/policies/policy"
)

// rateStep is a rule's compiled rate limit.
type rateStep struct {
	l       *Limiter
	rule    string
	key     func(c *policy.Call) key
	keyName string
	lim     limits
	rate    int
	per     time.Duration
	headers headerValues
	// advertise sends the RateLimit-* headers, on admitted calls and refusals (the rule's headers
	// setting, on by default).
	advertise bool

	buckets     *table[bucket] // local backend
	redisPrefix string         // redis backend: the rule's key prefix
}

// headerValues are the RateLimit-* values that do not change between decisions.
type headerValues struct {
	limit, policy string
}

// The names of the RateLimit-* headers of draft-ietf-httpapi-ratelimit-headers-06, in the forms
// the fronts write them.
var (
	nameLimit     = policy.NewHeaderName("RateLimit-Limit")
	nameRemaining = policy.NewHeaderName("RateLimit-Remaining")
	nameReset     = policy.NewHeaderName("RateLimit-Reset")
	namePolicy    = policy.NewHeaderName("RateLimit-Policy")
)

// newHeaderValues renders the fixed headers of draft-ietf-httpapi-ratelimit-headers-06:
// RateLimit-Limit is the bucket's size, RateLimit-Policy the quota and its window in seconds.
func newHeaderValues(s *rateStep) headerValues {
	w := int64((s.per + time.Second - 1) / time.Second)
	pol := strconv.Itoa(s.rate) + ";w=" + strconv.FormatInt(w, 10)
	if s.lim.burst != int64(s.rate) {
		pol += ";burst=" + strconv.FormatInt(s.lim.burst, 10)
	}
	return headerValues{limit: strconv.FormatInt(s.lim.burst, 10), policy: pol}
}

// Admit takes the call's cost from its key's bucket, or refuses the call.
func (s *rateStep) Admit(c *policy.Call) error {
	if c.Front == policy.FrontGraphQL {
		if op := operationFrom(c.Ctx); op != nil {
			return op.admit(s, c)
		}
	}
	return s.take(c, int64(max(c.Cost, 1)))
}

// take takes cost tokens for c.
func (s *rateStep) take(c *policy.Call, cost int64) error {
	if cost > s.lim.burst {
		return s.tooCostly(cost)
	}
	k := s.key(c)
	var d decision
	if s.redisPrefix != "" {
		var err error
		if d, err = s.l.redis.take(s.redisPrefix+k.String(), &s.lim, cost, s.l.redisNow()); err != nil {
			return s.l.redis.failed(err)
		}
	} else {
		now := s.l.now()
		d = s.buckets.get(k, now).take(&s.lim, now, cost)
	}
	if !d.allowed {
		return s.deny(d, cost)
	}
	if s.advertise && c.WantsResponseHeaders() {
		s.tell(c, d)
	}
	return nil
}

// tell hands the front the RateLimit-* headers of an admitted call, so a client can slow down
// before it is refused: what is left of the bucket after this call and when it is full again. The
// rank is what is left, so a GraphQL response that answers several calls reports the decision
// closest to a refusal. Only the two values that change are rendered per call (strconv has the
// small numbers ready: no allocation below 100).
func (s *rateStep) tell(c *policy.Call, d decision) {
	left := max(d.remaining, 0)
	c.SetResponseHeaders(left,
		policy.Header{Name: nameLimit, Value: s.headers.limit},
		policy.Header{Name: nameRemaining, Value: strconv.FormatInt(left, 10)},
		policy.Header{Name: nameReset, Value: seconds(d.full)},
		policy.Header{Name: namePolicy, Value: s.headers.policy},
	)
}

// deny builds the refusal of a call the bucket cannot pay for: RESOURCE_EXHAUSTED (429 on HTTP)
// with google.rpc.RetryInfo and QuotaFailure, and Retry-After and (unless the rule turned them
// off) the RateLimit-* headers of draft-ietf-httpapi-ratelimit-headers-06. Retry-After is when the
// refused cost would be allowed; RateLimit-Reset when the bucket will be full again; both in whole
// seconds, rounded up.
func (s *rateStep) deny(d decision, cost int64) *policy.Denial {
	retry := d.retry
	msg := fmt.Sprintf("rate limit exceeded: %d calls per %s per %s; retry in %s", s.rate, s.per, s.keyName, retry.Round(time.Millisecond))
	if cost > 1 {
		msg = fmt.Sprintf("rate limit exceeded: the operation costs %d of %d per %s per %s; retry in %s", cost, s.rate, s.per, s.keyName, retry.Round(time.Millisecond))
	}
	den := policy.Deny(codes.ResourceExhausted, msg,
		&errdetails.RetryInfo{RetryDelay: durationpb.New(retry)},
		&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
			Subject:     "rate_limit/" + s.rule + "/" + s.keyName,
			Description: fmt.Sprintf("%d calls per %s, burst %d", s.rate, s.per, s.lim.burst),
		}}},
	).WithHeader("Retry-After", seconds(retry))
	if !s.advertise {
		return den
	}
	return den.
		WithHeader(nameLimit.HTTP(), s.headers.limit).
		WithHeader(nameRemaining.HTTP(), strconv.FormatInt(max(d.remaining, 0), 10)).
		WithHeader(nameReset.HTTP(), seconds(d.full)).
		WithHeader(namePolicy.HTTP(), s.headers.policy)
}

// tooCostly refuses a call that costs more than the bucket holds: it can never be allowed.
func (s *rateStep) tooCostly(cost int64) *policy.Denial {
	den := policy.Deny(codes.ResourceExhausted,
		fmt.Sprintf("rate limit exceeded: the operation costs %d, more than the burst of %d allowed per %s", cost, s.lim.burst, s.keyName),
		&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
			Subject:     "rate_limit/" + s.rule + "/" + s.keyName,
			Description: fmt.Sprintf("cost %d exceeds burst %d", cost, s.lim.burst),
		}}},
	)
	if !s.advertise {
		return den
	}
	return den.
		WithHeader(nameLimit.HTTP(), s.headers.limit).
		WithHeader(namePolicy.HTTP(), s.headers.policy)
}

// seconds renders d as whole seconds, rounded up, at least 1.
func seconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64((d+time.Second-1)/time.Second)), 10)
}

// redisNow is the time passed to the Redis script: 0 (the script reads the server's clock) unless
// a clock was injected, then that clock in Unix microseconds.
func (l *Limiter) redisNow() int64 {
	if l.clockInjected {
		return l.clock().UnixMicro()
	}
	return 0
}
