// Package shop runs the example shop's three gRPC backends — users, orders and catalog — that the
// gateway's demo, tests and walkthrough are built on.
//
// Each backend is a grpc.Server holding one shop service plus server reflection (v1 and v1alpha)
// and grpc.health.v1. Every call passes one interceptor that echoes the caller's x-request-id
// header, sets the x-served-by trailer, tells Options.OnCall about the call and waits
// Options.Latency before the handler runs. Serve runs one backend on a listener (the cmd programs
// use it); Start runs all three in-process on loopback ports (the gateway's demo and tests).
package shop
