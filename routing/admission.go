package routing

import (
	"context"

	"google.golang.org/grpc/metadata"
)

// Admitter decides whether a call may proceed before it is routed: authentication, authorization,
// rate and concurrency limits. The active State supplies one, compiled once per snapshot. Every front
// routes through Proxy.Route, so every front gets the same decision for the same call — a REST or
// GraphQL request cannot slip past a policy that a gRPC call of the same method meets.
type Admitter interface {
	// Admit admits a call of method ("/pkg.Service/Method") carrying md, or refuses it with an
	// error, a gRPC status. md is not modified, unless owned: md is then the call's own copy, which
	// nothing else uses, and the admission may change it in place, rather than copy it, to make
	// the Admission's Upstream. cost is the call's weight for rate limits (policy.Call.Cost): 1 for
	// a call, n for one that stands for n calls of method (a GraphQL link batch: Proxy.Admit).
	Admit(ctx context.Context, method string, md metadata.MD, owned bool, cost int) (Admission, error)
}

// Admission is an admitted call's terms.
type Admission struct {
	// Upstream is the metadata to send upstream: md itself when nothing changes (or when it was
	// owned, and changed in place).
	Upstream metadata.MD
	// Header is metadata for the response's header on the gRPC fronts (native gRPC, gRPC-Web), as
	// key, value pairs with lower-case keys, each once: an admitted call's RateLimit-*. The proxy
	// merges it into the upstream's header. The HTTP fronts get their response headers from the
	// policies directly (see policy.ResponseHeaders).
	Header []string
	// Release, when not nil, is called once the call has ended: a concurrency slot returned.
	Release func()
}
