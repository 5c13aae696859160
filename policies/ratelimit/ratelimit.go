package ratelimit

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
)

// Limiter holds the long-lived limit state: buckets by rule and key, or the Redis client, and the
// counters of calls in flight. It is safe for concurrent use.
type Limiter struct {
	cfg   config.RateLimit
	clock func() time.Time
	// clockInjected says WithClock set the clock: the Redis script then gets the time passed.
	clockInjected bool
	epoch         time.Time
	log           *slog.Logger
	redis         *redisStore // nil: buckets live in process
	previous      *Limiter    // WithPrevious's, until New has read it

	mu       sync.Mutex
	buckets  map[string]*table[bucket]  // by rule and key kind
	counters map[string]*table[counter] // by rule and key kind
}

// Option configures a Limiter.
type Option func(*Limiter)

// WithClock makes the limiter read time from now instead of time.Now: tests move time by hand. With
// the Redis backend it also makes the limiter pass its time to the script, which otherwise reads
// the Redis server's clock.
func WithClock(now func() time.Time) Option {
	return func(l *Limiter) { l.clock, l.clockInjected = now, true }
}

// WithLogger sets where the limiter reports a Redis store failing and recovering (default
// slog.Default()).
func WithLogger(log *slog.Logger) Option {
	return func(l *Limiter) { l.log = log }
}

// WithPrevious builds the limiter to replace prev (a configuration reload). If prev's Redis store
// is failing, the new store's first decision that succeeds logs the end of that outage, once: a
// reload that fixed the redis section would otherwise leave prev's failure the log's last word.
func WithPrevious(prev *Limiter) Option {
	return func(l *Limiter) { l.previous = prev }
}

// New builds the limiter for cfg, a validated and completed rate_limit section. A Redis backend is
// not dialed here: the first decision connects, and a store that is down is the failure mode's
// business, not a reason to refuse to start.
func New(cfg config.RateLimit, opts ...Option) (*Limiter, error) {
	l := &Limiter{
		cfg:      cfg,
		log:      slog.Default(),
		buckets:  make(map[string]*table[bucket]),
		counters: make(map[string]*table[counter]),
	}
	for _, o := range opts {
		o(l)
	}
	if l.clock == nil {
		l.clock = time.Now
	}
	l.epoch = l.clock()
	if l.cfg.MaxKeys <= 0 {
		l.cfg.MaxKeys = config.DefaultRateLimitMaxKeys
	}
	switch cfg.Backend {
	case "", "local":
	case "redis":
		rs, err := newRedisStore(cfg.Redis, l.log)
		if err != nil {
			return nil, err
		}
		if prev := l.previous; prev != nil && prev.redis != nil && prev.redis.isFailing() {
			rs.replaced.Store(prev.redis)
		}
		l.redis = rs
	default:
		return nil, fmt.Errorf("ratelimit: unknown backend %q", cfg.Backend)
	}
	l.previous = nil // kept, it would keep every limiter a reload replaced
	return l, nil
}

// now reads the clock as nanoseconds since the limiter was built (monotonic with time.Now).
func (l *Limiter) now() int64 { return int64(l.clock().Sub(l.epoch)) }

// Step compiles a rule's rate limit; (nil, nil) when the rule sets none. rule names the bucket family,
// so methods matched by one rule share its buckets, and a later snapshot's Step for the same rule
// and key finds them again. headerFields is the rate_limit section's header_fields, the style of
// the header fields the Step sends ("" is the default, draft-10): it is read per snapshot, so that
// changing it keeps the Limiter, and everyone's buckets.
func (l *Limiter) Step(rule string, rl config.RuleRateLimit, headerFields string) (policy.Step, error) {
	if !rl.Enabled() {
		return nil, nil
	}
	per, burst := cmpOr(rl.Per, config.DefaultRateLimitPer), cmpOr(rl.Burst, rl.Rate)
	interval := int64(per) / int64(rl.Rate)
	if interval <= 0 {
		return nil, fmt.Errorf("ratelimit: rule %s: rate %d per %s is finer than a nanosecond per call", rule, rl.Rate, per)
	}
	if burst > 0 && interval > math.MaxInt64/4/int64(burst) {
		return nil, fmt.Errorf("ratelimit: rule %s: burst %d of calls every %s spans too long", rule, burst, time.Duration(interval))
	}
	kf, keyName, err := keyFunc(cmpOr(rl.Key, config.DefaultRateLimitKey))
	if err != nil {
		return nil, fmt.Errorf("ratelimit: rule %s: %w", rule, err)
	}
	s := &rateStep{
		l:       l,
		rule:    rule,
		key:     kf,
		keyName: keyName,
		lim:     limits{interval: interval, tolerance: interval * int64(burst), burst: int64(burst)},
		rate:    rl.Rate,
		per:     per,
		// advertise: the rule's choice, read per snapshot, so that turning the headers on or off
		// is a rule change and leaves the Limiter, and everyone's buckets, as they are.
		advertise: rl.SendsHeaders(),
	}
	if s.fields, err = newFields(headerFields, rule, rl.Rate, per, &s.lim); err != nil {
		return nil, fmt.Errorf("ratelimit: rule %s: %w", rule, err)
	}
	family := rule + "\x00" + keyName
	if l.redis != nil {
		s.redisPrefix = l.redis.prefix + rule + ":" + keyName + ":"
		return s, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.buckets = l.buckets[family]; s.buckets == nil {
		s.buckets = newTable(l.cfg.MaxKeys, true, bucketIdle, nil)
		l.buckets[family] = s.buckets
	}
	return s, nil
}

// ConcurrencyStep compiles a rule's concurrency limit; (nil, nil) when the rule sets none. Calls in
// flight are counted in process, per replica, whatever the backend: a count that outlived a crashed
// replica in a shared store would hold slots nobody gives back.
func (l *Limiter) ConcurrencyStep(rule string, c config.RuleConcurrency) (policy.Step, error) {
	if !c.Enabled() {
		return nil, nil
	}
	kf, keyName, err := keyFunc(cmpOr(c.Key, config.DefaultRateLimitKey))
	if err != nil {
		return nil, fmt.Errorf("ratelimit: rule %s: %w", rule, err)
	}
	family := rule + "\x00" + keyName
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.counters[family]
	if t == nil {
		t = newTable(max(l.cfg.MaxKeys, 1024), false, counterIdle, initCounter)
		l.counters[family] = t
	}
	return &concurrencyStep{rule: rule, key: kf, keyName: keyName, max: int64(c.Max), counters: t, l: l}, nil
}

// Close releases the Redis client, if any.
func (l *Limiter) Close() error {
	if l.redis != nil {
		return l.redis.close()
	}
	return nil
}

// keyFunc returns the function that derives a call's key, and the key's name for messages and
// Redis keys.
func keyFunc(spec string) (func(c *policy.Call) key, string, error) {
	switch spec {
	case "client_ip":
		return func(c *policy.Call) key { return key{ip: c.ClientIP()} }, spec, nil
	case "consumer":
		return func(c *policy.Call) key {
			if id := c.Identity; id != nil && id.Consumer != "" {
				return key{s: id.Consumer}
			}
			return key{ip: c.ClientIP()}
		}, spec, nil
	case "method":
		return func(c *policy.Call) key { return key{s: c.Method} }, spec, nil
	}
	if name, ok := strings.CutPrefix(spec, "header:"); ok && name != "" {
		name = strings.ToLower(name)
		return func(c *policy.Call) key { return key{s: c.Header(name)} }, "header:" + name, nil
	}
	return nil, "", errors.New("unknown key " + spec + ": want client_ip, consumer, method or header:<name>")
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
