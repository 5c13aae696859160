// Package server assembles the gateway's data plane and admin port: one data listener split between the
// native gRPC server (the proxy) and net/http (gRPC-Web, and the REST and GraphQL fronts), the active
// snapshot behind an atomic pointer, and the admin endpoints.
//
// Control flow: Apply compiles a registry.Spec into a snapshot off the request path and swaps it in;
// every call reads the snapshot current when it starts. Serve runs the listeners until its context ends,
// then drains in-flight calls within the configured grace period.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // accept gzip-compressed calls
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/protogate/gateway/cmd/gateway/internal/listen"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/registry/store"
	"github.com/protogate/gateway/resolvers"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/routing/grpcweb"
	"github.com/protogate/gateway/transcoder"
)

// retireLinger is how long the endpoints only a replaced snapshot held stay connected, taking calls,
// though no longer health-checked: a call that loaded the old snapshot just before the swap still
// finds its endpoint connected. Endpoints with calls in flight stay open until those finish
// regardless.
const retireLinger = 5 * time.Second

// downstreamBufferSize is the read and write buffer of each client connection: twice grpc's default,
// which halves system calls for large messages at a modest cost per connection.
const downstreamBufferSize = 64 << 10

// Server is a running gateway.
type Server struct {
	cfg   *config.Config
	log   *slog.Logger
	pool  *routing.Pool
	proxy *routing.Proxy
	idle  time.Duration // how long an idle data-port connection stays open
	grpc  *grpc.Server  // native gRPC from the data listener (plaintext: h2c with prior knowledge)
	// grpcHTTP serves the native gRPC that reaches the gateway through its HTTP server: every call
	// over TLS, where ALPN hands the connections to net/http, and calls on a connection whose first
	// request was not gRPC. It is a server of its own because grpc's GracefulStop ends such calls at
	// once instead of draining them; the HTTP server's Shutdown drains them.
	grpcHTTP *grpc.Server
	// grpcHeaderBytes bounds native gRPC's header list (limits.max_header_bytes, read at start):
	// grpc-go holds it on its own connections, dataHandler on those through net/http.
	grpcHeaderBytes uint32
	health          *healthService
	web             *grpcweb.Handler
	rest            *restFront
	graphql         graphqlFront
	engine          *policies.Engine
	engOpts         []policies.EngineOption // from options: how the engine is built
	fronts          atomic.Pointer[fronts]  // the HTTP fronts wrapped in the current snapshot's policies
	openapi         http.Handler
	tls             *dataTLS // the data port's, or nil for plaintext
	resetWindow     int      // streams per window of a data-port connection's premature resets (0: the default)
	// readTime is the time a call's request may take to arrive, where the call path bounds it
	// (routing.WithRequestReadTime, transcoder.WithRequestReadTime); zero: the default.
	readTime routing.ReadTime

	store    store.Store
	registry *registry.Registry
	admin    *registry.AdminService

	snap     atomic.Pointer[registry.Snapshot]
	openMu   sync.Mutex // serialises Apply
	opened   bool       // guarded by openMu
	serving  atomic.Bool
	draining atomic.Bool  // set once serving stops, for good
	grace    atomic.Int64 // the drain's time.Duration: shutdown_grace, from New or SetShutdownGrace
	// leaving is done once the drain starts: GraphQL WebSockets then close with 1001 Going Away,
	// each once nothing runs on it (at once, for most).
	leaving context.Context
	leave   context.CancelFunc
	// sockets counts the data port's requests that may have become WebSockets, until their handlers
	// return: the HTTP server's drain does not wait for the connections it handed over.
	sockets sync.WaitGroup
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger; the default discards nothing and writes text to stderr.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithPool sets the endpoint pool, for callers that dial upstreams their own way (TLS, tests).
func WithPool(p *routing.Pool) Option { return func(s *Server) { s.pool = p } }

// WithGraphQL sets the GraphQL front's options (limits, introspection, the query page, persisted
// operations) for snapshots whose spec sets none (registry.Spec.GraphQLFront, from the config
// file's graphql section); the logger and forwarded headers given here apply to every snapshot.
func WithGraphQL(o resolvers.Options) Option { return func(s *Server) { s.graphql.opts = o } }

// WithStore sets where registrations persist; the default is the config's data dir, or memory.
func WithStore(st store.Store) Option { return func(s *Server) { s.store = st } }

// WithIdleTimeout sets how long a data-port connection with nothing in flight stays open (default
// DefaultIdleTimeout).
func WithIdleTimeout(d time.Duration) Option { return func(s *Server) { s.idle = d } }

// withRequestReadTime sets the time a call's request may take to arrive, where the call path
// bounds it: a gRPC call's request message, a REST stream's first (the limits policy bounds the
// HTTP fronts' bodies by its own). Tests shorten it.
func withRequestReadTime(t routing.ReadTime) Option { return func(s *Server) { s.readTime = t } }

// WithContext bounds what building the serving state waits for (Apply, at start and at a reload)
// with ctx: the key sets of the identity providers fetched from their jwks_url. Once ctx ends they
// are waited for no longer. serve passes the context its stop signals end, so that one arriving
// while the gateway starts ends the start at once (and Serve, given that context, serves nothing).
func WithContext(ctx context.Context) Option {
	return func(s *Server) { s.engOpts = append(s.engOpts, policies.WithContext(ctx)) }
}

// Connection limits of the data port.
const (
	// DefaultIdleTimeout is how long a connection with no request or call in flight stays open: an
	// HTTP/1.1 keep-alive connection waiting for its next request, an HTTP/2 or gRPC connection with
	// no stream. Clients reconnect as they need, and one that went away without closing holds
	// nothing for longer than this.
	DefaultIdleTimeout = 5 * time.Minute
	// MaxConcurrentStreams bounds the streams (calls) one HTTP/2 connection may have open at once,
	// native gRPC's included: a client may not hold unbounded calls, or reset streams faster than
	// the gateway serves them, on one connection. Clients queue calls beyond it.
	MaxConcurrentStreams = 1000
)

// New builds a gateway for cfg. It serves nothing until Apply publishes a first snapshot and Serve runs.
func New(cfg *config.Config, opts ...Option) (*Server, error) {
	if cfg == nil {
		cfg = config.Default()
	}
	s := &Server{cfg: cfg, log: slog.Default(), idle: DefaultIdleTimeout}
	for _, o := range opts {
		o(s)
	}
	s.grace.Store(int64(cfg.ShutdownGrace))
	if cfg.TLS.Enabled() {
		// Loaded now rather than when Serve listens: material that does not load fails the start
		// before any snapshot is published.
		var err error
		if s.tls, err = newDataTLS(cfg.TLS); err != nil {
			return nil, err
		}
		warnExpiry(s.log, cfg.TLS.CertFile, s.tls.cur.Load(), time.Now())
	}
	engine, err := policies.NewEngine(cfg.Policies, s.log, append([]policies.EngineOption{
		policies.WithEndpointStats(func() []routing.EndpointStats { return s.pool.Stats() }),
		policies.WithSnapshotInfo(func() (uint64, int) {
			snap := s.current()
			return snap.Version(), len(snap.Registrations())
		})}, s.engOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	s.engine = engine
	if s.pool == nil {
		s.pool = routing.NewPool(routing.DialWith(engine.Telemetry().DialOptions()...), routing.WithPoolLogger(s.log))
	}
	if s.store == nil {
		if cfg.DataDir == "" {
			s.store = store.NewMemory()
		} else {
			st, err := store.Open(cfg.DataDir)
			if err != nil {
				return nil, err // it names the data dir
			}
			s.store = st
		}
	}
	s.registry = registry.New(s.store, s.pool, s.publish, registry.WithLogger(s.log), registry.WithKeepVersions(cfg.KeepVersions))
	s.admin = registry.NewAdminService(s.registry)
	maxMsg := int(cfg.GRPC.MaxMessageBytes)
	if maxMsg <= 0 {
		maxMsg = 4 << 20
	}
	s.proxy = routing.NewProxy(s.state, routing.WithMaxMessageSize(maxMsg), routing.WithRequestReadTime(s.readTime))
	s.leaving, s.leave = context.WithCancel(context.Background())
	s.graphql.stopping = s.leaving
	s.graphql.serving = &s.fronts
	s.grpcHeaderBytes = headerListSize(cfg.Policies.Limits)
	grpcOpts := []grpc.ServerOption{
		grpc.UnaryInterceptor(s.interceptUnary),
		grpc.UnknownServiceHandler(s.proxy.Handler),
		grpc.ForceServerCodecV2(routing.Codec{}),
		// What clients send is bounded here; what the gateway sends them is not: a proxied answer
		// was bounded as it came from the upstream (the proxy's own limit), and the gateway's
		// own services' answers (reflection's file descriptors) are not the proxied messages the
		// limit is for.
		grpc.MaxRecvMsgSize(maxMsg),
		grpc.ReadBufferSize(downstreamBufferSize),
		grpc.WriteBufferSize(downstreamBufferSize),
		// policies.limits.max_header_bytes bounds native gRPC's header list too (HTTP/2 SETTINGS).
		grpc.MaxHeaderListSize(http2HeaderListSize(s.grpcHeaderBytes, cfg.Policies.Limits)),
		grpc.MaxConcurrentStreams(MaxConcurrentStreams),
		// An idle connection gets GOAWAY; grpc's default keeps it forever.
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: s.idle}),
		// The proxy can end a call whose request is late (on grpc-go's own connections; dataHandler
		// does it for those through net/http, where grpc-go runs no tap handle).
		grpc.InTapHandle(routing.AbortableRecv),
	}
	// The listener's server counts its calls' premature resets itself (resets.go); the HTTP
	// server's calls are counted as its requests.
	listenerOpts := append(slices.Clip(grpcOpts), grpc.Creds(newResetCreds()), grpc.StreamInterceptor(s.interceptCounted))
	httpOpts := append(slices.Clip(grpcOpts), grpc.StreamInterceptor(s.intercept))
	// Reuse a fixed set of goroutines (with grown stacks) for calls instead of one new goroutine
	// each, on the server that takes most calls: the HTTP server's over TLS, else the listener's.
	workers := grpc.NumStreamWorkers(uint32(streamWorkers()))
	if cfg.TLS.Enabled() {
		httpOpts = append(httpOpts, workers)
	} else {
		listenerOpts = append(listenerOpts, workers)
	}
	s.grpc, s.grpcHTTP = grpc.NewServer(listenerOpts...), grpc.NewServer(httpOpts...)
	s.web = grpcweb.NewHandler(s.proxy.Handler, grpcweb.WithCodec(routing.Codec{}), grpcweb.WithMaxMessageSize(maxMsg))
	// The services the gateway answers itself, one implementation of each registered on both gRPC
	// servers and on the gRPC-Web front, which dispatch between them and the proxy alike. None of
	// the three runs them through the proxy, so no front admits them by the method policies. The
	// listener's server counts their unary calls' premature resets (countUnary).
	s.health = newHealthService(s.pool) // the gateway's own status and each fronted service's
	for _, r := range []grpc.ServiceRegistrar{countUnary{s.grpc}, s.grpcHTTP, s.web} {
		healthpb.RegisterHealthServer(r, s.health)
	}
	routing.RegisterReflection(s.grpc, s.catalog, s.grpcHTTP, s.web)
	streams, err := transcoder.NewStreams() // REST streaming: NDJSON, SSE, WebSocket
	if err != nil {
		return nil, err
	}
	s.rest = &restFront{streams: streams}
	rest, err := s.rest.build(cfg, s)
	if err != nil {
		return nil, err
	}
	s.rest.h.Store(rest)
	s.openapi = transcoder.OpenAPIHandler(func() ([]byte, error) {
		snap := s.current()
		return snap.OpenAPI(), snap.OpenAPIError()
	})
	return s, nil
}

// headerListSize is the HTTP/2 header list size native gRPC accepts: limits.max_header_bytes, by
// default its default. (HTTP/2 counts 32 bytes of overhead per header field; the limit is on the
// same order as the HTTP fronts' count of name, value and 2 bytes.)
func headerListSize(l config.Limits) uint32 {
	if l.MaxHeaderBytes > 0 && l.MaxHeaderBytes <= math.MaxUint32 {
		return uint32(l.MaxHeaderBytes)
	}
	return uint32(config.DefaultMaxHeaderBytes)
}

// http2HeaderListSize is the header list size native gRPC's HTTP/2 settings announce on h2c, where
// grpc-go enforces it itself: HTTP/2 counts 32 bytes per field where max_header_bytes counts 2, so
// the setting adds the 30 more for as many fields as max_header_count allows. A list within
// max_header_bytes, as the HTTP fronts count it, then passes on h2c as it does over TLS (where the
// gateway counts itself, CheckHeaderBytes).
func http2HeaderListSize(headerBytes uint32, l config.Limits) uint32 {
	count := l.MaxHeaderCount
	if count <= 0 {
		count = config.DefaultMaxHeaderCount
	}
	return uint32(min(uint64(headerBytes)+30*uint64(count), math.MaxUint32))
}

func (s *Server) state() routing.State     { return s.current() }
func (s *Server) catalog() routing.Catalog { return s.current() }

// emptySnapshot serves before the first Apply: nothing is routed.
var emptySnapshot = func() *registry.Snapshot {
	snap, err := registry.Compile(registry.Spec{}, routing.NewPool(nil), 0)
	if err != nil {
		panic(err) // an empty spec always compiles
	}
	return snap
}()

func (s *Server) current() *registry.Snapshot {
	if snap := s.snap.Load(); snap != nil {
		return snap
	}
	return emptySnapshot
}

// Snapshot returns the active snapshot, or nil before the first Apply.
func (s *Server) Snapshot() *registry.Snapshot { return s.snap.Load() }

// Config is the configuration the server started with.
func (s *Server) Config() *config.Config { return s.cfg }

// SetShutdownGrace sets how long in-flight calls may drain once Serve's context ends, as a reload's
// shutdown_grace; zero or less means 30s.
func (s *Server) SetShutdownGrace(d time.Duration) { s.grace.Store(int64(d)) }

// StartOnlyChanges names, by their paths in the config file, the settings in which cfg differs from
// the configuration the server started with and that it reads at start only: New and Serve build
// the listeners, the store and registry, the gRPC server and the telemetry from them once. A reload
// applies every other setting, through Apply, PrepareREST, PrepareTLS and SetShutdownGrace; these
// keep their start values until a restart. Of tls, that is whether the port serves TLS at all: its
// files, and which they are, reload.
func (s *Server) StartOnlyChanges(cfg *config.Config) []string {
	start := s.cfg
	var changed []string
	note := func(setting string, differs bool) {
		if differs {
			changed = append(changed, setting)
		}
	}
	note("listen", cfg.Listen != start.Listen)
	note("admin_listen", cfg.AdminListen != start.AdminListen)
	note("data_dir", cfg.DataDir != start.DataDir)
	note("keep_versions", cfg.KeepVersions != start.KeepVersions)
	note("tls", cfg.TLS.Enabled() != start.TLS.Enabled())
	note("grpc.max_message_bytes", cfg.GRPC.MaxMessageBytes != start.GRPC.MaxMessageBytes)
	// Each snapshot's policies check the HTTP fronts' requests against the limits it was compiled
	// with; what New built from two of them stays: native gRPC's bound on headers, max_header_bytes
	// (over TLS and h2c) plus 30 bytes for each of max_header_count fields (h2c's HTTP/2 setting).
	note("policies.limits.max_header_bytes", cfg.Policies.Limits.MaxHeaderBytes != start.Policies.Limits.MaxHeaderBytes)
	note("policies.limits.max_header_count", cfg.Policies.Limits.MaxHeaderCount != start.Policies.Limits.MaxHeaderCount)
	note("policies.tracing", !sameTracing(cfg.Policies.Tracing, start.Policies.Tracing))
	note("policies.metrics", cfg.Policies.Metrics != start.Policies.Metrics)
	note("policies.access_log", !sameAccessLog(cfg.Policies.AccessLog, start.Policies.AccessLog))
	return changed
}

// sameTracing reports whether two tracing sections are alike; an empty list of headers is like none.
func sameTracing(a, b config.Tracing) bool {
	headers := slices.Equal(a.Headers, b.Headers)
	a.Headers, b.Headers = nil, nil
	return headers && reflect.DeepEqual(a, b)
}

// sameAccessLog reports whether two access_log sections are alike; an empty list of headers is like
// none.
func sameAccessLog(a, b config.AccessLog) bool {
	headers := slices.Equal(a.Headers, b.Headers)
	a.Headers, b.Headers = nil, nil
	return headers && reflect.DeepEqual(a, b)
}

// Registry is the gateway's service registry.
func (s *Server) Registry() *registry.Registry { return s.registry }

// Apply makes spec the config-derived part of the serving state (clusters, routes, static
// registrations); registrations made through the admin API are kept. The first Apply also loads the
// registrations persisted in the store. On error the serving snapshot is unchanged. Each cluster
// whose endpoints' certificates go unverified (tls.insecure_skip_verify) is warned about once per
// Apply that takes it, and so are the GraphQL links and overrides and the policy rules that wait for
// a service or method not registered yet (registry.Snapshot.WaitingGraphQL, WaitingRules), the
// policy rules that apply to no call (UnmatchedRules) and the routes that never win
// (ShadowedRoutes): once per Apply, at start and at each reload, never per call. The persisted
// GraphQL operations that do not validate against a snapshot's schema are warned about for every
// snapshot published (resolvers.Handler.PersistedProblems), since registrations change the schema.
func (s *Server) Apply(spec registry.Spec) (*registry.Snapshot, error) {
	if spec.Admission == nil {
		spec.Admission = s.admission
	}
	s.openMu.Lock()
	defer s.openMu.Unlock()
	var (
		snap *registry.Snapshot
		err  error
	)
	if !s.opened {
		if snap, err = s.registry.Open(context.Background(), spec); err == nil {
			s.opened = true
		}
	} else {
		snap, err = s.registry.SetBase(spec)
	}
	if err != nil {
		return nil, err
	}
	for _, c := range spec.Clusters {
		if t := c.Config.Transport.TLS; t != nil && t.InsecureSkipVerify {
			s.log.Warn("cluster endpoints' TLS certificates are not verified (tls.insecure_skip_verify): anyone on the path can pose as them; use it for tests only",
				"cluster", c.Name)
		}
	}
	if waiting := snap.WaitingGraphQL(); len(waiting) > 0 {
		s.log.Warn("GraphQL links and overrides wait: each applies once a registration brings what it names (a misspelt name never will)",
			"waiting", strings.Join(waiting, "; "))
	}
	if waiting := snap.WaitingRules(); len(waiting) > 0 {
		s.log.Warn("policy rules wait: each applies once a registration brings the service it names (a misspelt name never will)",
			"waiting", strings.Join(waiting, "; "))
	}
	if rules := snap.UnmatchedRules(); len(rules) > 0 {
		s.log.Warn("policy rules apply to no call: the method they name is not their service's, or the service is the gateway's own (a misspelt name?)",
			"rules", strings.Join(rules, "; "))
	}
	if routes := snap.ShadowedRoutes(); len(routes) > 0 {
		s.log.Warn("routes never win: an earlier route of the same match takes every call they match",
			"routes", strings.Join(routes, "; "))
	}
	return snap, nil
}

// publish makes snap current; the registry calls it for every snapshot it accepts.
func (s *Server) publish(snap *registry.Snapshot) {
	gql, err := s.graphql.build(snap, s.proxy)
	if err != nil {
		s.log.Error("snapshot has no GraphQL API", "version", snap.Version(), "err", err)
	}
	if gql.handler != nil {
		// Each snapshot's schema anew: a registration may bring what an operation lacks, or take it.
		if problems := gql.handler.PersistedProblems(); len(problems) > 0 {
			s.log.Warn("GraphQL persisted operations do not validate against the snapshot's schema: calls to them answer INTERNAL until the config corrects them or a registration brings what they need",
				"version", snap.Version(), "operations", strings.Join(problems, "; "))
		}
	}
	s.fronts.Store(s.wrapFronts(snap, gql))
	if err := snap.OpenAPIError(); err != nil {
		s.log.Warn("snapshot has no OpenAPI document; /openapi.json answers 503", "version", snap.Version(), "err", err)
	}
	if omitted := snap.OpenAPIOmitted(); len(omitted) > 0 {
		s.log.Warn("the OpenAPI document leaves out bindings it cannot describe; the REST front serves them all the same",
			"version", snap.Version(), "bindings", strings.Join(omitted, "; "))
	}
	old := s.snap.Swap(snap)
	s.health.publish(snap)
	if old != nil {
		old.RetireLingering(s.pool, retireLinger)
	}
	s.log.Info("snapshot active", "version", snap.Version(), "services", len(snap.Services()))
}

// Ready reports whether a snapshot is serving on running listeners.
func (s *Server) Ready() bool { return s.serving.Load() && s.snap.Load() != nil }

// Serve listens on the configured data and admin addresses and serves until ctx is done, then stops
// accepting, drains in-flight calls for up to the configured grace period, and returns nil. ready, when
// not nil, is closed once both listeners accept connections. With ctx done already (the gateway was
// told to stop while it started) it listens on nothing: it releases what New and Apply opened and
// returns nil.
func (s *Server) Serve(ctx context.Context, ready chan<- struct{}) error {
	if ctx.Err() != nil {
		s.release()
		return nil
	}
	dataLn, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("data listener: %w", err)
	}
	adminLn, err := net.Listen("tcp", s.cfg.AdminListen)
	if err != nil {
		dataLn.Close()
		return fmt.Errorf("admin listener: %w", err)
	}
	return s.ServeListeners(ctx, dataLn, adminLn, ready)
}

// ServeListeners is Serve on listeners the caller opened.
func (s *Server) ServeListeners(ctx context.Context, dataLn, adminLn net.Listener, ready chan<- struct{}) error {
	adminHandler, adminGRPC, err := s.adminHandler(ctx)
	if err != nil {
		dataLn.Close()
		adminLn.Close()
		return err
	}
	admin := &http.Server{Handler: adminHandler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: httpErrorLog(s.log)}
	admin.Protocols = new(http.Protocols)
	admin.Protocols.SetHTTP1(true)
	admin.Protocols.SetUnencryptedHTTP2(true)
	data := &http.Server{Handler: countResets(s.dataHandler()), ConnContext: resetsConnContext,
		ReadHeaderTimeout: 30 * time.Second, IdleTimeout: s.idle,
		HTTP2: &http.HTTP2Config{MaxConcurrentStreams: MaxConcurrentStreams}, ErrorLog: httpErrorLog(s.log)}
	data.Protocols = new(http.Protocols)
	data.Protocols.SetHTTP1(true)

	errc := make(chan error, 4)
	var split *listen.Split
	guarded := s.guard(dataLn)
	if s.tls != nil {
		data.TLSConfig = s.tls.listener
		data.Protocols.SetHTTP2(true)
		go func() { errc <- serveHTTP(data, tls.NewListener(guarded, s.tls.listener)) }()
	} else {
		data.Protocols.SetUnencryptedHTTP2(true)
		split = listen.New(guarded)
		go func() { errc <- split.Serve() }()
		go func() { errc <- s.grpc.Serve(split.GRPC()) }()
		go func() { errc <- serveHTTP(data, split.HTTP()) }()
	}
	go func() { errc <- serveHTTP(admin, adminLn) }()

	s.serving.Store(true)
	s.log.Info("gateway listening", "data", dataLn.Addr().String(), "admin", adminLn.Addr().String(), "tls", s.tls != nil)
	if ready != nil {
		close(ready)
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.draining.Store(true)
	s.serving.Store(false)
	s.shutdown(split, data, admin, adminGRPC)
	return serveErr
}

func serveHTTP(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// shutdown stops accepting and drains in-flight calls within the grace period, then cuts what remains.
func (s *Server) shutdown(split *listen.Split, data, admin *http.Server, adminGRPC *grpc.Server) {
	grace := time.Duration(s.grace.Load())
	if grace <= 0 {
		grace = 30 * time.Second
	}
	s.log.Info("draining", "grace", grace.String())
	s.health.drain()
	s.leave()
	if split != nil {
		_ = split.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	// Streams run for as long as their clients like, and would hold the drain to its end, then be
	// cut. Shortly before it ends they are ended instead, each with UNAVAILABLE "the gateway is
	// shutting down" in its front's shape (a gRPC status, an NDJSON, SSE or REST WebSocket error,
	// a GraphQL error), which its client can act on.
	endStreams := time.AfterFunc(grace-min(time.Second, grace/2), s.proxy.EndStreams)
	defer endStreams.Stop()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		stopped := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-ctx.Done():
			s.grpc.Stop()
		}
	}()
	go func() {
		defer wg.Done()
		if err := data.Shutdown(ctx); err != nil {
			_ = data.Close()
			return
		}
		// No request can start once Shutdown has returned, so every WebSocket is counted in
		// s.sockets. Each closes as its front has it (on s.leaving, or as its stream ends), or,
		// still open when the grace ends, is cut when the process exits.
		closed := make(chan struct{})
		go func() { s.sockets.Wait(); close(closed) }()
		select {
		case <-closed:
		case <-ctx.Done():
		}
	}()
	wg.Wait()
	s.grpcHTTP.Stop() // its calls were the HTTP server's, drained by Shutdown: what is left is cut
	adminGRPC.Stop()
	_ = admin.Close()
	s.release()
}

// release stops the registry's and the policies' background work, closes the store, and closes
// the upstream connections.
func (s *Server) release() {
	s.registry.Close()
	if err := s.engine.Close(); err != nil {
		s.log.Warn("stopping the policies", "err", err)
	}
	if err := s.store.Close(); err != nil {
		s.log.Warn("closing the store", "err", err)
	}
	if snap := s.snap.Load(); snap != nil {
		snap.Retire(s.pool)
	}
	_ = s.pool.Close()
	s.log.Info("stopped")
}

// isGRPC reports whether r is a native gRPC call (not gRPC-Web).
func isGRPC(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return r.ProtoMajor == 2 && strings.HasPrefix(ct, "application/grpc") && !strings.HasPrefix(ct, "application/grpc-web")
}

// streamWorkers is how many goroutines serve native gRPC calls (grpc.NumStreamWorkers). A worker
// serves one call at a time, start to end, so a proxy's workers are busy for the upstream's whole
// round trip: with fewer of them than the calls in flight, the rest each start a new goroutine
// whose stack grows from small, call after call (a tenth of a proxied call's CPU). Workers keep
// their grown stacks until the garbage collector shrinks an idle one's; idle ones cost only those.
// With 64 calls in flight on two cores (gateway bench), 16 workers per core left stack growth at
// 9% of the gateway's CPU, 64 per core at 1.5%.
func streamWorkers() int { return 64 * runtime.GOMAXPROCS(0) }
