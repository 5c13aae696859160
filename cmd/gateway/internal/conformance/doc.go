// Package conformance holds the differential test of the gateway's REST front against
// grpc-gateway: the example shop served twice, once through the gateway (descriptors at run time)
// and once through grpc-gateway's generated handlers (gen/shop/**/*.pb.gw.go) on a default
// runtime.ServeMux, the same corpus of requests sent to both, and the answers compared. Every way
// the two may differ is listed in the test's table of differences, with its reason; any other
// difference fails the test.
//
// The package has no code of its own: it sits at the edge of the module (it imports the server,
// the demo wiring and the generated handlers; nothing imports it).
package conformance
