package config

import (
	"slices"
	"strings"
)

// clusterDefinitions checks the clusters, and the clusters that services
// with inline endpoints imply, and makes their names known to references.
func (v *validator) clusterDefinitions(c *Config) {
	first := map[string]string{}
	for i, cl := range c.Clusters {
		path := index("clusters", i)
		if v.name(field(path, "name"), cl.Name, "cluster", first) {
			v.define(cl.Name)
		}
		v.endpoints(field(path, "endpoints"), cl.Endpoints)
		if len(cl.Endpoints) == 0 {
			v.fieldf(field(path, "endpoints"), "want at least one endpoint")
		}
		v.clusterTLS(field(path, "tls"), cl.TLS)
		v.positive(field(path, "connect_timeout"), cl.ConnectTimeout)
		v.resilience(path, cl)
	}
	for i, s := range c.Services {
		if s.Cluster != "" || len(s.Endpoints) == 0 || !validName(s.Name) {
			continue
		}
		if prev, dup := first[s.Name]; dup {
			v.fieldf(field(index("services", i), "endpoints"),
				"imply a cluster named %q, which is already defined at line %d", s.Name, v.line(prev))
			continue
		}
		first[s.Name] = field(index("services", i), "name")
		v.define(s.Name)
	}
}

func (v *validator) define(cluster string) {
	v.clusters[cluster] = true
	v.known = append(v.known, cluster)
}

// endpoints checks a list of endpoints.
func (v *validator) endpoints(path string, eps []Endpoint) {
	first := map[string]string{}
	for i, ep := range eps {
		p := index(path, i)
		addr := field(p, "address")
		if !v.has(addr) {
			addr = p // written as a plain "host:port"
		}
		switch prev, dup := first[ep.Address]; {
		case ep.Address == "":
			v.fieldf(field(p, "address"), "required")
		case dup:
			v.fieldf(addr, "duplicate endpoint %q (first at line %d)", ep.Address, v.line(prev))
		default:
			first[ep.Address] = addr
			v.address(addr, ep.Address, false)
		}
		v.weight(field(p, "weight"), ep.Weight)
	}
}

// resilience checks a cluster's balancing, health and breaking settings.
func (v *validator) resilience(path string, cl Cluster) {
	switch {
	case cl.LB != "" && !slices.Contains(Balancers, cl.LB):
		v.fieldf(field(path, "lb"), "unknown balancer %q (want %s)", cl.LB, strings.Join(Balancers, ", "))
	case cl.LB == "ring_hash" && cl.HashKey == "":
		v.fieldf(field(path, "hash_key"), "required with lb ring_hash")
	case cl.LB != "ring_hash" && cl.HashKey != "":
		v.fieldf(field(path, "hash_key"), "has no effect unless lb is ring_hash")
	}
	v.count(field(path, "max_requests"), cl.MaxRequests, 0, 1<<30)
	v.positive(field(path, "dns_refresh"), cl.DNSRefresh)

	hc, hp := cl.HealthCheck, field(path, "health_check")
	v.positive(field(hp, "interval"), hc.Interval)
	v.positive(field(hp, "timeout"), hc.Timeout)
	if hc.Interval == 0 && (hc.Timeout != 0 || hc.HealthyThreshold != 0 || hc.UnhealthyThreshold != 0 || hc.Service != "" || hc.HTTPPath != "") {
		v.fieldf(field(hp, "interval"), "required: checks run only when interval is set")
	}
	if hc.Interval > 0 && hc.Timeout > hc.Interval {
		v.fieldf(field(hp, "timeout"), "%s is longer than the interval (%s)", hc.Timeout, hc.Interval)
	}
	if hc.HTTPPath != "" && !strings.HasPrefix(hc.HTTPPath, "/") {
		v.fieldf(field(hp, "http_path"), "want a path starting with /, got %q", hc.HTTPPath)
	}
	if hc.HTTPPath != "" && hc.Service != "" {
		v.fieldf(field(hp, "service"), "has no effect with http_path: it names a grpc.health.v1 service")
	}
	v.count(field(hp, "healthy_threshold"), hc.HealthyThreshold, 1, 100)
	v.count(field(hp, "unhealthy_threshold"), hc.UnhealthyThreshold, 1, 100)

	cb, cp := cl.CircuitBreaker, field(path, "circuit_breaker")
	v.count(field(cp, "consecutive_failures"), cb.ConsecutiveFailures, 1, 1000)
	v.positive(field(cp, "open_timeout"), cb.OpenTimeout)
	v.count(field(cp, "half_open_requests"), cb.HalfOpenRequests, 1, 1000)

	od, op := cl.OutlierDetection, field(path, "outlier_detection")
	v.count(field(op, "consecutive_failures"), od.ConsecutiveFailures, 1, 1000)
	v.positive(field(op, "base_ejection_time"), od.BaseEjectionTime)
	v.positive(field(op, "max_ejection_time"), od.MaxEjectionTime)
	if od.BaseEjectionTime > 0 && od.MaxEjectionTime > 0 && od.MaxEjectionTime < od.BaseEjectionTime {
		v.fieldf(field(op, "max_ejection_time"), "%s is shorter than base_ejection_time (%s)", od.MaxEjectionTime, od.BaseEjectionTime)
	}
	v.count(field(op, "max_ejected_percent"), od.MaxEjectedPercent, 1, 100)
	if od.PanicThreshold != nil {
		v.count(field(op, "panic_threshold"), *od.PanicThreshold, 0, 100)
	}

	rb, rp := cl.RetryBudget, field(path, "retry_budget")
	v.count(field(rp, "percent"), rb.Percent, 1, 100)
	v.count(field(rp, "min_retries"), rb.MinRetries, 1, 1<<20)
}

// count checks an integer field: in lo..hi when set.
func (v *validator) count(path string, n, lo, hi int) {
	if (n != 0 || v.has(path)) && (n < lo || n > hi) {
		v.fieldf(path, "want a number in %d..%d, got %d", lo, hi, n)
	}
}

// retry checks a route's retry policy.
func (v *validator) retry(path string, r Retry) {
	v.count(field(path, "attempts"), r.Attempts, 1, 10)
	v.positive(field(path, "per_try_timeout"), r.PerTryTimeout)
	for i, name := range r.RetryOn {
		if _, ok := StatusCode(name); !ok || name == "OK" {
			v.fieldf(index(field(path, "retry_on"), i), "unknown status code %q (want a name such as UNAVAILABLE)", name)
		}
	}
	bp := field(path, "backoff")
	v.positive(field(bp, "base"), r.Backoff.Base)
	v.positive(field(bp, "max"), r.Backoff.Max)
	if r.Backoff.Base > 0 && r.Backoff.Max > 0 && r.Backoff.Max < r.Backoff.Base {
		v.fieldf(field(bp, "max"), "%s is shorter than base (%s)", r.Backoff.Max, r.Backoff.Base)
	}
}
