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
//   - [Cluster] is a named, fixed set of endpoints; [Cluster.Pick] round-robins
//     over them with an atomic counter.
//   - [Endpoint] wraps one long-lived *grpc.ClientConn and counts calls in
//     flight ([Endpoint.Begin]).
//
// Tables, routes and clusters belong to a snapshot and are swapped whole.
// Endpoints do not: they live in a [Pool] keyed by address, outside snapshots,
// so a reload that keeps an address keeps its connection. Compiling a snapshot
// acquires its endpoints from the pool; once the new snapshot is published the
// old one releases its own. An endpoint whose last reference is released
// leaves the pool and closes its connection when its last in-flight call
// finishes, so no call is cut by a reload.
package routing
