// Package bench is the load comparison behind `gateway bench`: the example users service and gRPC's
// interop TestService measured directly, through the gateway, through a second gateway enforcing the
// demo's policy chain (issue 7's cost of policies), and through nginx's grpc_pass, in one run on one
// machine.
//
// The parent process generates the load; the backend, the gateway and nginx run as separate OS
// processes so that each one's CPU time can be read from /proc/PID/stat:
//
//	gateway bench ──re-exec──> gateway bench backend   (users + grpc.testing.TestService)
//	      │        ──re-exec──> gateway bench gateway   (proxy with both registered, descriptors included)
//	      │        ──re-exec──> gateway bench gateway --policies   (the same, with the demo's chain, no WAF)
//	      │        ──exec─────> nginx                   (grpc_pass to the backend, when installed)
//	      └── closed-loop load: round 1 [direct, gateway, policies, nginx], round 2 [gateway, policies, nginx, direct], ...
//
// Listeners are opened by the parent and handed to the children as inherited file descriptors, so no
// port is ever guessed, and readiness is polled (a health call, the admin /readyz), never slept on.
// Every measurement is preceded by a warm-up; rounds interleave the targets and rotate their order;
// the report gives the median over rounds of each figure, and ratios taken within each round (so a
// noisy neighbour hits both sides of a ratio alike) and then their median.
package bench
