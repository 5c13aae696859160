// Package callinfo carries what the gateway learns about a request as it crosses the fronts, the
// policies and the routing core — the method it calls, the REST route it matched, the consumer it
// was authenticated as, the upstream endpoint that served it, the policy that refused it — to the
// telemetry that reports it: the request's access-log line, its server span, its metrics.
//
// The telemetry middleware (HTTP fronts) or interceptor (gRPC) puts an *Info in the request's
// context; the fronts and policies record into it with the functions here, which do nothing when
// the context has none. The package imports only the standard library, so any front can record
// without depending on OpenTelemetry or Prometheus.
package callinfo

import (
	"context"
	"sync"
)

type key struct{}

// Tracer starts the spans of a request's stages. The telemetry sets one on the Info when tracing is
// on.
type Tracer interface {
	// Start begins a child span of ctx's span for a stage of the gateway ("graphql.resolve") calling
	// method ("/pkg.Service/Method"), and returns the context carrying it and the function that ends
	// it with the stage's result (nil or a gRPC status error).
	Start(ctx context.Context, stage, method string) (context.Context, func(error))
}

// Info is what is known about one request. Its methods are safe for concurrent use (GraphQL
// resolves fields in parallel) and do nothing on a nil *Info.
type Info struct {
	// Tracer, when set, starts the request's stage spans. Set before the Info is shared.
	Tracer Tracer

	mu     sync.Mutex
	method string // the first method admitted
	// unregistered: method is no method of the snapshot's descriptors (a call an explicit route
	// proxies), so its name is whatever the client sent.
	unregistered bool
	calls        int // methods admitted
	upstreams    int // upstream calls made (retries' attempts each count)
	route        string
	consumer     string
	endpoint     string // the last upstream call's
	code         int32  // the last upstream's gRPC status code; -1 before any
	ended        int32  // the code the front ended the call with itself (EndCall); -1 when it did not
	denied       Denial
	// trace is what the metadata the request's upstream calls are sent with holds of the request's
	// trace context (SetUpstreamTrace); written before the first upstream call starts, so unguarded.
	trace UpstreamTrace
}

// UpstreamTrace is what a request's upstream metadata holds of its trace context.
type UpstreamTrace uint8

const (
	// TraceUnknown: the front passes on metadata it has not looked at for trace context.
	TraceUnknown UpstreamTrace = iota
	// TraceCarried: the metadata carries the request's trace context already.
	TraceCarried
	// TraceAbsent: the metadata carries no trace context.
	TraceAbsent
)

// Denial is a policy's refusal as recorded for telemetry.
type Denial struct {
	// Policy names the policy: "auth", "rate_limit", "concurrency", "waf", "limits", "cors".
	Policy string
	// Reason is the google.rpc.ErrorInfo reason or another short, fixed token.
	Reason string
	// Code is the gRPC status code of the refusal.
	Code uint32
}

// New returns an empty Info.
func New() *Info { return &Info{code: -1, ended: -1} }

// Init makes a zero Info empty, as New returns it: for an Info allocated as part of a larger value
// (one allocation per request instead of two).
func (i *Info) Init() { i.code, i.ended = -1, -1 }

// With returns ctx carrying info.
func With(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, key{}, info)
}

// From returns the Info in ctx, or nil.
func From(ctx context.Context) *Info {
	info, _ := ctx.Value(key{}).(*Info)
	return info
}

// SetRoute records the REST path template the request matched ("/v1/users/{id}").
func SetRoute(ctx context.Context, route string) { From(ctx).SetRoute(route) }

// EndCall records that the front ended the request's call itself, with code: see Info.EndCall.
func EndCall(ctx context.Context, code uint32) { From(ctx).EndCall(code) }

// Deny records that a policy refused the request. Policies that answer on their own (the WAF, size
// limits) call it; so does the admitter when a Step refuses a call.
func Deny(ctx context.Context, d Denial) { From(ctx).Deny(d) }

// noEnd ends a span that was never started.
func noEnd(error) {}

// Start begins a stage span when ctx's request is traced; otherwise it returns ctx and a function
// that does nothing, without allocating.
func Start(ctx context.Context, stage, method string) (context.Context, func(error)) {
	info := From(ctx)
	if info == nil || info.Tracer == nil {
		return ctx, noEnd
	}
	return info.Tracer.Start(ctx, stage, method)
}

// SetUpstreamTrace records what the metadata the request's upstream calls are sent with holds of
// its trace context, as far as the front that made it knows. Call it before the first upstream
// call starts.
func (i *Info) SetUpstreamTrace(t UpstreamTrace) {
	if i != nil {
		i.trace = t
	}
}

// UpstreamTrace returns what SetUpstreamTrace recorded; TraceUnknown when nothing was.
func (i *Info) UpstreamTrace() UpstreamTrace {
	if i == nil {
		return TraceUnknown
	}
	return i.trace
}

// SetRoute records the REST path template.
func (i *Info) SetRoute(route string) {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.route = route
	i.mu.Unlock()
}

// Admit records an admitted call of method by consumer ("" when anonymous). It reports whether it
// was the request's first.
func (i *Info) Admit(method, consumer string) bool {
	if i == nil {
		return false
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.calls++
	if i.calls == 1 {
		i.method = method
	}
	if i.consumer == "" {
		i.consumer = consumer
	}
	return i.calls == 1
}

// Attempt records that the request tried to call method, when it has no method yet: a call refused
// before the telemetry Step recorded it (by authentication) is still reported under its method.
func (i *Info) Attempt(method string) {
	if i == nil {
		return
	}
	i.mu.Lock()
	if i.method == "" {
		i.method = method
	}
	i.mu.Unlock()
}

// Unregistered records that the request's method is none of the snapshot's descriptors: a call an
// explicit route proxies, whose method name is the client's (metrics then label it by name only if
// its upstream served it).
func (i *Info) Unregistered() {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.unregistered = true
	i.mu.Unlock()
}

// SetUpstream records an upstream call, to endpoint.
func (i *Info) SetUpstream(endpoint string) {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.upstreams++
	i.endpoint = endpoint
	i.mu.Unlock()
}

// SetUpstreamCode records the gRPC status code an upstream call ended with.
func (i *Info) SetUpstreamCode(code uint32) {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.code = int32(code)
	i.mu.Unlock()
}

// EndCall records the gRPC status code the front ended the request's call with itself, cancelling
// its upstream call: a REST stream's request message that does not decode, a WebSocket client
// breaking the protocol. That is the request's code, which neither the upstream's (CANCELLED) nor,
// after a stream's 200 or 101, the HTTP status says. A call ended before any policy admitted it
// (its body late, or abandoned by its client) records it too: the telemetry then names the method
// its REST path binds to.
func (i *Info) EndCall(code uint32) {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.ended = int32(code)
	i.mu.Unlock()
}

// Deny records a policy's refusal; the first one recorded is kept.
func (i *Info) Deny(d Denial) {
	if i == nil {
		return
	}
	i.mu.Lock()
	if i.denied.Policy == "" {
		i.denied = d
	}
	i.mu.Unlock()
}

// Snapshot is a copy of what an Info recorded.
type Snapshot struct {
	Method string // the first admitted method, "" when none was
	// Unregistered: Method is no method of the snapshot's descriptors (Info.Unregistered).
	Unregistered bool
	Calls        int // admitted calls (more than one on GraphQL)
	// UpstreamCalls are the upstream calls made: each retry's attempt is one, a GraphQL link's
	// batch one, however many calls its keys were admitted as.
	UpstreamCalls int
	Route         string
	Consumer      string
	Endpoint      string // the last upstream call's
	// UpstreamCode is the last upstream call's gRPC status code, -1 when there was none.
	UpstreamCode int32
	// EndedCode is the code the front ended the call with itself (Info.EndCall), -1 when it did
	// not.
	EndedCode int32
	Denial    Denial
}

// Snapshot returns what the Info recorded so far.
func (i *Info) Snapshot() Snapshot {
	if i == nil {
		return Snapshot{UpstreamCode: -1, EndedCode: -1}
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	return Snapshot{Method: i.method, Unregistered: i.unregistered, Calls: i.calls, UpstreamCalls: i.upstreams,
		Route: i.route, Consumer: i.consumer, Endpoint: i.endpoint, UpstreamCode: i.code, EndedCode: i.ended, Denial: i.denied}
}
