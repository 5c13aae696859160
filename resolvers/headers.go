package resolvers

import (
	"net/http"
	"sync"

	"github.com/protogate/gateway/policies/policy"
)

// responseHeaders is where the policies admitting an operation's calls put their response headers
// (policy.ResponseHeaders): a rate limit's RateLimit-*. The calls run concurrently and one HTTP
// response answers them all, so it keeps one set, that of the lowest rank (for a rate limit, the
// fewest tokens left): the operation's own decision when the rate limit prices the whole operation
// (one per rule), else the most restrictive of its calls'. Subscriptions (SSE, WebSocket) have
// sent their headers before their calls are admitted: they get none.
type responseHeaders struct {
	mu      sync.Mutex
	kept    bool
	rank    int64
	set     []policy.Header
	written bool // the response's headers are out: later sets are dropped
}

// SetResponseHeaders keeps hs when no set of a lower or equal rank is kept already.
func (r *responseHeaders) SetResponseHeaders(rank int64, hs []policy.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.written || r.kept && rank >= r.rank {
		return
	}
	r.kept, r.rank = true, rank
	r.set = append(r.set[:0], hs...)
}

// writeTo sets the kept headers on h, the first time it is called.
func (r *responseHeaders) writeTo(h http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.written {
		return
	}
	r.written = true
	for _, hd := range r.set {
		h.Set(hd.Name.HTTP(), hd.Value)
	}
}
