package routing

import (
	"sync/atomic"
	"time"
)

// RetryBudget caps a cluster's retries relative to its calls over a sliding window, so retries never
// multiply an outage. Only retries of calls that reached a backend count: one whose request never
// did (connection refused, circuit open) adds no load to any backend. The zero value means the
// defaults.
type RetryBudget struct {
	// Percent is the most retries allowed, as a share of the calls in the window. Default 20.
	Percent int
	// MinRetries are allowed in any window regardless of Percent, so a quiet cluster can still
	// retry. Default 3.
	MinRetries int
}

// Retry budget defaults and window.
const (
	DefaultRetryBudgetPercent = 20
	DefaultRetryBudgetMin     = 3
	budgetBuckets             = 10
	budgetBucketWidth         = int64(time.Second) // the window is budgetBuckets of these
)

func (b RetryBudget) withDefaults() RetryBudget {
	if b.Percent <= 0 {
		b.Percent = DefaultRetryBudgetPercent
	}
	if b.MinRetries <= 0 {
		b.MinRetries = DefaultRetryBudgetMin
	}
	return b
}

// budget counts calls and retries per second over the last budgetBuckets seconds. It uses only
// atomics; counts racing with a bucket's reset may be lost, which errs a little either way.
type budget struct {
	percent, min int64
	buckets      [budgetBuckets]budgetBucket
}

type budgetBucket struct {
	epoch    atomic.Int64
	requests atomic.Int64
	retries  atomic.Int64
}

func (b *budget) bucket(now int64) *budgetBucket {
	epoch := now/budgetBucketWidth + 1 // +1: epoch 0 marks a bucket never used
	bk := &b.buckets[epoch%budgetBuckets]
	if e := bk.epoch.Load(); e != epoch && bk.epoch.CompareAndSwap(e, epoch) {
		bk.requests.Store(0)
		bk.retries.Store(0)
	}
	return bk
}

// request counts a call's first attempt.
func (b *budget) request(now int64) { b.bucket(now).requests.Add(1) }

// retry reports whether one more retry fits the budget, and counts it if so.
func (b *budget) retry(now int64) bool {
	cur := b.bucket(now)
	oldest := now/budgetBucketWidth + 1 - budgetBuckets
	var requests, retries int64
	for i := range b.buckets {
		bk := &b.buckets[i]
		if bk.epoch.Load() > oldest {
			requests += bk.requests.Load()
			retries += bk.retries.Load()
		}
	}
	if retries >= max(b.min, requests*b.percent/100) {
		return false
	}
	cur.retries.Add(1)
	return true
}
