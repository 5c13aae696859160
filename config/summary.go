package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Summary describes c for people, one setting per line: the listeners,
// then every cluster, route and service in order, with routes showing
// what they match and where they send calls. The text depends only on
// c, so golden tests can compare it.
func (c *Config) Summary() string {
	var s summary
	s.line(0, "listen %s", c.Listen)
	s.line(0, "admin_listen %s", c.AdminListen)
	if c.DataDir == "" {
		s.line(0, "data_dir none (registrations are kept in memory)")
	} else {
		s.line(0, "data_dir %s", printable(c.DataDir))
	}
	s.line(0, "keep_versions %d", c.KeepVersions)
	s.line(0, "shutdown_grace %s", c.ShutdownGrace)
	switch t := c.TLS; {
	case !t.Enabled():
		s.line(0, "tls off")
	case t.ClientCAFile == "":
		s.line(0, "tls cert_file %s, key_file %s", printable(t.CertFile), printable(t.KeyFile))
	default:
		s.line(0, "tls cert_file %s, key_file %s, client_ca_file %s (mTLS)",
			printable(t.CertFile), printable(t.KeyFile), printable(t.ClientCAFile))
	}
	s.line(0, "grpc max_message_bytes %s", c.GRPC.MaxMessageBytes)
	s.rest(c.REST)
	s.limits(c.Policies.Limits)
	s.waf(c.Policies.WAF)
	s.rateLimit(c.Policies)
	s.cors(c.Policies.CORS)

	s.section(len(c.Clusters), "clusters")
	for _, cl := range c.Clusters {
		s.cluster(cl)
	}
	s.section(len(c.Routes), "routes")
	for _, r := range c.Routes {
		s.route(r)
	}
	s.section(len(c.Services), "services")
	for _, svc := range c.Services {
		s.service(svc)
	}
	s.graphql(c.GraphQL)
	c.Policies.Auth.summary(&s, c.Policies.Rules)
	c.Policies.telemetrySummary(&s)
	return s.String()
}

type summary struct{ strings.Builder }

func (s *summary) line(indent int, format string, args ...any) {
	s.WriteString(strings.Repeat("  ", indent))
	fmt.Fprintf(s, format, args...)
	s.WriteByte('\n')
}

func (s *summary) section(n int, name string) {
	s.WriteByte('\n')
	if n == 0 {
		s.line(0, "no %s", name)
	}
}

func (s *summary) cluster(cl Cluster) {
	s.line(0, "cluster %s", cl.Name)
	for _, ep := range cl.Endpoints {
		s.line(1, "endpoint %s weight %d", ep.Address, ep.Weight)
	}
	s.line(1, "connect_timeout %s", cl.ConnectTimeout)
	s.resilience(cl)
	t := cl.TLS
	if !t.Enabled {
		s.line(1, "tls off")
		return
	}
	parts := []string{"tls on"}
	if t.CAFile != "" {
		parts = append(parts, "ca_file "+printable(t.CAFile))
	}
	if t.ServerName != "" {
		parts = append(parts, "server_name "+printable(t.ServerName))
	}
	if t.InsecureSkipVerify {
		parts = append(parts, "insecure_skip_verify")
	}
	if t.CertFile != "" {
		parts = append(parts, "cert_file "+printable(t.CertFile), "key_file "+printable(t.KeyFile))
	}
	s.line(1, "%s", strings.Join(parts, ", "))
}

func (s *summary) route(r Route) {
	s.line(0, "route %s", r.Name)
	switch m := r.Match; {
	case m.Method != "":
		s.line(1, "match method %s", m.Method)
	case m.Service != "":
		s.line(1, "match service %s", m.Service)
	default:
		s.line(1, "match prefix %s", strconv.Quote(m.Prefix))
	}
	for _, h := range r.Match.Headers {
		var test string
		switch {
		case h.Exact != "":
			test = "exact " + strconv.Quote(h.Exact)
		case h.Prefix != "":
			test = "prefix " + strconv.Quote(h.Prefix)
		case h.Regex != "":
			test = "regex " + strconv.Quote(h.Regex)
		default:
			test = "present"
		}
		if h.Invert {
			test = "not " + test
		}
		s.line(1, "header %s %s", h.Name, test)
	}
	targets := r.Targets()
	if len(targets) == 1 {
		s.line(1, "to %s", targets[0].Name)
	} else {
		parts := make([]string, len(targets))
		for i, t := range targets {
			parts[i] = fmt.Sprintf("%s weight %d", t.Name, t.Weight)
		}
		s.line(1, "to %s", strings.Join(parts, ", "))
	}
	if r.Timeout > 0 {
		s.line(1, "timeout %s", r.Timeout)
	}
	if rt := r.Retry; rt.Attempts != 0 || rt.PerTryTimeout != 0 || len(rt.RetryOn) > 0 || rt.Backoff != (Backoff{}) {
		s.line(1, "retry %s", settings("attempts", rt.Attempts, "per_try_timeout", rt.PerTryTimeout,
			"retry_on", strings.Join(rt.RetryOn, ","), "backoff.base", rt.Backoff.Base, "backoff.max", rt.Backoff.Max))
	}
}

// resilience prints a cluster's balancing and resilience settings that differ from the defaults.
func (s *summary) resilience(cl Cluster) {
	if cl.LB != "" && cl.LB != "round_robin" || cl.HashKey != "" {
		s.line(1, "lb %s", settings("", cl.LB, "hash_key", cl.HashKey))
	}
	if cl.MaxRequests > 0 {
		s.line(1, "max_requests %d", cl.MaxRequests)
	}
	if cl.DNSRefresh > 0 {
		s.line(1, "dns_refresh %s", cl.DNSRefresh)
	}
	if h := cl.HealthCheck; h != (HealthCheck{}) {
		s.line(1, "health_check %s", settings("interval", h.Interval, "timeout", h.Timeout,
			"healthy_threshold", h.HealthyThreshold, "unhealthy_threshold", h.UnhealthyThreshold, "service", h.Service,
			"http_path", h.HTTPPath))
	}
	if b := cl.CircuitBreaker; b.Disabled {
		s.line(1, "circuit_breaker disabled")
	} else if b != (CircuitBreaker{}) {
		s.line(1, "circuit_breaker %s", settings("consecutive_failures", b.ConsecutiveFailures,
			"open_timeout", b.OpenTimeout, "half_open_requests", b.HalfOpenRequests))
	}
	if o := cl.OutlierDetection; o.Disabled {
		s.line(1, "outlier_detection disabled")
	} else if o != (OutlierDetection{}) {
		s.line(1, "outlier_detection %s", settings("consecutive_failures", o.ConsecutiveFailures,
			"base_ejection_time", o.BaseEjectionTime, "max_ejection_time", o.MaxEjectionTime,
			"max_ejected_percent", o.MaxEjectedPercent, "panic_threshold", o.PanicThreshold))
	}
	if b := cl.RetryBudget; b != (RetryBudget{}) {
		s.line(1, "retry_budget %s", settings("percent", b.Percent, "min_retries", b.MinRetries))
	}
}

// settings joins name/value pairs, skipping zero values and nil pointers; an empty name prints the
// value alone.
func settings(pairs ...any) string {
	var parts []string
	for i := 0; i+1 < len(pairs); i += 2 {
		name, _ := pairs[i].(string)
		var v string
		switch x := pairs[i+1].(type) {
		case int:
			if x == 0 {
				continue
			}
			v = strconv.Itoa(x)
		case *int: // set, 0 included, or nil
			if x == nil {
				continue
			}
			v = strconv.Itoa(*x)
		case string:
			if x == "" {
				continue
			}
			v = printable(x)
		default:
			v = fmt.Sprint(x)
			if v == "0s" {
				continue
			}
		}
		if name != "" {
			v = name + " " + v
		}
		parts = append(parts, v)
	}
	return strings.Join(parts, ", ")
}

func (s *summary) service(svc Service) {
	s.line(0, "service %s", svc.Name)
	s.line(1, "cluster %s", svc.Cluster)
	switch {
	case svc.DescriptorSet != "":
		s.line(1, "descriptor_set %s", printable(svc.DescriptorSet))
	case len(svc.Protos) > 0:
		s.line(1, "protos %s", printables(svc.Protos))
		if len(svc.ImportPaths) > 0 {
			s.line(1, "import_paths %s", printables(svc.ImportPaths))
		}
	case svc.Reflect:
		s.line(1, "reflect")
	}
	if len(svc.Services) > 0 {
		s.line(1, "expose %s", strings.Join(svc.Services, ", "))
	} else {
		s.line(1, "expose all services")
	}
}

func printables(list []string) string {
	out := make([]string, len(list))
	for i, p := range list {
		out[i] = printable(p)
	}
	return strings.Join(out, ", ")
}
