package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
)

// Authenticator holds the long-lived authentication state: JWKS key sets and their refreshers, the
// cache of verified tokens, the API key table. Build it once per auth configuration, compile rules
// with Step, and Close it when the configuration is replaced.
type Authenticator struct {
	cfg    config.Auth
	opts   options
	idKeys identityKeys
	jwt    *jwtVerifier
	keys   *apiKeys
	mtls   *mtlsAuth
	admin  *adminAuth

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// Option configures an Authenticator.
type Option func(*options)

type options struct {
	now        func() time.Time
	httpClient *http.Client
	log        *slog.Logger
	keyError   func(src string, err error)
	offline    bool
	startWait  time.Duration   // how long New waits for the key sets it fetches from URLs
	startCtx   context.Context // ends New's wait for them sooner (WithContext)
	previous   *Authenticator
}

// WithClock sets the clock tokens are checked against and refreshes are rate-limited by (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithHTTPClient sets the client that fetches key sets from jwks_url. Default: a client with a 10s
// timeout.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithLogger sets where failed key set fetches are reported. Default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithPrevious builds the authenticator to replace prev (a configuration reload): a JWT provider of
// the same name and jwks_url starts with the keys prev's had, and fetches the set as ever. So a
// reload while an identity provider is down (one that adds an API key, say) does not refuse that
// provider's tokens until it answers again.
func WithPrevious(prev *Authenticator) Option { return func(o *options) { o.previous = prev } }

// WithContext ends New's wait for the key sets it fetches from URLs (see NewWithOptions) when ctx
// ends, if that comes first: the providers that have not answered are then as ones that did not
// answer in time. A gateway passes the context its stop signal ends, so that a stop while it starts
// is not held up by an identity provider. Background refreshes are not bound by ctx: they run
// until Close. Default: context.Background().
func WithContext(ctx context.Context) Option { return func(o *options) { o.startCtx = ctx } }

// Offline builds the authenticator without fetching key sets from their URLs or refreshing any
// (`gateway validate`): the key files and the rest of the configuration are read and checked as
// serving reads them, and nothing runs in the background.
func Offline() Option { return func(o *options) { o.offline = true } }

// New builds the authenticator for cfg with the default options; see NewWithOptions.
func New(cfg config.Auth) (*Authenticator, error) { return NewWithOptions(cfg) }

// NewWithOptions builds the authenticator for cfg (defaults filled, as config.Parse leaves it). It loads every
// key set now: a key file that cannot be read or parsed is an error; a key set URL that cannot be
// fetched is logged and fetched again on the next token or interval, so an identity provider's
// outage does not stop the gateway from starting (its tokens are refused until it answers). The
// URLs are fetched at once, and waited for 10s at most all told (see fetchAtStart), or until
// WithContext's context ends. Background refreshes run until Close.
func NewWithOptions(cfg config.Auth, opts ...Option) (*Authenticator, error) {
	a := &Authenticator{cfg: cfg, opts: options{now: time.Now, log: slog.Default(), startWait: jwksFetchTimeout, startCtx: context.Background()}}
	for _, o := range opts {
		o(&a.opts)
	}
	if a.opts.httpClient == nil {
		a.opts.httpClient = defaultHTTPClient()
	}
	log := a.opts.log
	a.opts.keyError = func(src string, err error) {
		log.Warn("auth: cannot load JWT key set; keeping the keys loaded before", "source", src, "err", err)
	}
	a.idKeys = newIdentityKeys(cfg)
	var err error
	if a.jwt, err = newJWTVerifier(cfg, &a.opts, a.idKeys); err != nil {
		return nil, err
	}
	if a.keys, err = newAPIKeys(cfg.APIKeys, a.idKeys); err != nil {
		return nil, err
	}
	if cfg.MTLS.Enabled {
		a.mtls = newMTLS(cfg.MTLS, a.idKeys)
	}
	if a.admin, err = newAdminAuth(cfg); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	a.stop = stop
	// Key files and inline sets first, each of which must load; then the URLs, all at once.
	var remote []*jwtProvider
	for _, p := range a.jwt.byName {
		if p.ring == nil {
			continue
		}
		if src, ok := p.ring.src.(urlSource); ok {
			if prev := a.opts.previous.remoteKeys(p.name, src.url); prev != nil {
				p.ring.set.Store(prev)
			}
			if !a.opts.offline {
				remote = append(remote, p)
			}
			continue
		}
		if err := p.ring.refresh(ctx); err != nil {
			stop()
			return nil, fmt.Errorf("jwt provider %q: %w", p.name, err)
		}
	}
	a.fetchAtStart(a.opts.startCtx, remote)
	if a.opts.offline {
		return a, nil // nothing to run
	}
	for _, p := range a.jwt.byName {
		if p.ring == nil {
			continue
		}
		if _, inline := p.ring.src.(inlineSource); inline {
			continue // nothing to refresh
		}
		a.wg.Add(1)
		go a.refreshLoop(ctx, p)
	}
	return a, nil
}

// remoteKeys returns the key set that a's provider name holds from url, or nil when a (which may be
// nil) has no such provider or no keys from it.
func (a *Authenticator) remoteKeys(name, url string) *keySet {
	if a == nil {
		return nil
	}
	p := a.jwt.byName[name]
	if p == nil || p.ring == nil {
		return nil
	}
	if src, ok := p.ring.src.(urlSource); !ok || src.url != url {
		return nil
	}
	return p.ring.set.Load()
}

// fetchAtStart fetches the key sets of providers from their URLs, all at once, and waits for them
// at most startWait all told: identity providers that are slow to answer, or accept connections
// and never do, hold the start up for one wait, however many there are. A fetch that fails or is
// cut short has been logged (keyError); the provider's tokens are refused (TOKEN_KEY_UNKNOWN) until
// a fetch succeeds: on a token the set has no key for, at most once per jwks_min_refresh (keyRing
// lookup), and at every jwks_refresh (refreshLoop).
func (a *Authenticator) fetchAtStart(ctx context.Context, providers []*jwtProvider) {
	ctx, cancel := context.WithTimeout(ctx, a.opts.startWait)
	defer cancel()
	var wg sync.WaitGroup
	for _, p := range providers {
		wg.Go(func() { _ = p.ring.refresh(ctx) })
	}
	wg.Wait()
}

// refreshLoop fetches p's key set every refresh interval until ctx ends.
func (a *Authenticator) refreshLoop(ctx context.Context, p *jwtProvider) {
	defer a.wg.Done()
	t := time.NewTicker(p.refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = p.ring.refresh(ctx)
		}
	}
}

// Refresh fetches every provider's key set now, as the interval would; it returns the first error.
func (a *Authenticator) Refresh(ctx context.Context) error {
	var errs []error
	for _, p := range a.jwt.byName {
		if p.ring != nil {
			errs = append(errs, p.ring.refresh(ctx))
		}
	}
	return errors.Join(errs...)
}

// IdentityHeaders are the metadata keys that carry a verified identity upstream. They are stripped
// from every call, authenticated or not, so a client cannot pretend to be someone.
func (a *Authenticator) IdentityHeaders() []string { return slices.Clone(a.idKeys.all) }

// Close stops background refreshes.
func (a *Authenticator) Close() error {
	a.stop()
	a.wg.Wait()
	return nil
}

// identityKeys are the metadata keys the verified identity goes upstream as.
type identityKeys struct {
	consumer, scopes string
	all              []string // every key stripped from incoming calls
}

func newIdentityKeys(cfg config.Auth) identityKeys {
	k := identityKeys{
		consumer: strings.ToLower(cmpOr(cfg.Identity.Consumer, config.DefaultConsumerKey)),
		scopes:   strings.ToLower(cmpOr(cfg.Identity.Scopes, config.DefaultScopesKey)),
	}
	add := func(key string) {
		if key = strings.ToLower(key); key != "" && !slices.Contains(k.all, key) {
			k.all = append(k.all, key)
		}
	}
	add(k.consumer)
	add(k.scopes)
	for _, p := range cfg.JWT {
		for _, cm := range p.ClaimsToMetadata {
			add(cm.Metadata)
		}
	}
	for _, s := range cfg.Identity.Strip {
		add(s)
	}
	return k
}

// upstream returns the consumer and scopes metadata pairs of id.
func (k identityKeys) upstream(id *policy.Identity) []string {
	out := []string{k.consumer, id.Consumer}
	if scopes := strings.Join(id.Scopes, " "); scopes != "" && validValue(scopes) {
		out = append(out, k.scopes, scopes)
	}
	return out
}
