package registry

import (
	"slices"
	"strings"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/routing"
)

// routeHeaders returns the headers the routing decisions of spec read: the names its routes' header
// conditions match on and the hash keys of its ring_hash clusters, lower-cased, sorted, once each.
//
// A gRPC call carries all of its metadata to those decisions. The HTTP fronts (REST, GraphQL) pass a
// request header upstream as metadata only when it is on an allowlist, so each snapshot's list is
// added to theirs: a route keyed on X-Canary, or a cluster hashing X-Session, then sees the header
// whichever front the call came through. Names no HTTP request header can become are left out
// (hop-by-hop headers, the keys gRPC reserves for itself, invalid metadata keys): conditions on them
// can only be met by gRPC callers.
func routeHeaders(spec Spec) []string {
	var names []string
	add := func(name string) {
		name = strings.ToLower(name)
		if httpForwardable(name) && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	for _, r := range spec.Routes {
		for _, h := range r.Match.Headers {
			add(h.Name)
		}
	}
	for _, c := range spec.Clusters {
		if c.Config.Balancer == routing.RingHash && c.Config.HashKey != "" {
			add(c.Config.HashKey)
		}
	}
	slices.Sort(names)
	return names
}

// httpForwardable reports whether the lower-case header name can pass from an HTTP request to the
// metadata of an upstream call.
func httpForwardable(name string) bool {
	switch {
	case !routing.ValidMetadataKey(name), config.IsHopByHopHeader(name),
		strings.HasPrefix(name, "grpc-"), name == "content-type", name == "user-agent":
		return false
	}
	return true
}
