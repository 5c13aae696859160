package config

import (
	"slices"
	"strconv"
	"strings"
)

// Policies configures what the gateway enforces on every front alike. Rules attach per-method checks
// (authentication, authorization, rate and concurrency limits, WAF mode) to methods; the other
// sections configure the providers and the request-level policies (size limits, WAF, CORS) and the
// telemetry (tracing, metrics, access logs).
type Policies struct {
	// Auth configures the ways callers prove who they are: JWT providers, API keys, client
	// certificates, and the admin port's own credentials.
	Auth Auth `yaml:"auth"`
	// Rules attach per-method policies. For each aspect (auth, rate_limit, concurrency, waf), the
	// first rule in file order that matches a method and sets that aspect decides it; list
	// specific rules before general ones.
	Rules []PolicyRule `yaml:"rules"`
	// RateLimit configures where rate-limit buckets live. Default: in process.
	RateLimit RateLimit `yaml:"rate_limit"`
	// Limits bound what a request may carry: body and header sizes, JSON shape, paths.
	Limits Limits `yaml:"limits"`
	// WAF inspects REST and GraphQL requests with the OWASP Core Rule Set.
	WAF WAF `yaml:"waf"`
	// CORS answers browsers' cross-origin checks, for gRPC-Web, REST and GraphQL.
	CORS CORS `yaml:"cors"`
	// Tracing exports OpenTelemetry spans.
	Tracing Tracing `yaml:"tracing"`
	// Metrics serves Prometheus metrics on the admin port.
	Metrics Metrics `yaml:"metrics"`
	// AccessLog writes one JSON line per request.
	AccessLog AccessLog `yaml:"access_log"`
}

// PolicyRule attaches policies to the methods it matches. It sets at least one of them: a rule that
// sets none would decide nothing.
type PolicyRule struct {
	// Name identifies the rule in problems, logs and rate-limit keys. Default "rules[i]".
	Name string `yaml:"name"`
	// Where locates the rule's match in its file, "file:line:col: policies.rules[i].match.method",
	// for problems found once services are registered (a method the service named lacks); set by
	// Parse.
	Where string `yaml:"-"`
	// Match selects methods: exactly one of service, method and prefix.
	Match PolicyMatch `yaml:"match"`
	// Auth requires callers to authenticate, and what they must be granted.
	Auth RuleAuth `yaml:"auth"`
	// RateLimit bounds the rate of calls.
	RateLimit RuleRateLimit `yaml:"rate_limit"`
	// Concurrency bounds calls in flight.
	Concurrency RuleConcurrency `yaml:"concurrency"`
	// WAF sets the WAF's mode for the matched methods' REST and GraphQL requests: "blocking",
	// "detection" (log only) or "off". Default: the waf section's mode.
	WAF string `yaml:"waf"`
}

// SetsPolicy reports whether the rule sets any of the aspects it may decide: auth, rate_limit,
// concurrency or waf.
func (r PolicyRule) SetsPolicy() bool {
	return r.Auth.IsSet() || r.RateLimit.Enabled() || r.Concurrency.Enabled() || r.WAF != ""
}

// PolicyMatch selects methods by name. Exactly one field is set.
type PolicyMatch struct {
	// Service matches every method of "pkg.Service".
	Service string `yaml:"service"`
	// Method matches "pkg.Service/Method" (a leading "/" is allowed; Parse adds it).
	Method string `yaml:"method"`
	// Prefix matches full method names, "/pkg.Service/Method", that start with it; "/" matches all.
	Prefix string `yaml:"prefix"`
}

// Matches reports whether the rule's match selects fullMethod ("/pkg.Service/Method").
func (m PolicyMatch) Matches(fullMethod string) bool {
	switch {
	case m.Method != "":
		return fullMethod == m.Method
	case m.Service != "":
		return strings.HasPrefix(fullMethod, "/"+m.Service+"/")
	default:
		return strings.HasPrefix(fullMethod, m.Prefix)
	}
}

// WAFModes are the values of a rule's waf key and of waf.mode.
var WAFModes = []string{"blocking", "detection", "off"}

// policies checks the policies section.
func (v *validator) policies(c *Config) {
	p := c.Policies
	v.authConfig("policies.auth", p.Auth, c.TLS)
	v.rateLimitStore("policies.rate_limit", p.RateLimit)
	v.limits("policies.limits", p.Limits)
	v.wafConfig("policies.waf", p.WAF)
	v.cors("policies.cors", p.CORS)
	v.tracing("policies.tracing", p.Tracing)
	v.metrics("policies.metrics", p.Metrics)
	v.accessLog("policies.access_log", p.AccessLog, p.Auth.APIKeys.Header)
	first := map[string]string{}
	for i, r := range p.Rules {
		path := index("policies.rules", i)
		if r.Name != "" {
			v.name(field(path, "name"), r.Name, "policy rule", first)
		}
		m := r.Match
		v.exactlyOne(field(path, "match"), []string{"service", "method", "prefix"},
			[]bool{m.Service != "", m.Method != "", m.Prefix != ""})
		if m.Service != "" && !validFullName(m.Service) {
			v.fieldf(field(path, "match.service"), "invalid service name %q: want a fully qualified name such as \"pkg.Service\"", m.Service)
		}
		if m.Method != "" && !validMethod(m.Method) {
			v.fieldf(field(path, "match.method"), "invalid method %q: want \"pkg.Service/Method\"", m.Method)
		}
		if m.Prefix != "" && !strings.HasPrefix(m.Prefix, "/") {
			v.fieldf(field(path, "match.prefix"), "invalid prefix %q: full method names start with \"/\"", m.Prefix)
		}
		v.ruleAuth(field(path, "auth"), r.Auth, p.Auth)
		v.ruleRateLimit(field(path, "rate_limit"), r.RateLimit)
		v.ruleConcurrency(field(path, "concurrency"), r.Concurrency)
		v.nonEmpty(field(path, "waf"), r.WAF)
		if r.WAF != "" && !oneOf(r.WAF, WAFModes) {
			v.fieldf(field(path, "waf"), "unknown mode %q: want one of %s", r.WAF, strings.Join(WAFModes, ", "))
		}
		// A rule that sets no aspect decides nothing for the methods it matches, whatever its name
		// says: a mistake. An aspect written but empty or wrong is reported at its own place.
		aspects := []string{"auth", "rate_limit", "concurrency", "waf"}
		if !r.SetsPolicy() && !slices.ContainsFunc(aspects, func(k string) bool { return v.blamedWithin(field(path, k)) }) {
			v.fieldf(path, "sets nothing: set auth, rate_limit, concurrency or waf")
		}
	}
}

func oneOf(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

// resolvePaths makes the policies' file paths absolute against dir.
func (p *Policies) resolvePaths(resolve func(*string)) {
	p.Auth.resolvePaths(resolve)
	p.RateLimit.resolvePaths(resolve)
	p.WAF.resolvePaths(resolve)
	p.AccessLog.resolvePaths(resolve)
}

// complete fills the policies' defaults.
func (p *Policies) complete() {
	for i := range p.Rules {
		r := &p.Rules[i]
		setDefault(&r.Name, "rules["+strconv.Itoa(i)+"]")
		r.RateLimit.complete()
		r.Concurrency.complete()
		if r.Match.Method != "" && !strings.HasPrefix(r.Match.Method, "/") {
			r.Match.Method = "/" + r.Match.Method
		}
	}
	p.Auth.complete()
	p.RateLimit.complete()
	p.Limits.complete()
	p.WAF.complete()
	defaultHeaders := p.CORS.AllowedHeaders == nil
	p.CORS.complete()
	if h := strings.ToLower(p.Auth.APIKeys.Header); defaultHeaders && p.CORS.Enabled() && len(p.Auth.APIKeys.Keys) > 0 &&
		!slices.Contains(p.CORS.AllowedHeaders, h) {
		// Browsers may send API keys too, in the header they are read from: the default allows it.
		p.CORS.AllowedHeaders = append(p.CORS.AllowedHeaders, h)
	}
	p.Tracing.complete()
	p.Metrics.complete()
	p.AccessLog.complete()
}

// Completed returns p with the defaults Parse fills in, for policies built in Go rather than parsed
// (the demo's).
func (p Policies) Completed() Policies {
	p.Rules = append([]PolicyRule(nil), p.Rules...)
	p.complete()
	return p
}
