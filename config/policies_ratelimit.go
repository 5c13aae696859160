package config

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// RateLimit configures where rate-limit state lives: in the gateway process (each replica counts
// alone) or in Redis (every replica that names the same Redis shares one limit), and how responses
// tell clients about the limits. It holds lists (sentinel and cluster addresses), so it is not
// comparable with ==: the policies assembler compares the LimiterSettings of two with
// reflect.DeepEqual, and keeps its limiter, and the buckets in it, across reloads while they are
// unchanged. Keep it plain data (no funcs, pointers or channels), or an unchanged section would
// look changed and reset the buckets on every reload.
type RateLimit struct {
	// Backend is "local" (default) or "redis".
	Backend string `yaml:"backend"`
	// HeaderFields names the rate-limit header fields responses carry (see
	// RuleRateLimit.Headers): "draft-10" (default), the RateLimit and RateLimit-Policy fields of
	// draft-ietf-httpapi-ratelimit-headers-10, or "draft-06", the RateLimit-Limit,
	// RateLimit-Remaining, RateLimit-Reset and RateLimit-Policy fields of its draft 06, for
	// clients written against those.
	HeaderFields string `yaml:"header_fields"`
	// MaxKeys bounds the buckets one rule keeps in process (default 100000): at most MaxKeys, so
	// memory stays bounded when many clients come and go. Idle buckets are evicted first, then
	// others (their keys start afresh). The buckets are kept in up to 64 parts, each with an
	// equal share that it evicts from on its own, so a bucket may be evicted a little before the
	// total reaches MaxKeys. A rule's concurrency counters are bounded the same way by
	// max(MaxKeys, 1024), except that a counter with calls in flight is never evicted. Local
	// backend only.
	MaxKeys int `yaml:"max_keys"`
	// Redis is the shared store of the redis backend.
	Redis RedisStore `yaml:"redis"`
}

// RedisStore is the Redis rate limits are decided on: one server (Address), a primary that Redis
// Sentinel watches and fails over (Sentinel), or a Redis Cluster (Cluster). Exactly one of the
// three is set.
type RedisStore struct {
	// Address is a standalone server's "host:port". It is not a URL: TLS, the database, the user
	// and the password each have a field of their own, so there is one way to write each, and
	// no password in the file.
	Address string `yaml:"address"`
	// Sentinel finds the primary through Redis Sentinel and follows it across failovers.
	Sentinel RedisSentinel `yaml:"sentinel"`
	// Cluster decides on a Redis Cluster: each bucket is one key, so one slot and one shard.
	Cluster RedisCluster `yaml:"cluster"`
	// DB is the database number (default 0; a Redis Cluster has database 0 only).
	DB int `yaml:"db"`
	// Username and PasswordEnv authenticate (ACL user, and the environment variable holding
	// the password: secrets stay out of the file).
	Username    string `yaml:"username"`
	PasswordEnv string `yaml:"password_env"`
	// TLS secures every connection to Redis: the server, the cluster's nodes, or the sentinels
	// and the primary they name.
	TLS RedisTLS `yaml:"tls"`
	// KeyPrefix starts every key the gateway writes (default "protogate:rl:").
	KeyPrefix string `yaml:"key_prefix"`
	// Timeout bounds one decision's round trip, dialing included (default 50ms).
	Timeout time.Duration `yaml:"timeout"`
	// FailureMode says what happens to calls when Redis cannot answer in time: "open" (default)
	// admits them, "closed" refuses them with UNAVAILABLE. Either way the failure is logged once.
	FailureMode string `yaml:"failure_mode"`
}

// RedisSentinel names a primary that Redis Sentinel monitors.
type RedisSentinel struct {
	// Master is the name the sentinels monitor the primary under. Required.
	Master string `yaml:"master"`
	// Addresses are sentinels' "host:port"; the client asks them in turn for the primary's
	// address. Required.
	Addresses []string `yaml:"addresses"`
	// Username and PasswordEnv authenticate to the sentinels themselves, when they require it
	// (the primary's are RedisStore's): an ACL user, and the environment variable holding its
	// password, or the password alone for the sentinels' default user.
	Username    string `yaml:"username"`
	PasswordEnv string `yaml:"password_env"`
}

// RedisCluster names a Redis Cluster.
type RedisCluster struct {
	// Addresses are some of the cluster's nodes, "host:port"; the client learns the others, and
	// which node serves which slot, from them. Required.
	Addresses []string `yaml:"addresses"`
}

// RedisTLS configures TLS towards Redis. The files are read again when a connection is made
// after one of them changed, so renewed certificates need no restart.
type RedisTLS struct {
	// Enabled turns TLS on; the other fields need it.
	Enabled bool `yaml:"enabled"`
	// CAFile holds the PEM roots that verify the servers. Default: the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the PEM client certificate and its key, for servers that
	// require client certificates (tls-auth-clients yes, Redis' default). Set both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name verified in every server's certificate. Default: the host of the
	// address dialed (a node's, as the cluster or the sentinels announce it).
	ServerName string `yaml:"server_name"`
}

// LimiterSettings returns r without HeaderFields: the settings the limiter, and the buckets it
// keeps, are built from. How decisions are told is the compiled rules' business, rebuilt at every
// reload, so a change of HeaderFields alone applies at once and keeps everyone's buckets.
func (r RateLimit) LimiterSettings() RateLimit {
	r.HeaderFields = ""
	return r
}

// Mode says which kind of Redis the store names: "address", "sentinel" or "cluster".
func (r RedisStore) Mode() string {
	switch {
	case len(r.Cluster.Addresses) > 0:
		return "cluster"
	case r.Sentinel.Master != "" || len(r.Sentinel.Addresses) > 0:
		return "sentinel"
	}
	return "address"
}

// RuleRateLimit is a rule's token bucket: Rate tokens are added every Per, up to Burst; a call
// takes one token (a GraphQL operation takes its complexity), and is refused with
// RESOURCE_EXHAUSTED when the bucket has too few.
type RuleRateLimit struct {
	// Rate is the number of calls allowed per Per. Required when the rule limits rates.
	Rate int `yaml:"rate"`
	// Per is the period Rate is counted over (default 1s).
	Per time.Duration `yaml:"per"`
	// Burst is the bucket's size: the most calls allowed at once after a quiet period
	// (default Rate).
	Burst int `yaml:"burst"`
	// Key says whose bucket a call takes from: "client_ip" (default), "consumer" (the
	// authenticated identity; the client IP for anonymous calls), "method" (the full method
	// name) or "header:<name>" (the header's value; calls without it share one bucket).
	Key string `yaml:"key"`
	// Headers says whether responses tell clients about this limit (default true): the
	// rate-limit header fields the section's HeaderFields names (RateLimit and RateLimit-Policy
	// by default) on admitted and refused calls (response header metadata on gRPC). false
	// leaves them out, for a limit whose size is nobody's business (a login's); a refusal still
	// says when to retry (Retry-After, google.rpc.RetryInfo).
	Headers *bool `yaml:"headers"`
}

// Enabled reports whether the rule limits rates.
func (r RuleRateLimit) Enabled() bool { return r.Rate > 0 }

// SendsHeaders reports whether responses carry the limit's RateLimit-* headers (see Headers).
func (r RuleRateLimit) SendsHeaders() bool { return r.Headers == nil || *r.Headers }

// RuleConcurrency is a rule's bound on calls in flight, per key.
type RuleConcurrency struct {
	// Max is the number of calls one key may have in flight. Required when the rule bounds
	// concurrency.
	Max int `yaml:"max"`
	// Key is as RuleRateLimit.Key (default "client_ip").
	Key string `yaml:"key"`
}

// Enabled reports whether the rule bounds concurrency.
func (r RuleConcurrency) Enabled() bool { return r.Max > 0 }

// CORS configures cross-origin resource sharing for the HTTP fronts (gRPC-Web, REST, GraphQL).
// It is off unless AllowedOrigins is set.
type CORS struct {
	// AllowedOrigins are the origins browsers may call from: exact ("https://app.example.com"),
	// with any port ("http://localhost:*"), with any subdomain ("https://*.example.com"), or "*"
	// for any origin (not with AllowCredentials).
	AllowedOrigins []string `yaml:"allowed_origins"`
	// AllowedMethods are the methods preflights allow (default GET, HEAD, POST, PUT, PATCH,
	// DELETE).
	AllowedMethods []string `yaml:"allowed_methods"`
	// AllowedHeaders are the request headers preflights allow, case-insensitively (default
	// DefaultCORSAllowedHeaders); "*" allows whatever a preflight asks for.
	AllowedHeaders []string `yaml:"allowed_headers"`
	// ExposedHeaders are the response headers browsers let scripts read (default
	// DefaultCORSExposedHeaders). A name ending in "*" ("Grpc-Metadata-*") exposes every
	// header of the response with that prefix, and "*" alone every header of the response.
	ExposedHeaders []string `yaml:"exposed_headers"`
	// AllowCredentials lets browsers send cookies and HTTP authentication.
	AllowCredentials bool `yaml:"allow_credentials"`
	// MaxAge is how long browsers may cache a preflight's answer (default 10m, at most 24h).
	MaxAge time.Duration `yaml:"max_age"`
}

// Enabled reports whether CORS is configured.
func (c CORS) Enabled() bool { return len(c.AllowedOrigins) > 0 }

// Rate-limit and CORS defaults.
const (
	DefaultRateLimitMaxKeys = 100000
	DefaultRedisKeyPrefix   = "protogate:rl:"
	DefaultRedisTimeout     = 50 * time.Millisecond
	DefaultRateLimitPer     = time.Second
	DefaultRateLimitKey     = "client_ip"
	DefaultCORSMaxAge       = 10 * time.Minute
	maxCORSMaxAge           = 24 * time.Hour

	// DefaultRateLimitHeaderFields is policies.rate_limit.header_fields when left out.
	DefaultRateLimitHeaderFields = "draft-10"
)

var (
	// RateLimitBackends are the values of policies.rate_limit.backend.
	RateLimitBackends = []string{"local", "redis"}
	// RateLimitHeaderFields are the values of policies.rate_limit.header_fields: the revisions of
	// draft-ietf-httpapi-ratelimit-headers whose fields the gateway sends.
	RateLimitHeaderFields = []string{"draft-10", "draft-06"}
	// FailureModes are the values of policies.rate_limit.redis.failure_mode.
	FailureModes = []string{"open", "closed"}
	// RateLimitKeys are the values of a rule's rate_limit.key and concurrency.key, besides
	// "header:<name>".
	RateLimitKeys = []string{"client_ip", "consumer", "method"}
	// DefaultCORSAllowedMethods are the methods a CORS preflight allows by default.
	DefaultCORSAllowedMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
	// DefaultCORSAllowedHeaders are what browsers send for gRPC-Web (x-grpc-web, x-user-agent,
	// grpc-timeout), JSON and GraphQL bodies (content-type), credentials and tracing.
	DefaultCORSAllowedHeaders = []string{"authorization", "content-type", "x-grpc-web", "x-user-agent",
		"grpc-timeout", "x-request-id", "traceparent", "tracestate", "baggage"}
	// DefaultCORSExposedHeaders are what gRPC-Web clients read (the status in headers of a
	// trailers-only response), what the REST front sends of upstream metadata, the authentication
	// challenge and the rate-limit headers of either header_fields.
	DefaultCORSExposedHeaders = []string{"grpc-status", "grpc-message", "grpc-status-details-bin",
		"www-authenticate", "retry-after", "ratelimit", "ratelimit-policy", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset",
		"grpc-metadata-*", "grpc-trailer-*"}
)

// rateLimitStore checks policies.rate_limit.
func (v *validator) rateLimitStore(path string, r RateLimit) {
	if r.Backend != "" && !oneOf(r.Backend, RateLimitBackends) || r.Backend == "" && v.has(field(path, "backend")) {
		v.fieldf(field(path, "backend"), "unknown backend %q: want one of %s", r.Backend, strings.Join(RateLimitBackends, ", "))
	}
	v.count(field(path, "max_keys"), r.MaxKeys, 1, 1<<26)
	if hp := field(path, "header_fields"); r.HeaderFields != "" && !oneOf(r.HeaderFields, RateLimitHeaderFields) || r.HeaderFields == "" && v.has(hp) {
		v.fieldf(hp, "unknown header fields %q: want one of %s", r.HeaderFields, strings.Join(RateLimitHeaderFields, ", "))
	}
	rp := field(path, "redis")
	if r.Backend != "redis" {
		if v.has(rp) {
			v.fieldf(rp, "set backend: redis to use a Redis store")
		}
		return
	}
	if v.has(field(path, "max_keys")) {
		v.fieldf(field(path, "max_keys"), "applies to the local backend only")
	}
	rs := r.Redis
	ap, sp, cp := field(rp, "address"), field(rp, "sentinel"), field(rp, "cluster")
	v.exactlyOne(rp, []string{"address", "sentinel", "cluster"}, []bool{v.has(ap), v.has(sp), v.has(cp)})
	if v.has(ap) {
		v.redisAddress(ap, rs.Address)
	}
	if v.has(sp) {
		v.nonEmptyRequired(field(sp, "master"), rs.Sentinel.Master)
		v.redisAddresses(field(sp, "addresses"), rs.Sentinel.Addresses)
		v.envVar(field(sp, "password_env"), rs.Sentinel.PasswordEnv)
		if rs.Sentinel.Username != "" && rs.Sentinel.PasswordEnv == "" {
			v.fieldf(field(sp, "username"), "needs password_env: an ACL user authenticates with a password")
		}
	}
	if v.has(cp) {
		v.redisAddresses(field(cp, "addresses"), rs.Cluster.Addresses)
		if rs.DB != 0 {
			v.fieldf(field(rp, "db"), "a Redis Cluster has database 0 only, got %d", rs.DB)
		}
		// Redis hashes only a key's first {tag} when it has one: a tag in the prefix would put
		// every bucket in one slot, on one shard.
		if i := strings.IndexByte(rs.KeyPrefix, '{'); i >= 0 && strings.IndexByte(rs.KeyPrefix[i+1:], '}') > 0 {
			v.fieldf(field(rp, "key_prefix"), "the hash tag in %q would put every bucket on one cluster node; drop the braces", rs.KeyPrefix)
		}
	}
	v.count(field(rp, "db"), rs.DB, 0, 1<<16-1)
	v.envVar(field(rp, "password_env"), rs.PasswordEnv)
	v.redisTLS(field(rp, "tls"), rs.TLS)
	v.nonEmpty(field(rp, "key_prefix"), rs.KeyPrefix)
	v.positive(field(rp, "timeout"), rs.Timeout)
	if rs.FailureMode != "" && !oneOf(rs.FailureMode, FailureModes) || rs.FailureMode == "" && v.has(field(rp, "failure_mode")) {
		v.fieldf(field(rp, "failure_mode"), "unknown failure mode %q: want open or closed", rs.FailureMode)
	}
}

// redisAddress checks a Redis "host:port". URLs (redis://, rediss://) are refused with the fields
// that say the same: one way to write each setting, and no password in the file.
func (v *validator) redisAddress(path, addr string) {
	if scheme, _, ok := strings.Cut(addr, "://"); ok {
		hint := "db, username and password_env"
		if strings.EqualFold(scheme, "rediss") {
			hint = "tls: {enabled: true}, " + hint
		}
		// The URL is not repeated: it may hold a password.
		hostPort := "host:port"
		if u, err := url.Parse(addr); err == nil && u.Host != "" {
			hostPort = strconv.Quote(u.Host)
		}
		v.fieldf(path, "want host:port, not a %s:// URL: write %s here, and set %s as fields", scheme, hostPort, hint)
		return
	}
	v.address(path, addr, false)
}

// redisAddresses checks a required list of Redis "host:port", without repeats.
func (v *validator) redisAddresses(path string, addrs []string) {
	if len(addrs) == 0 {
		v.fieldf(path, "required: at least one host:port")
		return
	}
	first := make(map[string]string, len(addrs))
	for i, a := range addrs {
		p := index(path, i)
		if prev, dup := first[a]; dup {
			v.fieldf(p, "duplicate address %q (first at line %d)", a, v.line(prev))
			continue
		}
		first[a] = p
		v.redisAddress(p, a)
	}
}

// envVar checks a field naming an environment variable, when set: a valid name, of a variable set
// in this process's environment, which the gateway reads at start (set but empty is an empty
// value). So a variable missing where the config is validated, or a reload checked, is reported
// here, with its line, rather than by the start.
func (v *validator) envVar(path, name string) {
	switch {
	case name == "":
	case !validEnvName(name):
		v.fieldf(path, "invalid environment variable name %q", name)
	default:
		if _, set := os.LookupEnv(name); !set {
			v.fieldf(path, "environment variable %s is not set", name)
		}
	}
}

// redisTLS checks TLS towards Redis: the other fields only with enabled, a client certificate
// with its key, and files that exist and hold what they should, so that a wrong file is reported
// here, with its line, rather than by the first decision.
func (v *validator) redisTLS(path string, t RedisTLS) {
	if !t.Enabled {
		for _, o := range []struct {
			key string
			set bool
		}{
			{"ca_file", t.CAFile != ""},
			{"cert_file", t.CertFile != ""},
			{"key_file", t.KeyFile != ""},
			{"server_name", t.ServerName != ""},
		} {
			if o.set {
				v.fieldf(field(path, o.key), "has no effect unless enabled is true")
			}
		}
		return
	}
	cp, kp := field(path, "cert_file"), field(path, "key_file")
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		v.fieldf(kp, "required with cert_file: the client certificate's private key")
	case t.KeyFile != "" && t.CertFile == "":
		v.fieldf(cp, "required with key_file: the client certificate")
	}
	if ca, ok := v.readFile(field(path, "ca_file"), t.CAFile); ok && !x509.NewCertPool().AppendCertsFromPEM(ca) {
		v.fieldf(field(path, "ca_file"), "%q holds no PEM certificate", t.CAFile)
	}
	cert, certOK := v.readFile(cp, t.CertFile)
	key, keyOK := v.readFile(kp, t.KeyFile)
	if certOK && keyOK {
		if _, err := tls.X509KeyPair(cert, key); err != nil {
			v.fieldf(cp, "%q and key_file %q are not a certificate and its key: %v", t.CertFile, t.KeyFile, err)
		}
	}
	if t.ServerName != "" && !validHost(t.ServerName) && net.ParseIP(t.ServerName) == nil {
		v.fieldf(field(path, "server_name"), "invalid host name %q", t.ServerName)
	}
}

// ruleRateLimit checks a rule's rate_limit.
func (v *validator) ruleRateLimit(path string, r RuleRateLimit) {
	if !v.has(path) {
		return
	}
	if r.Rate == 0 && !v.has(field(path, "rate")) {
		v.fieldf(field(path, "rate"), "required: the number of calls allowed per period")
	} else {
		v.count(field(path, "rate"), r.Rate, 1, 1e9)
	}
	v.positive(field(path, "per"), r.Per)
	if r.Per > 0 && r.Per < time.Millisecond {
		v.fieldf(field(path, "per"), "want at least 1ms, got %s", r.Per)
	}
	v.count(field(path, "burst"), r.Burst, 1, 1e9)
	v.limitKey(field(path, "key"), r.Key)
}

// ruleConcurrency checks a rule's concurrency.
func (v *validator) ruleConcurrency(path string, r RuleConcurrency) {
	if !v.has(path) {
		return
	}
	if r.Max == 0 && !v.has(field(path, "max")) {
		v.fieldf(field(path, "max"), "required: the number of calls one key may have in flight")
	} else {
		v.count(field(path, "max"), r.Max, 1, 1<<20)
	}
	v.limitKey(field(path, "key"), r.Key)
}

// limitKey checks a rate_limit.key or concurrency.key.
func (v *validator) limitKey(path, key string) {
	if key == "" {
		v.nonEmpty(path, key)
		return
	}
	if name, ok := strings.CutPrefix(key, "header:"); ok {
		if !validHeaderName(name) {
			v.fieldf(path, "invalid header name %q in %q", name, key)
		}
		return
	}
	if !oneOf(key, RateLimitKeys) {
		v.fieldf(path, "unknown key %q: want client_ip, consumer, method or header:<name>", key)
	}
}

// cors checks policies.cors.
func (v *validator) cors(path string, c CORS) {
	op := field(path, "allowed_origins")
	if !c.Enabled() && v.has(path) {
		v.fieldf(op, "required: CORS is off without allowed origins")
	}
	for i, o := range c.AllowedOrigins {
		p := index(op, i)
		if o == "*" {
			if c.AllowCredentials {
				v.fieldf(p, `"*" with allow_credentials would let every site call with the user's credentials; list the origins`)
			}
			continue
		}
		if err := checkOrigin(o); err != nil {
			v.fieldf(p, "invalid origin %q: %v", o, err)
		}
	}
	for i, m := range c.AllowedMethods {
		if !validHeaderName(m) {
			v.fieldf(index(field(path, "allowed_methods"), i), "invalid method %q", m)
		}
	}
	for i, h := range c.AllowedHeaders {
		if h != "*" && !validHeaderName(h) {
			v.fieldf(index(field(path, "allowed_headers"), i), "invalid header name %q", h)
		}
	}
	for i, h := range c.ExposedHeaders {
		if h != "*" && !validHeaderName(strings.TrimSuffix(h, "*")) {
			v.fieldf(index(field(path, "exposed_headers"), i), "invalid header name %q: want a name, a prefix ending in *, or * for every header", h)
		}
	}
	mp := field(path, "max_age")
	v.positive(mp, c.MaxAge)
	switch {
	case c.MaxAge > maxCORSMaxAge:
		v.fieldf(mp, "%s is longer than browsers keep a preflight (24h)", c.MaxAge)
	case c.MaxAge > 0 && c.MaxAge%time.Second != 0:
		v.fieldf(mp, "want whole seconds, got %s", c.MaxAge)
	}
}

// checkOrigin checks an allowed origin: scheme://host[:port], where the host's first label may be
// "*" (any subdomain) and the port may be "*" (any port).
func checkOrigin(o string) error {
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || scheme == "" {
		return errorString(`want scheme://host[:port], such as "https://app.example.com"`)
	}
	if scheme != strings.ToLower(scheme) || !validScheme(scheme) {
		return errorString("want a lower-case scheme such as http or https")
	}
	if strings.ContainsAny(rest, "/?#@") {
		return errorString("an origin has no path, query, fragment or user: drop everything after the host and port")
	}
	host, port := rest, ""
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.HasSuffix(rest, "]") {
		host, port = rest[:i], rest[i+1:]
		if port == "" {
			return errorString("empty port")
		}
		if port != "*" {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
				return errorString(`want a port in 1..65535 or "*"`)
			}
		}
	}
	if host != strings.ToLower(host) {
		return errorString("browsers send host names in lower case")
	}
	if sub, ok := strings.CutPrefix(host, "*."); ok {
		host = sub
		if !strings.Contains(host, ".") {
			return errorString(`"*." must precede a domain of two labels or more, such as "*.example.com"`)
		}
	}
	if strings.Contains(host, "*") {
		return errorString(`"*" may stand only for the whole first label ("https://*.example.com") or the whole port ("http://localhost:*")`)
	}
	if h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"); h != host {
		if net.ParseIP(h) == nil {
			return errorString("invalid IPv6 address")
		}
		return nil
	}
	if host == "" {
		return errorString("empty host")
	}
	if u, err := url.Parse(scheme + "://" + host); err != nil || u.Hostname() != host {
		return errorString("invalid host")
	}
	return nil
}

func validScheme(s string) bool {
	for i, c := range s {
		switch {
		case 'a' <= c && c <= 'z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

func validEnvName(s string) bool {
	for i, c := range s {
		switch {
		case c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z':
		case i > 0 && '0' <= c && c <= '9':
		default:
			return false
		}
	}
	return s != ""
}

type errorString string

func (e errorString) Error() string { return string(e) }

// resolvePaths makes the TLS files towards Redis absolute against the configuration's directory.
func (r *RateLimit) resolvePaths(resolve func(*string)) {
	t := &r.Redis.TLS
	resolve(&t.CAFile)
	resolve(&t.CertFile)
	resolve(&t.KeyFile)
}

// complete fills the store's defaults.
func (r *RateLimit) complete() {
	setDefault(&r.Backend, "local")
	setDefault(&r.HeaderFields, DefaultRateLimitHeaderFields)
	switch r.Backend {
	case "local":
		setDefault(&r.MaxKeys, DefaultRateLimitMaxKeys)
	case "redis":
		setDefault(&r.Redis.KeyPrefix, DefaultRedisKeyPrefix)
		setDefault(&r.Redis.Timeout, DefaultRedisTimeout)
		setDefault(&r.Redis.FailureMode, "open")
	}
}

// complete fills a rule's rate-limit defaults, when the rule limits rates.
func (r *RuleRateLimit) complete() {
	if !r.Enabled() {
		return
	}
	setDefault(&r.Per, DefaultRateLimitPer)
	setDefault(&r.Burst, r.Rate)
	setDefault(&r.Key, DefaultRateLimitKey)
	r.Key = lowerKey(r.Key)
}

// complete fills a rule's concurrency defaults, when the rule bounds concurrency.
func (r *RuleConcurrency) complete() {
	if !r.Enabled() {
		return
	}
	setDefault(&r.Key, DefaultRateLimitKey)
	r.Key = lowerKey(r.Key)
}

// lowerKey lower-cases the header name of a "header:<name>" key.
func lowerKey(k string) string {
	if name, ok := strings.CutPrefix(k, "header:"); ok {
		return "header:" + strings.ToLower(name)
	}
	return k
}

// complete fills the CORS defaults, when CORS is on, and normalizes case: methods upper, header
// names lower.
func (c *CORS) complete() {
	if !c.Enabled() {
		return
	}
	if c.AllowedMethods == nil {
		c.AllowedMethods = DefaultCORSAllowedMethods
	}
	if c.AllowedHeaders == nil {
		c.AllowedHeaders = DefaultCORSAllowedHeaders
	}
	if c.ExposedHeaders == nil {
		c.ExposedHeaders = DefaultCORSExposedHeaders
	}
	setDefault(&c.MaxAge, DefaultCORSMaxAge)
	c.AllowedMethods = mapStrings(c.AllowedMethods, strings.ToUpper)
	c.AllowedHeaders = mapStrings(c.AllowedHeaders, strings.ToLower)
	c.ExposedHeaders = mapStrings(c.ExposedHeaders, strings.ToLower)
}

// mapStrings returns a new slice of f applied to each of ss (never ss itself, which may be a
// shared default).
func mapStrings(ss []string, f func(string) string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}

// summary prints the rate-limit store and header fields, unless they are the defaults, and the
// rules' limits.
func (s *summary) rateLimit(p Policies) {
	var limited bool
	for _, r := range p.Rules {
		limited = limited || r.RateLimit.Enabled() || r.Concurrency.Enabled()
	}
	hf := cmp.Or(p.RateLimit.HeaderFields, DefaultRateLimitHeaderFields)
	if r := p.RateLimit; r.Backend == "local" && r.MaxKeys == DefaultRateLimitMaxKeys && hf == DefaultRateLimitHeaderFields && !limited {
		return
	}
	fields := "" // said only when not the default
	if hf != DefaultRateLimitHeaderFields {
		fields = ", header_fields " + hf
	}
	switch r := p.RateLimit; r.Backend {
	case "redis":
		rs := r.Redis
		where := rs.Address
		switch rs.Mode() {
		case "sentinel":
			where = "sentinel master " + rs.Sentinel.Master + " via " + strings.Join(rs.Sentinel.Addresses, " ")
		case "cluster":
			where = "cluster " + strings.Join(rs.Cluster.Addresses, " ")
		}
		s.line(0, "rate_limit backend redis %s db %d, key_prefix %s, timeout %s, failure_mode %s%s",
			where, rs.DB, strconv.Quote(rs.KeyPrefix), rs.Timeout, rs.FailureMode, fields)
		if t := rs.TLS; t.Enabled {
			parts := []string{"redis tls on"}
			for _, f := range []struct{ name, value string }{
				{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}, {"server_name", t.ServerName},
			} {
				if f.value != "" {
					parts = append(parts, f.name+" "+printable(f.value))
				}
			}
			s.line(1, "%s", strings.Join(parts, ", "))
		}
	default:
		s.line(0, "rate_limit backend local, max_keys %d%s", r.MaxKeys, fields)
	}
	for _, r := range p.Rules {
		if rl := r.RateLimit; rl.Enabled() {
			headers := ""
			if !rl.SendsHeaders() {
				headers = ", no rate-limit headers"
			}
			s.line(1, "rule %s rate %d per %s, burst %d, key %s%s", r.Name, rl.Rate, rl.Per, rl.Burst, rl.Key, headers)
		}
		if cc := r.Concurrency; cc.Enabled() {
			s.line(1, "rule %s concurrency %d, key %s", r.Name, cc.Max, cc.Key)
		}
	}
}

// summary prints the CORS settings, when CORS is on.
func (s *summary) cors(c CORS) {
	if !c.Enabled() {
		return
	}
	s.line(0, "cors allowed_origins %s", strings.Join(c.AllowedOrigins, " "))
	s.line(1, "allowed_methods %s", strings.Join(c.AllowedMethods, " "))
	s.line(1, "allowed_headers %s", strings.Join(c.AllowedHeaders, " "))
	s.line(1, "exposed_headers %s", strings.Join(c.ExposedHeaders, " "))
	s.line(1, "allow_credentials %t, max_age %s", c.AllowCredentials, c.MaxAge)
}
