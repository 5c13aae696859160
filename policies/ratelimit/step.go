package ratelimit

import (
	"fmt"
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
	fields  fields
	// advertise sends the rate-limit header fields, on admitted calls and refusals (the rule's
	// headers setting, on by default).
	advertise bool

	buckets     *table[bucket] // local backend
	redisPrefix string         // redis backend: the rule's key prefix
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
		redisKey := s.redisPrefix + k.String()
		var err error
		if d, err = s.l.redis.take(redisKey, &s.lim, cost, s.l.redisNow()); err != nil {
			return s.l.redis.failed(redisKey, err)
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

// tell hands the front the rate-limit header fields of an admitted call, so a client can slow
// down before it is refused: what is left of the bucket after this call and when it is full
// again. The rank is what is left, so a GraphQL response that answers several calls reports the
// decision closest to a refusal. Only the two numbers that change are rendered per call, without
// allocating below 100 (see fields).
func (s *rateStep) tell(c *policy.Call, d decision) {
	s.fields.tell(c, max(d.remaining, 0), d.full)
}

// deny builds the refusal of a call the bucket cannot pay for: RESOURCE_EXHAUSTED (429 on HTTP)
// with google.rpc.RetryInfo and QuotaFailure, and Retry-After and (unless the rule turned them
// off) the rate-limit header fields (see fields). Retry-After is when the refused cost would be
// allowed; the fields' reset when the bucket will be full again; both in whole seconds, rounded
// up.
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
	return s.fields.onRefusal(den, max(d.remaining, 0), d.full)
}

// tooCostly refuses a call that costs more than the bucket holds: it can never be allowed. It took
// nothing from the bucket, so of the header fields it carries only those that describe the limit.
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
	return s.fields.onPolicyRefusal(den)
}

// redisNow is the time passed to the Redis script: 0 (the script reads the server's clock) unless
// a clock was injected, then that clock in Unix microseconds.
func (l *Limiter) redisNow() int64 {
	if l.clockInjected {
		return l.clock().UnixMicro()
	}
	return 0
}
