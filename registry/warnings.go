package registry

import (
	"fmt"
	"slices"
	"strings"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/routing"
)

// The config's mistakes that only the registered services reveal, or that are legitimate yet
// probably mistaken, are not errors: the gateway serves, and says so once per snapshot the config
// makes (validate prints them, serve logs them at start and at each reload). Those of the GraphQL
// options are activeLinks' and activeOverrides'; those of the policy rules and the routes are here.

// ruleWarnings checks the policy rules that name a service or a method against what the snapshot
// serves: known services and their methods, and the spec's routes, which proxy calls of services
// no registration describes. A rule naming a service that nothing serves waits, as a GraphQL
// override does, for a registration to bring it: waiting says so. A rule naming a method its
// registered service lacks (and no route of its own proxies), or a service the gateway answers
// itself, applies to no call: a misspelt name, which unmatched says. Each line starts with the rule's place in the config file.
func ruleWarnings(rules []config.PolicyRule, known map[string]bool, methods map[string]routing.CallKind, routes []RouteSpec) (waiting, unmatched []string) {
	for _, r := range rules {
		m := r.Match
		if m.Service == "" && m.Method == "" {
			continue // a prefix: it may match methods of services to come
		}
		service, target := m.Service, "/"+m.Service+"/"
		if m.Method != "" {
			target = "/" + strings.TrimPrefix(m.Method, "/")
			service = serviceOf(target)
		}
		switch {
		case gatewayService(service):
			unmatched = append(unmatched, fmt.Sprintf("%s: %s is the gateway's own service (health checks, server reflection): no rule applies to it", placeOf(r.Where, "policy rule", r.Name), service))
		case !known[service] && !proxied(target, m.Method != "", routes):
			waiting = append(waiting, fmt.Sprintf("%s: service %s is not registered", placeOf(r.Where, "policy rule", r.Name), service))
		case !known[service]:
		case m.Method != "":
			_, ok := methods[target]
			routed := slices.ContainsFunc(routes, func(rs RouteSpec) bool { return rs.Match.Method == target })
			if !ok && !routed { // a route of its own says the method is meant, whatever the descriptors say
				unmatched = append(unmatched, fmt.Sprintf("%s: the registered service %s has no method %s", placeOf(r.Where, "policy rule", r.Name), service, target[len(service)+2:]))
			}
		}
	}
	return waiting, unmatched
}

// placeOf names what a warning is about: its place in the config file, or, for what was made in
// Go (the demo's rules), its kind and name.
func placeOf(where, kind, name string) string {
	if where != "" {
		return where
	}
	return fmt.Sprintf("%s %q", kind, name)
}

// proxied reports whether a route of routes takes calls that target names: the full method, when
// exact, or else methods of the service whose prefix ("/pkg.Service/") it is.
func proxied(target string, exact bool, routes []RouteSpec) bool {
	for _, r := range routes {
		m := r.Match
		if m.Method != "" && (m.Method == target || !exact && strings.HasPrefix(m.Method, target)) ||
			m.Prefix != "" && (strings.HasPrefix(target, m.Prefix) || !exact && strings.HasPrefix(m.Prefix, target)) {
			return true
		}
	}
	return false
}

// shadowedRoutes describes the routes that never win: routes are tried by specificity (the same
// method, or the same prefix, ties) and in order within a tie, so an earlier route of the same match
// whose header conditions are all among a later one's takes every call the later one would.
func shadowedRoutes(routes []RouteSpec) []string {
	var out []string
	for i, r := range routes {
		for _, first := range routes[:i] {
			if first.Match.Method == r.Match.Method && first.Match.Prefix == r.Match.Prefix && headersAmong(first.Match.Headers, r.Match.Headers) {
				out = append(out, fmt.Sprintf("%s: route %q never wins: route %s comes first and takes every call it matches",
					placeOf(r.Where, "route", r.Name), r.Name, regLabel(first.Name, first.Where)))
				break
			}
		}
	}
	return out
}

// headersAmong reports whether each of the header conditions hs is also one of those of of, so that
// a call meeting those of meets hs.
func headersAmong(hs, of []routing.HeaderMatch) bool {
	for _, h := range hs {
		if !slices.ContainsFunc(of, func(o routing.HeaderMatch) bool { return sameHeaderMatch(h, o) }) {
			return false
		}
	}
	return true
}

func sameHeaderMatch(a, b routing.HeaderMatch) bool {
	regex := func(h routing.HeaderMatch) string {
		if h.Regex == nil {
			return ""
		}
		return h.Regex.String()
	}
	return a.Name == b.Name && a.Exact == b.Exact && a.Prefix == b.Prefix && regex(a) == regex(b) &&
		a.Present == b.Present && a.Invert == b.Invert
}
