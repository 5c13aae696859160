// Package routing is the gateway's routing core: it decides which upstream
// serves a call and hands out the connection to reach it.
//
// Every request, whichever front it arrived through (gRPC, REST, GraphQL), is a
// call of one proto method, so routing is keyed by the gRPC full method name
// ("/pkg.Service/Method") plus request headers. A call flows through four
// values:
//
//	Table ─Match(method, headers)─> Route ─PickCluster()─> Cluster ─Pick()─> Endpoint ─Conn()─> *grpc.ClientConn
//
// In turn:
//
//   - [Table] is compiled once per snapshot by [NewTable], which validates and
//     copies the routes; it is never mutated afterwards, so lookups need no lock.
//     Exact method routes sit in a map, prefix routes in a radix tree walked
//     along the method name, so a lookup never scans routes: its cost is
//     bounded by the length of the method name, not the size of the table,
//     and it allocates nothing.
//   - [Route] holds the match criteria, a timeout, and a weighted list of
//     clusters; [Route.PickCluster] splits traffic by weight (canaries,
//     migrations).
//   - [Cluster] is a named set of endpoints with a [ClusterConfig]: a
//     [Balancer] (weighted round robin, least request, ring hash, random), a cap
//     on calls in flight, a retry budget, and the share of endpoints outlier
//     detection may eject. Picking skips endpoints that are unhealthy, ejected,
//     whose circuit is open or whose connection is failing, unless too few
//     remain (panic mode; with every connection failing, one is still tried);
//     it takes no lock and allocates nothing. The set is fixed, unless the cluster resolves
//     DNS names ([Pool.NewResolvedCluster]): then a resolver swaps it whole when
//     the names' A/AAAA addresses change, keeping the endpoints that stay.
//   - [Endpoint] wraps one long-lived *grpc.ClientConn and its resilience
//     state: calls in flight, latency EWMA, a gobreaker circuit breaker, the
//     active health check's verdict, outlier ejections and the connection's
//     state, mirrored by a watcher for picking to read ([Endpoint.Stats]).
//     [Cluster.Available] says whether a cluster has an endpoint that can take a
//     call, and [Pool.Subscribe] signals when that may have changed (the
//     gateway's per-service health reporting watches both).
//
// The gRPC proxy ([Proxy.Handler]) has a unary or server-streaming call's
// request before it picks the call's endpoint, so a client slow to send it
// holds no place in the cluster's cap meanwhile, and it gives every call's
// request (a stream's first message) bounded time to arrive ([ReadTime]):
// through the stream itself ([RecvBounder]: gRPC-Web's), or through the
// call's context ([WithRecvAbort], [AbortableRecv]: grpc-go's).
//
// [Proxy.Route] returns an [Upstream]; [Upstream.DoneWith] reports the call's
// result, of which only sick-backend outcomes count against the endpoint. A
// stream that is a half-open circuit's probe gives its verdict once it is
// established (its first header or message), not when it ends, which may be
// hours later: its Conn watches for that.
// Unary calls are retried on another endpoint by the route's [RetryPolicy]
// when safe, within the cluster's retry budget unless the request never
// reached a backend: by the gRPC proxy on its
// zero-copy path, and by [Proxy.CallUnary] for the REST and GraphQL fronts,
// which build their requests themselves. Streams are not retried.
//
// Tables, routes and clusters belong to a snapshot and are swapped whole.
// Endpoints do not: they live in a [Pool] keyed by address, [Transport]
// (plaintext or TLS, with its roots, server name and client certificate, and
// the connect timeout) and [EndpointConfig] (breaker, health check and outlier
// settings), outside snapshots, so a reload that keeps an address, the way to
// reach it and its settings keeps its connection and state. Compiling a snapshot
// acquires its endpoints from the pool; once the new snapshot is published the
// old one releases its own, lingering ([Pool.ReleaseLingering]): those no other
// snapshot holds stop being health-checked at once, but stay connected a few
// seconds for calls that picked them just before the swap. An endpoint whose
// last reference is released (and whose linger is over) leaves the pool and
// closes its connection when its last in-flight call finishes, so no call is
// cut by a reload; a released (draining) endpoint takes no new calls. The same
// holds, without lingering, for an address a re-resolution drops.
package routing
