package registry

import (
	"fmt"
	"regexp"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/routing"
)

// SpecFromConfig turns the clusters and routes of a validated config into a Spec. Registrations are
// added by the caller: the config's static services need their descriptors loaded first.
func SpecFromConfig(cfg *config.Config) (Spec, error) {
	var spec Spec
	for _, c := range cfg.Clusters {
		cs := ClusterSpec{Name: c.Name}
		for _, ep := range c.Endpoints {
			cs.Endpoints = append(cs.Endpoints, ep.Address)
		}
		spec.Clusters = append(spec.Clusters, cs)
	}
	for _, r := range cfg.Routes {
		rs := RouteSpec{Name: r.Name, Timeout: r.Timeout}
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
	return spec, nil
}
