package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/protogate/gateway/config"
	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/transcoder"
)

// SpecFromConfig turns the clusters, routes and GraphQL settings of a validated config into a Spec. Registrations are
// added by the caller: the config's static services need their descriptors loaded first.
func SpecFromConfig(cfg *config.Config) (Spec, error) {
	spec := Spec{Policies: cfg.Policies}
	// The document describes what the REST front writes: with emit_unpopulated, nulls.
	spec.OpenAPI.EmitUnpopulated = cfg.REST.EmitUnpopulated
	// ... and every route it serves: the default POST /pkg.Service/Method of each method without a
	// binding, while default_routes is on.
	spec.OpenAPI.IncludeUnbound = cfg.REST.DefaultRoutesOn()
	if !cfg.REST.DefaultRoutesOn() {
		spec.REST = append(spec.REST, transcoder.WithoutDefaultRoutes())
	}
	for _, c := range cfg.Clusters {
		cc, err := clusterConfig(c)
		if err != nil {
			return Spec{}, fmt.Errorf("cluster %q: %w", c.Name, err)
		}
		cs := ClusterSpec{Name: c.Name, Config: cc}
		for _, ep := range c.Endpoints {
			cs.Endpoints = append(cs.Endpoints, ep.Address)
			cs.Config.Weights = append(cs.Config.Weights, uint32(ep.Weight))
		}
		spec.Clusters = append(spec.Clusters, cs)
	}
	for _, r := range cfg.Routes {
		rs := RouteSpec{Name: r.Name, Where: r.Where, Timeout: r.Timeout, Retry: retryPolicy(r.Retry)}
		switch {
		case r.Match.Method != "":
			rs.Match.Method = r.Match.Method
		case r.Match.Service != "":
			rs.Match.Prefix = "/" + r.Match.Service + "/"
		default:
			rs.Match.Prefix = r.Match.Prefix
		}
		for _, h := range r.Match.Headers {
			hm := routing.HeaderMatch{Name: h.Name, Exact: h.Exact, Prefix: h.Prefix, Present: h.Present, Invert: h.Invert}
			if h.Regex != "" {
				re, err := regexp.Compile(h.Regex)
				if err != nil {
					return Spec{}, fmt.Errorf("route %q: header %s: %w", r.Name, h.Name, err)
				}
				hm.Regex = re
			}
			rs.Match.Headers = append(rs.Match.Headers, hm)
		}
		for _, t := range r.Targets() {
			rs.Clusters = append(rs.Clusters, WeightedCluster{Name: t.Name, Weight: uint32(t.Weight)})
		}
		spec.Routes = append(spec.Routes, rs)
	}
	spec.GraphQL, spec.GraphQLFront = graphQLOptions(cfg.GraphQL)
	return spec, nil
}

// clusterConfig turns a validated cluster's settings into routing's; zero values keep the defaults.
// It loads the cluster's TLS material, which validation loaded too: an error means a file changed
// since.
func clusterConfig(c config.Cluster) (routing.ClusterConfig, error) {
	lb, _ := routing.ParseBalancer(c.LB) // validated; "" is round robin
	hc, cb, od := c.HealthCheck, c.CircuitBreaker, c.OutlierDetection
	transport, err := clusterTransport(c)
	if err != nil {
		return routing.ClusterConfig{}, err
	}
	return routing.ClusterConfig{
		Transport:         transport,
		Balancer:          lb,
		HashKey:           c.HashKey,
		MaxRequests:       c.MaxRequests,
		DNSRefresh:        c.DNSRefresh,
		MaxEjectedPercent: od.MaxEjectedPercent,
		PanicThreshold:    panicThreshold(od.PanicThreshold),
		RetryBudget:       routing.RetryBudget{Percent: c.RetryBudget.Percent, MinRetries: c.RetryBudget.MinRetries},
		Endpoint: routing.EndpointConfig{
			Health: routing.HealthCheckConfig{Interval: hc.Interval, Timeout: hc.Timeout, HealthyThreshold: hc.HealthyThreshold,
				UnhealthyThreshold: hc.UnhealthyThreshold, Service: hc.Service, HTTPPath: hc.HTTPPath},
			Breaker: routing.BreakerConfig{Disabled: cb.Disabled, ConsecutiveFailures: uint32(cb.ConsecutiveFailures),
				OpenTimeout: cb.OpenTimeout, HalfOpenRequests: uint32(cb.HalfOpenRequests)},
			Outlier: routing.OutlierConfig{Disabled: od.Disabled, ConsecutiveFailures: int32(od.ConsecutiveFailures),
				BaseEjectionTime: od.BaseEjectionTime, MaxEjectionTime: od.MaxEjectionTime},
		},
	}, nil
}

// panicThreshold is outlier_detection.panic_threshold as routing takes it: 0, its default, when the
// file leaves it out, and negative, never panicking, when the file writes 0.
func panicThreshold(p *int) int {
	switch {
	case p == nil:
		return 0
	case *p == 0:
		return -1
	}
	return *p
}

// clusterTransport is how the gateway connects to a cluster's endpoints, its TLS files loaded.
func clusterTransport(c config.Cluster) (routing.Transport, error) {
	t := routing.Transport{ConnectTimeout: c.ConnectTimeout}
	if !c.TLS.Enabled {
		return t, nil
	}
	roots, err := c.TLS.RootCAs()
	if err != nil {
		return t, fmt.Errorf("tls.ca_file: %w", err)
	}
	cert, err := c.TLS.ClientCertificate()
	if err != nil {
		return t, fmt.Errorf("tls.cert_file: %w", err)
	}
	t.TLS = &routing.TLSConfig{RootCAs: roots, ServerName: c.TLS.ServerName,
		InsecureSkipVerify: c.TLS.InsecureSkipVerify, Certificate: cert}
	return t, nil
}

// retryPolicy turns a validated route retry policy into routing's.
func retryPolicy(r config.Retry) routing.RetryPolicy {
	p := routing.RetryPolicy{Attempts: r.Attempts, PerTryTimeout: r.PerTryTimeout, BackoffBase: r.Backoff.Base, BackoffMax: r.Backoff.Max}
	for _, name := range r.RetryOn {
		if c, ok := config.StatusCode(name); ok {
			p.RetryOn = append(p.RetryOn, codes.Code(c))
		}
	}
	return p
}

// StaticOptions say how StaticRegistrations loads the config's services.
type StaticOptions struct {
	// Timeout bounds each reflection exchange (default 10s).
	Timeout time.Duration
	// Previous is the base spec serving now (Registry.Base), on a reload. A reflection service whose
	// section did not change (same name, cluster, services and reflection endpoint) keeps the
	// descriptors it has there, or stays pending, without asking its backend again: a reload applies
	// while a backend is down, and never changes a service's descriptors behind the operator's back.
	Previous Spec
	// Defer, at start, makes a reflection service whose backend does not answer pending (Spec.Pending)
	// instead of failing the whole config: the gateway serves the rest and keeps asking.
	Defer bool
	// Offline makes every reflection service pending (with ErrNotAsked) without asking its backend:
	// for checking a config where its backends may not be reachable (gateway validate). Its section
	// is still checked, its cluster's transport (TLS files) loaded.
	Offline bool
}

// ErrNotAsked is the pending reason of a reflection service under StaticOptions.Offline.
var ErrNotAsked = errors.New("its backend is not asked offline: its descriptors are fetched at start")

// StaticRegistrations loads the descriptors of the config's static services. Each becomes a
// registration owned by the config file: the admin API cannot change it. Descriptor sets and .proto
// sources are read again on every call; reflection is asked once per new or changed section, within
// o.Timeout, and a failure fails the call (saying so when the section changed from o.Previous's)
// unless o.Defer makes the service pending.
func StaticRegistrations(ctx context.Context, cfg *config.Config, o StaticOptions) ([]*Registration, []PendingRegistration, error) {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	var (
		regs    []*Registration
		pending []PendingRegistration
		errs    []error // every service's problem, not only the first
	)
	for _, svc := range cfg.Services {
		reg := &Registration{Name: svc.Name, Cluster: svc.Cluster, Services: svc.Services, where: svc.Where, servicesWhere: svc.ServicesWhere}
		var err error
		switch {
		case svc.DescriptorSet != "":
			reg.source = adminv1.SourceKind_SOURCE_KIND_DESCRIPTOR_SET
			reg.sourceFiles = []string{svc.DescriptorSet}
			var data []byte
			if data, err = os.ReadFile(svc.DescriptorSet); err == nil {
				reg.Files, err = FilesFromDescriptorSet(data)
			}
		case len(svc.Protos) > 0:
			reg.source = adminv1.SourceKind_SOURCE_KIND_PROTO_SOURCES
			var sources map[string]string
			var entry []string
			if sources, entry, reg.sourceFiles, err = collectProtoSources(svc.Protos, svc.ImportPaths); err == nil {
				reg.Files, err = FilesFromProtos(ctx, sources, entry)
			}
		case svc.Reflect:
			reg.source = adminv1.SourceKind_SOURCE_KIND_REFLECTION
			for _, c := range cfg.Clusters {
				if c.Name == svc.Cluster && len(c.Endpoints) > 0 {
					// Asked as the cluster's calls go: over TLS when they do.
					reg.reflectFrom = c.Endpoints[0].Address
					reg.reflectOver, err = clusterTransport(c)
				}
			}
			if err != nil {
				break
			}
			if prev := o.Previous.registration(reg); prev != nil {
				reg.Files = prev.Files
				break
			}
			if p := o.Previous.pending(reg); p != nil {
				pending = append(pending, PendingRegistration{Registration: reg, Err: p.Err})
				continue
			}
			if o.Offline {
				pending = append(pending, PendingRegistration{Registration: reg, Err: ErrNotAsked})
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, o.Timeout)
			reg.Files, _, err = FilesFromReflectionOver(rctx, reg.reflectFrom, reg.reflectOver, svc.Services)
			cancel()
			switch {
			case err != nil && o.Defer:
				pending = append(pending, PendingRegistration{Registration: reg, Err: err})
				continue
			case err != nil && o.Previous.hasStatic(reg.Name):
				err = fmt.Errorf("section changed, so its descriptors are fetched again: %w", err)
			}
		default:
			err = fmt.Errorf("no descriptor source")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%sservice %q: %w", where(svc), svc.Name, err))
			continue
		}
		regs = append(regs, reg)
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return regs, pending, nil
}

// reflectionTarget is where a service that c serves is asked for its descriptors by server
// reflection: c's first endpoint, over c's transport, as the config file's services are (see
// StaticRegistrations) and as their calls go.
func (c ClusterSpec) reflectionTarget() (string, routing.Transport, error) {
	if len(c.Endpoints) == 0 {
		return "", routing.Transport{}, fmt.Errorf("cluster %q has no endpoint to ask for reflection", c.Name)
	}
	return c.Endpoints[0], c.Config.Transport, nil
}

// where is the place of a config service in its file, "file:line:col: services[i]: ", or "".
func where(svc config.Service) string {
	if svc.Where == "" {
		return ""
	}
	return svc.Where + ": "
}

// PendingRegistration is a config service whose descriptors are to come by reflection from a backend
// that has not answered yet.
type PendingRegistration struct {
	// Registration is the service without its Files.
	Registration *Registration
	// Err is why its backend's reflection did not answer, last time it was asked.
	Err error
}

// sameSection reports whether a and b come from the same config section with reflection: same name,
// cluster, services, reflection endpoint and transport to it, so the same descriptors.
func sameSection(a, b *Registration) bool {
	return a.reflectFrom != "" && a.reflectFrom == b.reflectFrom && a.Name == b.Name && a.Cluster == b.Cluster &&
		slices.Equal(a.Services, b.Services) && a.reflectOver.Equal(b.reflectOver)
}

// registration returns the reflection registration of s from the same section as reg, if any.
func (s Spec) registration(reg *Registration) *Registration {
	for _, r := range s.Registrations {
		if sameSection(r, reg) {
			return r
		}
	}
	return nil
}

// pending returns the pending registration of s from the same section as reg, if any.
func (s Spec) pending(reg *Registration) *PendingRegistration {
	for i := range s.Pending {
		if sameSection(s.Pending[i].Registration, reg) {
			return &s.Pending[i]
		}
	}
	return nil
}

// hasStatic reports whether s has a config service named name, loaded or pending.
func (s Spec) hasStatic(name string) bool {
	return slices.ContainsFunc(s.Registrations, func(r *Registration) bool { return r.Name == name }) ||
		slices.ContainsFunc(s.Pending, func(p PendingRegistration) bool { return p.Registration.Name == name })
}
