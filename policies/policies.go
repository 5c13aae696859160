package policies

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/auth"
	"github.com/protogate/gateway/policies/cors"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/ratelimit"
	"github.com/protogate/gateway/policies/sanitize"
	"github.com/protogate/gateway/policies/telemetry"
	"github.com/protogate/gateway/policies/waf"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/transcoder"
)

// retireAfter is how long a module replaced by a new configuration keeps running, so that a snapshot
// compiled with it that is still serving (or a compile that then failed) keeps working meanwhile.
const retireAfter = 30 * time.Second

// Engine compiles policy sets and keeps the policies' long-lived state. One Engine serves a gateway for
// its lifetime; Compile is called for every snapshot.
type Engine struct {
	log *slog.Logger
	ctx context.Context // WithContext's: bounds the waits of building modules

	mu     sync.Mutex // serialises Compile and Close
	auth   module[config.Auth, *auth.Authenticator]
	limits module[config.RateLimit, *ratelimit.Limiter]
	waf    module[config.WAF, *waf.Firewall]
	tel    *telemetry.Telemetry
}

// EngineOption configures NewEngine.
type EngineOption func(*engineOptions)

type engineOptions struct {
	tel telemetry.Config
	ctx context.Context
}

// WithEndpointStats makes the metrics report the upstream endpoints' state (breakers, health,
// ejections, calls in flight) from stats, called at each scrape: routing.Pool.Stats.
func WithEndpointStats(stats func() []routing.EndpointStats) EngineOption {
	return func(o *engineOptions) { o.tel.Endpoints = stats }
}

// WithSnapshotInfo makes the metrics report the serving snapshot's version and number of
// registrations, from info, called at each scrape.
func WithSnapshotInfo(info func() (version uint64, registrations int)) EngineOption {
	return func(o *engineOptions) { o.tel.Snapshot = info }
}

// WithAccessLogWriter sends the access-log lines to w, whatever access_log.output says, and turns
// the access log on (embedding programs, benchmarks).
func WithAccessLogWriter(w io.Writer) EngineOption {
	return func(o *engineOptions) { o.tel.AccessLogWriter = w }
}

// WithContext bounds what Compile waits for with ctx: the key sets a new authenticator fetches
// from jwks_url before it serves (auth.WithContext). Once ctx ends they are waited for no longer,
// so a gateway told to stop while it starts is not held up by an identity provider. Default:
// context.Background().
func WithContext(ctx context.Context) EngineOption {
	return func(o *engineOptions) { o.ctx = ctx }
}

// NewEngine starts an engine. Telemetry is built here, from the policies the gateway starts with: the
// upstream connections it instruments are dialled with its options for the gateway's lifetime.
func NewEngine(initial config.Policies, log *slog.Logger, opts ...EngineOption) (*Engine, error) {
	if log == nil {
		log = slog.Default()
	}
	o := engineOptions{ctx: context.Background(),
		tel: telemetry.Config{Tracing: initial.Tracing, Metrics: initial.Metrics, AccessLog: initial.AccessLog}}
	if h := initial.Auth.APIKeys.Header; h != "" {
		o.tel.SecretHeaders = []string{h}
	}
	for _, opt := range opts {
		opt(&o)
	}
	tel, err := telemetry.New(o.tel, log)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	return &Engine{log: log, ctx: o.ctx, tel: tel}, nil
}

// Telemetry is the engine's telemetry: /metrics, upstream dial options.
func (e *Engine) Telemetry() *telemetry.Telemetry { return e.tel }

// Auth is the authenticator of the most recently compiled policies (the admin port's credentials).
func (e *Engine) Auth() *auth.Authenticator {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.auth.cur
}

// Close stops every module's background work.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	if e.auth.cur != nil {
		errs = append(errs, e.auth.cur.Close())
	}
	if e.limits.cur != nil {
		errs = append(errs, e.limits.cur.Close())
	}
	errs = append(errs, e.tel.Close())
	return errors.Join(errs...)
}

// module is a long-lived policy module, the configuration it was built from, and the digest of the
// files that configuration names (see files.go), as they were read before it was built.
type module[C any, M any] struct {
	cfg   C
	files [sha256.Size]byte
	cur   M
	built bool
}

// update returns the module for cfg, whose configuration names files: the current one when cfg and
// the files' contents are unchanged, else a new one from build. A new module becomes the current
// one only if the Compile that asked for it succeeds: update appends to pending what to do then, ok
// telling whether it did. A module replaced is closed (when it can be) after retireAfter; a new one
// whose Compile failed, which no snapshot uses, at once.
func update[C any, M any](m *module[C, M], cfg C, files []namedFile, build func(C) (M, error), pending *[]func(ok bool)) (M, error) {
	var zero M
	// Read before build reads them: should a file change in between, the digest kept is the older
	// content's, and the next Compile builds again.
	sum, err := digest(files)
	if err != nil {
		return zero, err
	}
	if m.built && m.files == sum && reflect.DeepEqual(m.cfg, cfg) {
		return m.cur, nil
	}
	next, err := build(cfg)
	if err != nil {
		return zero, err
	}
	*pending = append(*pending, func(ok bool) {
		if !ok {
			closeModule(next)
			return
		}
		if m.built {
			old := m.cur
			time.AfterFunc(retireAfter, func() { closeModule(old) })
		}
		m.cfg, m.files, m.cur, m.built = cfg, sum, next, true
	})
	return next, nil
}

// closeModule stops a module's background work, when it has any.
func closeModule(m any) {
	if c, ok := m.(interface{ Close() error }); ok && !isNil(c) {
		_ = c.Close()
	}
}

func isNil(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// Resolver maps an HTTP request to the REST binding it calls (the snapshot's REST router), for the
// policies that act on the HTTP request but are configured per method (the WAF's mode, the
// telemetry's method of a refused request) or read its body as the REST front will (the WAF).
type Resolver func(r *http.Request) (b *transcoder.Binding, ok bool)

// Compile builds the policy set of a snapshot whose methods (full names, "/pkg.Service/Method") are
// given; resolve, which may be nil, maps its REST requests to bindings. On error nothing of the
// serving state changes.
func (e *Engine) Compile(cfg config.Policies, methods []string, resolve Resolver) (_ *Set, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	// Modules built for this set replace the engine's only once the whole set compiles: a set refused
	// for one section's sake leaves every module as it was.
	var pending []func(ok bool)
	defer func() {
		for _, done := range pending {
			done(err == nil)
		}
	}()
	authn, err := update(&e.auth, cfg.Auth, authFiles(cfg.Auth), func(c config.Auth) (*auth.Authenticator, error) {
		// JWKS fetch failures go to the gateway's log; a provider kept across the change keeps its
		// keys should its identity provider be down just now.
		return auth.NewWithOptions(c, auth.WithLogger(e.log), auth.WithPrevious(e.auth.cur), auth.WithContext(e.ctx))
	}, &pending)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	// No files for the limiter: it reads its Redis TLS files again itself whenever it connects
	// after one changed (and config validation checks them at every reload), so a renewed
	// certificate takes effect without a new limiter, which would lose the counts of calls in flight.
	// Nor the header fields: the steps below render them, for every snapshot, so changing them
	// keeps the limiter and its buckets.
	limiter, err := update(&e.limits, cfg.RateLimit.LimiterSettings(), nil, func(c config.RateLimit) (*ratelimit.Limiter, error) {
		// The store failing and recovering go to the gateway's log; a new store that answers
		// ends the outage of the one it replaces.
		return ratelimit.New(c, ratelimit.WithLogger(e.log), ratelimit.WithPrevious(e.limits.cur))
	}, &pending)
	if err != nil {
		return nil, fmt.Errorf("rate_limit: %w", err)
	}
	var firewall *waf.Firewall
	if waf.Enabled(cfg) { // loading the rule set takes a second: only when some request can meet it
		if firewall, err = update(&e.waf, cfg.WAF, wafFiles(cfg.WAF), func(c config.WAF) (*waf.Firewall, error) { return waf.New(c, e.log) }, &pending); err != nil {
			return nil, err // waf.New's errors name the section
		}
	}

	s := &Set{
		rules:   cfg.Rules,
		resolve: resolve,
		strip:   authn.IdentityHeaders(),
		chains:  make(map[string]*chain, len(methods)),
		byRules: make(map[ruleSet]*chain),
		tel:     e.tel,
	}
	// Compile each rule's steps once; methods that pick the same rules share one chain.
	if s.steps, err = compileRules(cfg, authn, limiter); err != nil {
		return nil, err
	}
	s.record = e.tel.Step()
	for _, m := range methods {
		s.chains[m] = s.chainOf(s.pick(m))
	}
	// A GraphQL request may call any method: it gets the strictest WAF mode of them all, so no
	// method's protection is weakened by reaching it through GraphQL.
	graphqlModes := []string{cfg.WAF.Mode}
	for _, m := range methods {
		graphqlModes = append(graphqlModes, s.ruleWAF(m))
	}
	s.graphqlWAF = waf.Strictest(graphqlModes...)

	// Request policies, outermost first. The telemetry's, outermost, also records the front and
	// peer in the request's context (see Wrap).
	s.telemetryMW = e.tel.MiddlewareWith(baseContext, methodOf(s.resolve))
	corsMW, err := cors.New(cfg.CORS)
	if err != nil {
		return nil, fmt.Errorf("cors: %w", err)
	}
	if corsMW != nil {
		s.middleware = append(s.middleware, corsMW)
	}
	limitsMW, err := sanitize.New(cfg.Limits)
	if err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	if limitsMW != nil {
		s.middleware = append(s.middleware, limitsMW)
	}
	if firewall != nil {
		if mw := firewall.Middleware(s.wafRoute); mw != nil {
			s.middleware = append(s.middleware, mw)
		}
	}
	s.interceptor = e.tel.StreamInterceptor()
	return s, nil
}

// compileRules compiles each rule's steps, once: methods that pick the same rules share them.
func compileRules(cfg config.Policies, authn *auth.Authenticator, limiter *ratelimit.Limiter) ([]ruleSteps, error) {
	steps := make([]ruleSteps, len(cfg.Rules))
	for i, r := range cfg.Rules {
		rs := &steps[i]
		var err error
		if rs.auth, err = authn.Step(r.Auth); err != nil {
			return nil, fmt.Errorf("%s: auth: %w", r.Name, err)
		}
		if rs.rate, err = limiter.Step(r.Name, r.RateLimit, cfg.RateLimit.HeaderFields); err != nil {
			return nil, fmt.Errorf("%s: rate_limit: %w", r.Name, err)
		}
		if rs.concurrency, err = limiter.ConcurrencyStep(r.Name, r.Concurrency); err != nil {
			return nil, fmt.Errorf("%s: concurrency: %w", r.Name, err)
		}
	}
	return steps, nil
}

// ruleSteps are one rule's compiled steps; nil where the rule does not set the aspect.
type ruleSteps struct {
	auth, rate, concurrency policy.Step
}

// ruleSet names, for one method, the index of the rule that decides each aspect (-1: none).
type ruleSet struct{ auth, rate, concurrency int }

// chain is the compiled admission of the methods that pick one ruleSet.
type chain struct {
	steps []policy.Step
}

// Set is the compiled policies of one snapshot: the admitter of its calls and the wrappers of its
// fronts. It is immutable and safe for concurrent use.
type Set struct {
	rules   []config.PolicyRule
	steps   []ruleSteps
	record  policy.Step // telemetry's record of the admitted call, or nil
	strip   []string    // identity metadata keys no client may send
	resolve Resolver    // request -> REST binding, or nil
	// graphqlWAF is the WAF mode of GraphQL requests: the strictest of every method's.
	graphqlWAF string

	chains  map[string]*chain // by full method name
	mu      sync.Mutex        // guards byRules after Compile
	byRules map[ruleSet]*chain

	calls sync.Pool // of *policy.Call

	middleware  []policy.Middleware                           // outermost first, after telemetryMW
	telemetryMW func(policy.Front, http.Handler) http.Handler // outermost; applies baseContext; or nil
	interceptor grpc.StreamServerInterceptor
	tel         *telemetry.Telemetry
}

// pick finds, for each aspect, the first rule that matches method and sets the aspect.
func (s *Set) pick(method string) ruleSet {
	rs := ruleSet{-1, -1, -1}
	for i, r := range s.rules {
		if !r.Match.Matches(method) {
			continue
		}
		st := &s.steps[i]
		if rs.auth < 0 && st.auth != nil {
			rs.auth = i
		}
		if rs.rate < 0 && st.rate != nil {
			rs.rate = i
		}
		if rs.concurrency < 0 && st.concurrency != nil {
			rs.concurrency = i
		}
	}
	return rs
}

// chainOf returns the shared chain of a ruleSet, building it the first time. Authentication comes
// first (limits may be keyed by consumer), then the telemetry record, the rate limit, and the
// concurrency limit last, so a call refused by the rate limit holds no slot.
func (s *Set) chainOf(rs ruleSet) *chain {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.byRules[rs]; ok {
		return c
	}
	c := new(chain)
	if rs.auth >= 0 {
		c.steps = append(c.steps, s.steps[rs.auth].auth)
	}
	if s.record != nil {
		c.steps = append(c.steps, s.record)
	}
	if rs.rate >= 0 {
		c.steps = append(c.steps, s.steps[rs.rate].rate)
	}
	if rs.concurrency >= 0 {
		c.steps = append(c.steps, s.steps[rs.concurrency].concurrency)
	}
	s.byRules[rs] = c
	return c
}

// Admit runs the method's chain on the call, weighing cost (at least 1) for the rate limits; see
// routing.Admitter. A method the snapshot has no descriptor for (proxied by an explicit route) gets
// the chain its rules pick, found by matching the rules now: rare, and no slower than a route match.
func (s *Set) Admit(ctx context.Context, method string, md metadata.MD, owned bool, cost int) (routing.Admission, error) {
	ch, registered := s.chains[method]
	if !registered {
		ch = s.chainOf(s.pick(method))
	}
	if len(ch.steps) == 0 && !s.spoofed(md) {
		return routing.Admission{Upstream: md}, nil
	}
	c := s.getCall()
	c.Ctx, c.Method, c.Unregistered, c.MD, c.Cost = ctx, method, !registered, md, max(cost, 1)
	c.Front, c.Peer = policy.FrontAndPeerFrom(ctx)
	for _, k := range s.strip {
		if _, ok := md[k]; ok {
			c.StripUpstream(k)
		}
	}
	for _, st := range ch.steps {
		if err := st.Admit(c); err != nil {
			telemetry.Denied(ctx, method, !registered, err)
			c.Finish()
			s.putCall(c)
			return routing.Admission{}, err
		}
	}
	adm := routing.Admission{Upstream: c.Upstream(md, owned), Header: c.ResponseHeaderPairs()}
	if c.Releases() {
		adm.Release = c.Finish // c lives on until the call ends: the GC gets it then
		return adm, nil
	}
	s.putCall(c)
	return adm, nil
}

// getCall returns an empty Call.
func (s *Set) getCall() *policy.Call {
	if c, ok := s.calls.Get().(*policy.Call); ok {
		return c
	}
	return new(policy.Call)
}

// putCall recycles a Call that nothing refers to any more: that of an admission refused, or
// admitted holding nothing (no concurrency slot), nearly all of them. No Step keeps a Call
// beyond its Admit.
func (s *Set) putCall(c *policy.Call) {
	c.Reset()
	s.calls.Put(c)
}

// spoofed reports whether md carries a key reserved for verified identities.
func (s *Set) spoofed(md metadata.MD) bool {
	for _, k := range s.strip {
		if _, ok := md[k]; ok {
			return true
		}
	}
	return false
}

// methodOf is resolve as the telemetry takes it: the method a REST request calls and its route. It
// is nil when resolve is.
func methodOf(resolve Resolver) telemetry.Resolve {
	if resolve == nil {
		return nil
	}
	return func(r *http.Request) (string, string, bool) {
		b, ok := resolve(r)
		if !ok {
			return "", "", false
		}
		return b.FullMethod(), b.Template().String(), true
	}
}

// wafRoute is what the WAF knows of a request: for REST, the binding it calls and the waf of the
// first rule that sets one and matches the binding's method; for GraphQL, the strictest mode of
// every method. The mode is "" for the waf section's own (requests no binding serves).
func (s *Set) wafRoute(r *http.Request, front policy.Front) waf.Route {
	switch {
	case front == policy.FrontGraphQL:
		return waf.Route{Mode: s.graphqlWAF}
	case front != policy.FrontREST || s.resolve == nil:
		return waf.Route{}
	}
	b, ok := s.resolve(r)
	if !ok {
		return waf.Route{}
	}
	return waf.Route{Mode: s.ruleWAF(b.FullMethod()), Binding: b}
}

// ruleWAF is the waf of the first rule that sets one and matches method, or "".
func (s *Set) ruleWAF(method string) string {
	for _, rule := range s.rules {
		if rule.WAF != "" && rule.Match.Matches(method) {
			return rule.WAF
		}
	}
	return ""
}

// Wrap returns h with the set's request policies for front applied, outermost first. The returned
// handler also records the front and the client's address and TLS state in the request's context,
// where the method policies read them. Call it once per snapshot and front, never per request.
func (s *Set) Wrap(front policy.Front, h http.Handler) http.Handler {
	for i := len(s.middleware) - 1; i >= 0; i-- {
		h = s.middleware[i](front, h)
	}
	if s.telemetryMW != nil {
		// The telemetry derives the request's context anyway: it adds the front and peer to it
		// along with its own values, and the request is copied once instead of twice.
		return s.telemetryMW(front, h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(baseContext(r.Context(), front, w, r)))
	})
}

// baseContext records the front a request came through and the client's address and TLS state in
// the request's context (see Wrap).
func baseContext(ctx context.Context, front policy.Front, w http.ResponseWriter, r *http.Request) context.Context {
	return policy.WithRequest(ctx, newHTTPOrigin(front, w, r))
}

// StreamInterceptor is the native gRPC front's request policies, or nil.
func (s *Set) StreamInterceptor() grpc.StreamServerInterceptor { return s.interceptor }

// httpOrigin is an HTTP request's policy.Request with the peer and address it points to: one
// allocation for the three.
type httpOrigin struct {
	req  policy.Request
	peer peer.Peer
	addr remoteAddr
}

// newHTTPOrigin describes an HTTP request's client as gRPC's peer does.
func newHTTPOrigin(front policy.Front, w http.ResponseWriter, r *http.Request) *policy.Request {
	o := &httpOrigin{addr: remoteAddr(r.RemoteAddr)}
	o.peer.Addr = &o.addr
	if r.TLS != nil {
		o.peer.AuthInfo = credentials.TLSInfo{State: *r.TLS, CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}
	}
	o.req = policy.Request{Front: front, Peer: &o.peer}
	if front == policy.FrontREST {
		o.req.Header = w.Header() // where an admitted call's RateLimit-* go
	}
	if front == policy.FrontREST || front == policy.FrontGraphQL {
		o.req.RequestHeader = r.Header // the headers not passed on as metadata, for the Steps
	}
	return &o.req
}

// remoteAddr is an http.Request's RemoteAddr as a net.Addr.
type remoteAddr string

func (a *remoteAddr) Network() string { return "tcp" }
func (a *remoteAddr) String() string  { return string(*a) }

// Check builds cfg's policies as Compile would, for `gateway validate`: it returns what serving would
// refuse that the config's own validation cannot see, such as a key the auth policy cannot use, WAF
// directives that do not load, or a rule's step that does not compile. Nothing is started: no key set
// is fetched from a URL, no Redis is dialed, no telemetry runs. Loading the WAF's rules takes about a
// second when some request can meet it.
func Check(cfg config.Policies, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	authn, err := auth.NewWithOptions(cfg.Auth, auth.Offline(), auth.WithLogger(log))
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	defer authn.Close()
	limiter, err := ratelimit.New(cfg.RateLimit.LimiterSettings(), ratelimit.WithLogger(log))
	if err != nil {
		return fmt.Errorf("rate_limit: %w", err)
	}
	defer limiter.Close()
	if waf.Enabled(cfg) {
		if _, err := waf.New(cfg.WAF, log); err != nil {
			return err // waf.New's errors name the section
		}
	}
	if _, err := compileRules(cfg, authn, limiter); err != nil {
		return err
	}
	if _, err := cors.New(cfg.CORS); err != nil {
		return fmt.Errorf("cors: %w", err)
	}
	if _, err := sanitize.New(cfg.Limits); err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	return nil
}
