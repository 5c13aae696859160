package ratelimit

import (
	"sync/atomic"
	"time"
)

// bucket is a token bucket in the Generic Cell Rate Algorithm's form: instead of a token count and
// the time of the last refill, it keeps one number, tat, the time at which the bucket will be full
// again (nanoseconds on the limiter's clock). A bucket of burst tokens refilled one token per
// interval has tokens = burst - (tat-now)/interval; taking n tokens moves tat n intervals on, and is
// allowed while tat-now stays within burst intervals. One number fits one atomic word, so a decision
// is a load and a compare-and-swap, and the same arithmetic runs in the Redis script.
//
// Under one rule tat-now never exceeds the tolerance. A reload that changes the rule keeps the
// bucket, and tat may then lie further ahead than the new rule's bucket reaches (a minute's worth
// of debt under 1 per minute, now 10 per second): take forgives the excess, so that the bucket is
// merely empty under the new rule and a client waits at most one new interval per token.
type bucket struct{ tat atomic.Int64 }

// limits are a rule's bucket parameters in nanoseconds.
type limits struct {
	interval  int64 // time to earn one token: per / rate
	tolerance int64 // time to earn a full bucket: burst × interval
	burst     int64
}

// decision is the outcome of taking from a bucket.
type decision struct {
	allowed bool
	// retry is how long until the same cost would be allowed (0 when allowed).
	retry time.Duration
	// full is how long until the bucket is full again, after this decision.
	full time.Duration
	// remaining is the whole tokens left after this decision.
	remaining int64
}

// take takes cost tokens from b at time now, if it has them.
func (b *bucket) take(l *limits, now, cost int64) decision {
	for {
		old := b.tat.Load()
		tat := max(old, now)
		if tat-now > l.tolerance {
			// Debt left by a rule with a larger bucket: cut back and stored, so that the bucket
			// refills from here at this rule's rate; the decision is a refusal (the bucket is
			// empty). A racing decision that read the clock a little later can leave the same
			// excess, of the time between the two readings, forgiven too: as much as a full
			// bucket's take forgives a stale reading anyway.
			tat = now + l.tolerance
			if !b.tat.CompareAndSwap(old, tat) {
				continue
			}
		}
		next := tat + cost*l.interval
		if over := next - now - l.tolerance; over > 0 {
			return decision{retry: time.Duration(over), full: time.Duration(tat - now), remaining: (l.tolerance - (tat - now)) / l.interval}
		}
		if b.tat.CompareAndSwap(old, next) {
			return decision{allowed: true, full: time.Duration(next - now), remaining: (l.tolerance - (next - now)) / l.interval}
		}
	}
}

// bucketIdle reports whether b is full at now: dropping it changes no decision.
func bucketIdle(b *bucket, now int64) bool { return b.tat.Load() <= now }
