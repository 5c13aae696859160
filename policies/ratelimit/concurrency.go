package ratelimit

import (
	"fmt"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/protogate/gateway/policies/policy"
)

// counter counts one key's calls in flight. release is built once per counter, so giving a slot
// back through Call.OnDone allocates nothing.
type counter struct {
	n       atomic.Int64
	release func()
}

func initCounter(c *counter) { c.release = func() { c.n.Add(-1) } }

// counterIdle reports whether c has no call in flight. The table calls it with the shard locked
// for writing, while acquisitions hold it for reading, so a counter found idle has no acquisition
// under way and can go.
func counterIdle(c *counter, _ int64) bool { return c.n.Load() == 0 }

// concurrencyStep is a rule's compiled bound on calls in flight.
type concurrencyStep struct {
	l        *Limiter
	rule     string
	key      func(c *policy.Call) key
	keyName  string
	max      int64
	counters *table[counter]
}

// Admit takes a slot for the call's key until the call ends, or refuses the call.
func (s *concurrencyStep) Admit(c *policy.Call) error {
	k := s.key(c)
	t := s.counters
	sh := t.shard(k)
	for {
		sh.mu.RLock()
		ctr := sh.m[k]
		if ctr == nil {
			sh.mu.RUnlock()
			t.get(k, 0) // adds it; the loop takes the slot under the read lock
			continue
		}
		ok := acquire(&ctr.n, s.max)
		sh.mu.RUnlock()
		if !ok {
			return s.deny()
		}
		c.OnDone(ctr.release)
		return nil
	}
}

// acquire adds one to n unless it is at most already.
func acquire(n *atomic.Int64, most int64) bool {
	for {
		v := n.Load()
		if v >= most {
			return false
		}
		if n.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// deny is the refusal of a call over the limit. When a slot frees cannot be known: the hint to
// retry in a second is the same on every front (RetryInfo for gRPC clients, Retry-After over HTTP).
func (s *concurrencyStep) deny() *policy.Denial {
	return policy.Deny(codes.ResourceExhausted,
		fmt.Sprintf("concurrency limit exceeded: %d calls in flight per %s", s.max, s.keyName),
		&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)},
		&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
			Subject:     "concurrency/" + s.rule + "/" + s.keyName,
			Description: fmt.Sprintf("at most %d calls in flight", s.max),
		}}},
	).WithHeader("Retry-After", "1")
}
