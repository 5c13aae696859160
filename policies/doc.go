// Package policies assembles the gateway's policies into one chain per snapshot and applies it to
// every front alike.
//
// Two kinds of policy exist. Method policies — authentication, authorization, rate and concurrency
// limits — decide on a call of one proto method: an Engine compiles, for each method of the
// snapshot, the Steps of the first rule that sets each aspect, and the resulting Set is the
// snapshot's routing.Admitter. Because every front routes through routing.Proxy.Route, which admits
// the call first, gRPC, gRPC-Web, REST and GraphQL (per field) meet the same decision, and no
// transcoding path can skip it. Request policies — CORS, size limits and input sanitization, the WAF,
// trace extraction, metrics and access logs — need the HTTP request itself: the Set wraps each HTTP
// front's handler with them once per snapshot (Wrap), and the native gRPC front with an interceptor.
//
// State that must outlive a snapshot (verified-token caches and JWKS refreshers, rate-limit buckets,
// the WAF's loaded rule set, telemetry exporters) lives in the Engine's modules, which are rebuilt only
// when their own section of the configuration changes, or the content of a file it names (a key set,
// an HS256 secret, WAF directives: read again at every Compile). A Compile that fails replaces no
// module.
package policies
