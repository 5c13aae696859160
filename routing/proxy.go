package routing

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"google.golang.org/grpc/peer"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// CallKind is the streaming shape of a method. The proxy needs no descriptor to forward a call, but
// knowing the shape lets it take a cheaper path for unary and server-streaming calls.
type CallKind uint8

// The call kinds. KindUnknown is forwarded as a bidirectional stream, which is correct for any kind.
const (
	KindUnknown CallKind = iota
	KindUnary
	KindServerStream
	KindClientStream
	KindBidiStream
)

// String names the kind as the gRPC documentation does.
func (k CallKind) String() string {
	switch k {
	case KindUnary:
		return "unary"
	case KindServerStream:
		return "server-streaming"
	case KindClientStream:
		return "client-streaming"
	case KindBidiStream:
		return "bidi-streaming"
	default:
		return "unknown"
	}
}

// KindOf returns the call kind of a method from its descriptor.
func KindOf(m protoreflect.MethodDescriptor) CallKind {
	switch {
	case m.IsStreamingClient() && m.IsStreamingServer():
		return KindBidiStream
	case m.IsStreamingClient():
		return KindClientStream
	case m.IsStreamingServer():
		return KindServerStream
	default:
		return KindUnary
	}
}

// State is what the proxy reads from the active snapshot on each call.
type State interface {
	// Routes is the route table calls are matched against.
	Routes() *Table
	// Method reports the kind of a full method name ("/pkg.Service/Method"). known is false when the
	// method's service has no registered descriptor; ok is false when the service is known but has no
	// such method.
	Method(fullMethod string) (kind CallKind, known, ok bool)
	// Admitter admits calls before they are routed; nil admits every call.
	Admitter() Admitter
}

// WaitingState is implemented by a State that knows services which are registered but not served
// yet (their descriptors have not come): a call of one is UNAVAILABLE, which a client may retry,
// with why, rather than UNIMPLEMENTED.
type WaitingState interface {
	// Waiting reports whether service is waited for, and why it is not served yet.
	Waiting(service string) (why string, ok bool)
}

// Proxy forwards gRPC calls to upstream clusters without decoding their messages. Its Handler is a
// grpc.StreamHandler, registered as the server's unknown-service handler and reused by the gRPC-Web
// front, so every transport shares one forwarding core.
type Proxy struct {
	state      func() State
	maxMsgSize int
	readTime   ReadTime
	callOpts   []grpc.CallOption // the options of every upstream call, built once
	// stopping ends, with errShuttingDown for its cause, when EndStreams is called.
	stopping   context.Context
	endStreams context.CancelCauseFunc
}

// ProxyOption configures a Proxy.
type ProxyOption func(*Proxy)

// WithMaxMessageSize bounds the size of upstream responses (requests are bounded by the server, to
// the same size in the gateway): a request whose framing announces nothing is given the time of
// one this large to arrive (WithRequestReadTime). The default is 4 MiB, gRPC's own default.
func WithMaxMessageSize(n int) ProxyOption {
	return func(p *Proxy) {
		if n > 0 {
			p.maxMsgSize = n
		}
	}
}

// WithRequestReadTime sets the time a call's request may take to arrive: a unary or
// server-streaming call's request, a client- or bidi-streaming call's first message. A call whose
// request is later ends with DeadlineExceeded (RequestLate). Zero fields keep DefaultReadTime's.
// Later messages of a stream have no time limit: a stream may idle for as long as its client
// likes.
func WithRequestReadTime(t ReadTime) ProxyOption {
	return func(p *Proxy) {
		if t.Base > 0 {
			p.readTime.Base = t.Base
		}
		if t.PerSecond > 0 {
			p.readTime.PerSecond = t.PerSecond
		}
	}
}

// NewProxy returns a proxy that routes each call by the State current when the call starts.
func NewProxy(state func() State, opts ...ProxyOption) *Proxy {
	p := &Proxy{state: state, maxMsgSize: 4 << 20, readTime: DefaultReadTime}
	p.stopping, p.endStreams = context.WithCancelCause(context.Background())
	for _, o := range opts {
		o(p)
	}
	p.callOpts = []grpc.CallOption{
		grpc.ForceCodecV2(codec),
		grpc.MaxCallRecvMsgSize(p.maxMsgSize),
		grpc.MaxCallSendMsgSize(p.maxMsgSize),
	}
	return p
}

// Handler forwards one call; see grpc.StreamHandler.
func (p *Proxy) Handler(_ any, ss grpc.ServerStream) error {
	method, ok := grpc.MethodFromServerStream(ss)
	if !ok {
		return status.Error(codes.Internal, "gateway: no method in stream context")
	}
	ctx := ss.Context()
	var md metadata.MD
	if ms, ok := ss.(MetadataStream); ok {
		md = ms.IncomingMetadata()
	} else {
		md, _ = metadata.FromIncomingContext(ctx)
	}
	// The client's grpc-accept-encoding describes its own connection, as the gRPC-Web front's
	// transport headers do: the upstream answers the gateway's connection, which sends a list of
	// its own. Forwarded, the client's would double the header and could let the upstream pick an
	// encoding the gateway cannot decode.
	delete(md, acceptEncodingKey)
	if _, ok := md[forwardedForKey]; ok { // (a lookup of the peer walks grpc's deep context)
		if pr, ok := peer.FromContext(ctx); ok && pr.Addr != nil { // gRPC-Web's front appends its own
			AppendForwardedFor(md, pr.Addr.String())
		}
	}
	a, err := p.admit(ctx, method, md, true) // md is the call's copy: its admission may change it
	if err != nil {
		return err
	}
	call := call{proxy: p, ss: ss, method: method, header: a.header}
	if a.kind != KindUnary && a.kind != KindServerStream {
		// A stream's upstream opens at once (it may answer before the client sends); the first
		// message must arrive in time (forwardRequests), so a silent client holds its endpoint
		// that long at most.
		up, err := p.open(ctx, &a)
		if err != nil {
			return err
		}
		call.conn = up.Conn
		err = call.stream(up.Ctx)
		up.DoneWith(call.upErr)
		return deadlineErr(ctx, StreamError(up.Ctx, err))
	}
	// The request first, in its time: a client slow to send it, or that never does, holds no
	// endpoint meanwhile, nor a place in the cluster's max_requests or the endpoint's count of
	// calls in flight. (The policies' cheap refusals came before.)
	var req Frame
	if err := call.recvRequest(&req); err != nil {
		req.Free()
		a.free()
		return deadlineErr(ctx, err)
	}
	up, err := p.open(ctx, &a)
	if err != nil {
		req.Free()
		return err
	}
	call.conn = up.Conn
	if a.kind == KindUnary {
		return deadlineErr(ctx, PublicError(call.unary(&up, a.md, req)))
	}
	err = call.serverStream(up.Ctx, req)
	up.DoneWith(call.upErr)
	return deadlineErr(ctx, StreamError(up.Ctx, err))
}

// MetadataStream is a grpc.ServerStream that has a copy of its call's incoming metadata already (a
// wrapper of the server's stream that read it, such as the telemetry's): the proxy routes with that
// copy rather than making its own. The copy is the call's: the proxy reads it and may send it
// upstream as it is.
type MetadataStream interface {
	grpc.ServerStream
	IncomingMetadata() metadata.MD
}

// Upstream is a routed call: the connection of the endpoint it goes to, and the context to call it
// with, carrying md as outgoing metadata and the route's deadline. DoneWith (or Done) must be called
// once the call has ended.
type Upstream struct {
	Ctx   context.Context
	Conn  grpc.ClientConnInterface
	Kind  CallKind
	Route *Route
	// Header is metadata the gateway adds to the response's header (Admission.Header: key, value
	// pairs), or nil.
	Header []string

	ep      *Endpoint
	cluster *Cluster
	parent  context.Context // the caller's context: its end excuses the backend
	start   int64           // nanotime
	probe   func(error)     // a half-open circuit's probe report, or nil
	stream  *streamProbe    // in probe's place for a stream, settled once it is established; or nil
	cancel  context.CancelFunc
	release func() // the admission's release, or nil
}

// Done releases the endpoint and the call's context without reporting the call's result; prefer
// DoneWith.
func (u *Upstream) Done() { u.finish(outcomeUnknown) }

// DoneWith records the call's result, err (nil for success; a gRPC status otherwise), for the
// endpoint's circuit breaker, outlier detection and latency EWMA, then releases the endpoint and the
// call's context as Done does. Only sick-backend results count against the endpoint: Unavailable,
// ResourceExhausted, DeadlineExceeded when the caller's own deadline had not passed, connection
// errors. It does not allocate unless the endpoint's state changes.
func (u *Upstream) DoneWith(err error) { u.finish(classify(u.parent, err)) }

// finish records outcome o and releases the call.
func (u *Upstream) finish(o outcome) {
	if u.cancel != nil {
		u.cancel()
	}
	if u.release != nil {
		u.release()
		u.release = nil
	}
	e := u.ep
	if e == nil {
		return
	}
	now := nanotime()
	if e.observe(o, now-u.start, u.Kind == KindUnary, now) && u.cluster != nil {
		u.cluster.considerEjecting(e, now)
	}
	switch {
	case u.stream != nil && u.stream.settle(o):
		// A probe stream that ended before it was established: its end is the verdict.
	case u.probe != nil:
		u.probe(breakerErr(o))
	default:
		if br := e.br.Load(); br != nil {
			br.record(o)
		}
	}
	if u.cluster != nil {
		u.cluster.release()
	}
	e.end()
	u.ep = nil
}

// Route matches a call of method with request metadata md against the current state and picks the
// endpoint that serves it, by the cluster's balancer, skipping endpoints that are unhealthy, ejected
// or whose circuit is open. Every front routes through it, so routing, balancing and resilience are
// the same whichever front a call came through. Errors are gRPC statuses: Unimplemented for a method
// nothing serves, Unavailable when the cluster has no endpoint to take the call (none, all circuits
// open, or its cap on concurrent calls reached).
func (p *Proxy) Route(ctx context.Context, method string, md metadata.MD) (Upstream, error) {
	return p.route(ctx, method, md, false)
}

// route is Route; owned says md is the call's own copy, which the admission may change in place
// (Admitter.Admit).
func (p *Proxy) route(ctx context.Context, method string, md metadata.MD, owned bool) (Upstream, error) {
	a, err := p.admit(ctx, method, md, owned)
	if err != nil {
		return Upstream{}, err
	}
	return p.open(ctx, &a)
}

// admitted is a call matched to its route and admitted by the policies, not yet given an endpoint.
type admitted struct {
	route   *Route
	kind    CallKind
	md      metadata.MD // what goes upstream (Admission.Upstream)
	header  []string    // Admission.Header
	release func()      // Admission.Release, or nil
}

// free releases what the admission holds, for a call that goes no further.
func (a *admitted) free() {
	if a.release != nil {
		a.release()
	}
}

// admit matches a call of method with request metadata md to its route and has the policies admit
// it: Route's first steps, which hold nothing of the upstream's.
func (p *Proxy) admit(ctx context.Context, method string, md metadata.MD, owned bool) (admitted, error) {
	st := p.state()
	kind, known, exists := st.Method(method)
	if known && !exists {
		svc, m := splitMethod(method)
		return admitted{}, status.Errorf(codes.Unimplemented, "unknown method %s for service %s", m, svc)
	}
	route := st.Routes().Match(method, MD(md))
	if route == nil {
		svc, _ := splitMethod(method)
		if w, ok := st.(WaitingState); ok {
			if why, ok := w.Waiting(svc); ok {
				return admitted{}, status.Errorf(codes.Unavailable, "service %s is not served yet: %s", svc, why)
			}
		}
		return admitted{}, status.Errorf(codes.Unimplemented, "unknown service %s: no registered service or route serves it", svc)
	}
	a := admitted{route: route, kind: kind, md: md}
	if adm := st.Admitter(); adm != nil {
		terms, err := adm.Admit(ctx, method, md, owned, 1)
		if err != nil {
			return admitted{}, err
		}
		a.md, a.header, a.release = terms.Upstream, terms.Header, terms.Release
	}
	return a, nil
}

// open picks the endpoint of an admitted call, by its route's cluster: Route's last step, from
// which the call holds its place in the cluster's max_requests and counts in flight on the
// endpoint. On failure it releases the admission.
func (p *Proxy) open(ctx context.Context, a *admitted) (Upstream, error) {
	c := a.route.PickCluster()
	now := nanotime()
	c.budget.request(now)
	up, err := connect(ctx, c, a.md, nil, now)
	if err != nil {
		a.free()
		return Upstream{}, err
	}
	up.Kind, up.Route, up.Header, up.release = a.kind, a.route, a.header, a.release
	up.Ctx = metadata.NewOutgoingContext(ctx, a.md)
	if a.route.Timeout > 0 {
		up.Ctx, up.cancel = context.WithTimeout(up.Ctx, a.route.Timeout)
	}
	if a.kind != KindUnary {
		p.endable(&up)
		if up.probe != nil {
			up.probeStream()
		}
	}
	return up, nil
}

// probeStream makes u, a stream that is a half-open circuit's probe, settle the probe once the
// stream is established rather than when it ends (streamProbe): the fronts open their streams on
// u.Conn.
func (u *Upstream) probeStream() {
	u.stream = &streamProbe{ClientConnInterface: u.Conn, parent: u.parent, report: u.probe}
	u.Conn, u.probe = u.stream, nil
}

// Admit decides on cost calls of method with request metadata md as Route would, without routing
// or making one: for a front whose upstream call answers for calls of another method. A GraphQL
// link batched into its batch method stands for one call of the link's method per key, and so
// gets that method's decision, charged as that many calls, before the batch call is routed (and
// admitted) itself. The concurrency slots the admission takes (one per limit, whatever the cost:
// the calls are one call upstream) are held until release is called, once the calls decided on
// are over; release is never nil. The error is the refusal, a gRPC status.
func (p *Proxy) Admit(ctx context.Context, method string, md metadata.MD, cost int) (release func(), err error) {
	a := p.state().Admitter()
	if a == nil {
		return nothingHeld, nil
	}
	adm, err := a.Admit(ctx, method, md, false, cost)
	if err != nil {
		return nothingHeld, err
	}
	if adm.Release == nil {
		return nothingHeld, nil
	}
	return adm.Release, nil
}

// nothingHeld is the release of an admission that holds nothing.
func nothingHeld() {}

// endable makes up's context end when the gateway ends its streams (EndStreams), with
// errShuttingDown for its cause. Streams may run for as long as their clients like, so a stopping
// gateway ends them with a status of its own rather than cutting their connections; unary calls are
// short, and pay nothing for it.
func (p *Proxy) endable(up *Upstream) {
	ctx, cancel := context.WithCancelCause(up.Ctx)
	stop := context.AfterFunc(p.stopping, func() { cancel(errShuttingDown) })
	timeout := up.cancel
	up.Ctx = ctx
	up.cancel = func() {
		stop()
		cancel(nil)
		if timeout != nil {
			timeout()
		}
	}
}

// EndStreams ends every stream in flight, and any started from now on, with Unavailable "the
// gateway is shutting down": how a stopping gateway ends the calls its drain would wait for
// forever, each with a final status its client can act on, before it closes their connections.
func (p *Proxy) EndStreams() { p.endStreams(errShuttingDown) }

// connect admits a call to an endpoint of c other than avoid, if possible. The Upstream's Ctx,
// Kind and Route are the caller's to set.
func connect(parent context.Context, c *Cluster, md metadata.MD, avoid *Endpoint, now int64) (Upstream, error) {
	ep, probe, err := c.admit(MD(md), avoid, now)
	if err != nil {
		return Upstream{}, err
	}
	if probe != nil && ep.conn.GetState() == connectivity.TransientFailure {
		ep.conn.ResetConnectBackoff() // the probe should find out whether the backend is back
	}
	return Upstream{Conn: ep.conn, ep: ep, cluster: c, parent: parent, start: now, probe: probe}, nil
}

// CallOptions are the options every upstream call of the proxy uses: the pass-through codec (so
// *Frame messages carry raw bytes; other messages are proto-encoded) and the message size limits.
func (p *Proxy) CallOptions() []grpc.CallOption { return p.callOpts }

// call is one forwarded call: the downstream server stream and the upstream it goes to.
type call struct {
	proxy  *Proxy
	ss     grpc.ServerStream
	conn   grpc.ClientConnInterface
	method string
	upErr  error    // the upstream's failure, as opposed to the client's, for the endpoint's breaker
	resp   Frame    // a unary call's response
	header []string // the gateway's additions to the response's header (Upstream.Header)
}

// withHeader returns the upstream's response header with the gateway's additions. The upstream's
// is the call's own copy (grpc copies a stream's header for its reader): the additions go into it,
// one merge rather than the two that a grpc.SetHeader of them ahead would cost. With no header from
// the upstream (nil), the additions make one.
func (c *call) withHeader(upstream metadata.MD) metadata.MD {
	if len(c.header) == 0 {
		return upstream
	}
	if upstream == nil {
		upstream = make(metadata.MD, len(c.header)/2)
	}
	for i := 0; i+1 < len(c.header); i += 2 {
		upstream[c.header[i]] = c.header[i+1 : i+2 : i+2]
	}
	return upstream
}

var codec = Codec{}

// forwardedForKey is the metadata key of the addresses a call came through.
const forwardedForKey = "x-forwarded-for"

// AppendForwardedFor appends the host of client ("host:port", or a bare host) to the
// x-forwarded-for chain a client sent in md, so that the chain's last hop, the one an upstream
// trusts, is the address the gateway saw and not one the client wrote. md without the key is left
// as it is: an upstream then sees no chain, and the gateway as the call's peer.
func AppendForwardedFor(md metadata.MD, client string) {
	chain, ok := md[forwardedForKey]
	if !ok {
		return
	}
	if host, _, err := net.SplitHostPort(client); err == nil {
		client = host
	}
	if v := strings.Join(chain, ", ") + ", " + client; ValidMetadataValue(v) {
		md[forwardedForKey] = []string{v}
	} else {
		delete(md, forwardedForKey) // a chain that cannot be sent is not passed on as it came
	}
}

// acceptEncodingKey is the metadata key of the compressions a gRPC peer can decode.
const acceptEncodingKey = "grpc-accept-encoding"

// unary forwards a call with exactly one request, req (received already), and one response, without
// goroutines, retrying it on another endpoint as the route's policy allows. It finishes up.
func (c *call) unary(up *Upstream, md metadata.MD, req Frame) error {
	pol := up.Route.retryPolicy()
	if pol.Attempts <= 1 && pol.PerTryTimeout == 0 { // one attempt, bounded by the call's deadline alone
		header, trailer, err := c.invoke(up.Ctx, &req)
		req.Free()
		up.DoneWith(err)
		return c.reply(header, trailer, err)
	}
	return c.unaryRetried(up, md, req, pol)
}

// unaryRetried forwards a unary call whose route retries it, req received already. It is apart
// from unary so that the frame of every unary call, on the stack while the call is upstream, does
// not hold what retrying needs.
func (c *call) unaryRetried(up *Upstream, md metadata.MD, req Frame, pol *RetryPolicy) error {
	// Keep a reference to the request's buffers: each attempt hands one to the transport.
	saved := req.data
	req.data = nil
	defer saved.Free()
	ctx, cancel := up.Ctx, up.cancel // bounds every attempt; released when the call ends
	up.cancel = nil
	if cancel != nil {
		defer cancel()
	}
	cur := *up
	if release := cur.release; release != nil { // admission holds for the whole call, not one attempt
		cur.release = nil
		defer release()
	}
	for attempt := 1; ; attempt++ {
		saved.Ref()
		f := Frame{data: saved}
		tctx, tcancel := ctx, context.CancelFunc(nil)
		if pol.PerTryTimeout > 0 {
			tctx, tcancel = context.WithTimeout(ctx, pol.PerTryTimeout)
		}
		header, trailer, err := c.invoke(tctx, &f)
		err = attemptErr(ctx, err)
		f.Free()
		if tcancel != nil {
			tcancel()
		}
		failed := cur.ep
		cur.DoneWith(err)
		if !c.proxy.retryAgain(ctx, pol, &cur, c.method, attempt, err) {
			return c.reply(header, trailer, err)
		}
		if !c.reconnect(&cur, md, failed) {
			return c.reply(header, trailer, err)
		}
	}
}

// reconnect points cur at another endpoint of its cluster than failed, for the next attempt; false
// when there is none to take it.
func (c *call) reconnect(cur *Upstream, md metadata.MD, failed *Endpoint) bool {
	next, err := connect(cur.parent, cur.cluster, md, failed, nanotime())
	if err != nil {
		return false
	}
	next.Kind, next.Route = cur.Kind, cur.Route
	*cur = next
	c.conn = next.Conn
	return true
}

// invoke makes one unary call upstream, sending req, and returns its header and trailer.
func (c *call) invoke(ctx context.Context, req *Frame) (header, trailer metadata.MD, err error) {
	var resp Frame
	opts := append(c.proxy.callOpts[:len(c.proxy.callOpts):len(c.proxy.callOpts)], grpc.Header(&header), grpc.Trailer(&trailer))
	if err = c.conn.Invoke(ctx, c.method, req, &resp, opts...); err != nil {
		resp.Free()
		return header, trailer, err
	}
	c.resp = resp
	return header, trailer, nil
}

// reply sends the result of a unary call to the client.
func (c *call) reply(header, trailer metadata.MD, err error) error {
	resp := c.resp
	c.resp = Frame{}
	defer resp.Free()
	if len(trailer) > 0 {
		c.ss.SetTrailer(trailer)
	}
	header = c.withHeader(header)
	if err != nil {
		if len(header) > 0 {
			_ = c.ss.SetHeader(header)
		}
		return upstreamErr(err)
	}
	if len(header) > 0 {
		// SetHeader, not SendHeader: header, message and trailer then leave in one write.
		if err := c.ss.SetHeader(header); err != nil {
			return c.headerRefused(err)
		}
	}
	return c.ss.SendMsg(&resp)
}

// headerRefused returns err, the client's stream's refusal of the response's header, as the call's
// status. grpc-go refuses a header on a stream that has ended with Internal ("transport: SendHeader
// called multiple times"), though all that happened is that the client cancelled the call or its
// deadline passed (grpc-go ends the stream then): that is the call's status, as grpc-go's other
// writes to an ended stream report it, and not a fault of the gateway's or the upstream's.
func (c *call) headerRefused(err error) error {
	switch ctx := c.ss.Context(); {
	case ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	case deadlinePassed(ctx): // its timer has yet to end ctx
		return errDeadline
	}
	return err
}

var (
	streamDesc       = grpc.StreamDesc{ClientStreams: true, ServerStreams: true}
	serverStreamDesc = grpc.StreamDesc{ServerStreams: true}
)

// serverStream forwards a call with one request, req (received already), and a stream of responses,
// without goroutines.
func (c *call) serverStream(ctx context.Context, req Frame) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer req.Free()
	cs, err := c.conn.NewStream(ctx, &serverStreamDesc, c.method, c.proxy.callOpts...)
	if err != nil {
		return c.failed(err)
	}
	if err := cs.SendMsg(&req); err != nil && !errors.Is(err, io.EOF) {
		return c.failed(err)
	}
	if err := cs.CloseSend(); err != nil {
		return c.failed(err)
	}
	return c.forwardResponses(cs)
}

// recvRequest receives the request of a unary or server-streaming call (recvOne) in the time the
// proxy allows it (boundRecv).
func (c *call) recvRequest(req *Frame) error {
	end := c.proxy.boundRecv(c.ss)
	err := c.recvOne(req)
	if late := end(); late != nil {
		return late
	}
	return err
}

// recvOne receives the single request message of a unary or server-streaming call, and checks that the
// client sent no other. A call with none or more gets grpc-go's server's answer, which the backend
// would give: the proxy is transparent.
func (c *call) recvOne(req *Frame) error {
	if err := c.ss.RecvMsg(req); err != nil {
		return clientErr(err)
	}
	var extra Frame
	err := c.ss.RecvMsg(&extra)
	extra.Free()
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case err == nil:
		return status.Error(codes.Internal, "cardinality violation: received multiple request messages for non-client-streaming RPC")
	default:
		return err
	}
}

// stream forwards a client- or bidi-streaming call (or one of unknown kind): requests flow upstream in a
// second goroutine while responses flow back in this one.
func (c *call) stream(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := c.conn.NewStream(ctx, &streamDesc, c.method, c.proxy.callOpts...)
	if err != nil {
		return c.failed(err)
	}
	sent := make(chan error, 1)
	go func() {
		err := c.forwardRequests(cs)
		sent <- err
		if err != nil {
			// The requests cannot go on (the client's stream failed: a malformed message, a broken
			// body): cancel the upstream's stream, which would wait for them, so that
			// forwardResponses returns and the call ends with err at once.
			cancel()
		}
	}()

	err = c.forwardResponses(cs)
	// A client still sending when the upstream finished is told so by the upstream's status. If
	// forwarding the requests had failed, that error takes precedence: the upstream's status is
	// then the cancellation above, or an answer to requests the client did not finish sending.
	select {
	case sendErr := <-sent:
		if sendErr != nil {
			return sendErr
		}
	default:
		if errors.Is(context.Cause(c.ss.Context()), errRecvAborted) {
			// The first request was late, and its abort ended the call's context, which ended
			// the upstream's stream too: the receive, ended with it, returns the call's status.
			return <-sent
		}
	}
	return err
}

// forwardRequests copies client messages upstream until the client half-closes or the call ends.
// The first must arrive in the time the proxy allows it (boundRecv); the others may take as long as
// the client likes.
func (c *call) forwardRequests(cs grpc.ClientStream) error {
	var f Frame
	defer f.Free()
	end := c.proxy.boundRecv(c.ss)
	for {
		err := c.ss.RecvMsg(&f)
		if end != nil {
			if late := end(); late != nil {
				return late
			}
			end = nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				_ = cs.CloseSend()
				return nil
			}
			return err
		}
		if err := cs.SendMsg(&f); err != nil {
			// io.EOF means the upstream ended the call; forwardResponses receives its status.
			if errors.Is(err, io.EOF) {
				return nil
			}
			return upstreamErr(err)
		}
	}
}

// forwardResponses copies the upstream's header, messages and trailer to the client and returns the
// upstream's status.
func (c *call) forwardResponses(cs grpc.ClientStream) error {
	header, err := cs.Header()
	if err != nil {
		if len(c.header) > 0 {
			_ = c.ss.SetHeader(c.withHeader(nil)) // sent with the status
		}
		return c.failed(err)
	}
	if header = c.withHeader(header); len(header) > 0 {
		if err := c.ss.SendHeader(header); err != nil {
			return err
		}
	}
	var f Frame
	defer f.Free()
	for {
		if err := cs.RecvMsg(&f); err != nil {
			if t := cs.Trailer(); len(t) > 0 {
				c.ss.SetTrailer(t)
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return c.failed(err)
		}
		if err := c.ss.SendMsg(&f); err != nil {
			return err
		}
	}
}

// failed records err as the upstream's failure and returns its status.
func (c *call) failed(err error) error {
	err = upstreamErr(err)
	c.upErr = err
	return err
}

// upstreamErr passes an upstream's status through unchanged; a transport failure that carries no
// status becomes Unavailable.
func upstreamErr(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return status.Error(codes.Canceled, err.Error())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Errorf(codes.Unavailable, "upstream: %v", err)
}

// clientErr reports a failure to read the request message of a unary or server-streaming call from
// the client. A client that half-closes without one gets grpc-go's answer (see recvOne).
func clientErr(err error) error {
	if errors.Is(err, io.EOF) {
		return status.Error(codes.Internal, "cardinality violation: received no request message from non-client-streaming RPC")
	}
	return err
}

// splitMethod splits "/pkg.Service/Method" into its service and method names.
func splitMethod(fullMethod string) (service, method string) {
	s := strings.TrimPrefix(fullMethod, "/")
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}
