// Package ratelimit bounds call rates (token buckets, in process or shared through Redis) and calls in
// flight. STUB: the contract the policies package compiles against; the rate-limit work fills it in.
package ratelimit

import (
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
)

// Limiter holds the long-lived limit state: buckets by rule and key, or the Redis client.
type Limiter struct{}

// New builds the limiter for cfg.
func New(cfg config.RateLimit) (*Limiter, error) { return &Limiter{}, nil }

// Step compiles a rule's rate limit; (nil, nil) when the rule sets none. rule names the bucket family,
// so methods matched by one rule share its buckets.
func (l *Limiter) Step(rule string, rl config.RuleRateLimit) (policy.Step, error) { return nil, nil }

// ConcurrencyStep compiles a rule's concurrency limit; (nil, nil) when the rule sets none.
func (l *Limiter) ConcurrencyStep(rule string, c config.RuleConcurrency) (policy.Step, error) {
	return nil, nil
}

// Close releases the Redis client, if any.
func (l *Limiter) Close() error { return nil }
