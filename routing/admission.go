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
	// Admit admits a call of method ("/pkg.Service/Method") carrying md. It returns the metadata to
	// send upstream (md itself when nothing changes; md is never modified) and a release func, or
	// nil, to call once the call has ended. An error, a gRPC status, refuses the call. Headers for
	// an admitted call's response (a rate limit's RateLimit-*) go to the front through ctx: see
	// policy.ResponseHeaders.
	Admit(ctx context.Context, method string, md metadata.MD) (upstream metadata.MD, release func(), err error)
}
