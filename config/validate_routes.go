package config

import (
	"errors"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
)

// routes checks the routes: names, matches and targets.
func (v *validator) routes(c *Config) {
	unnamed := map[string]int{} // default name -> index of the route that takes it
	for i, r := range c.Routes {
		if r.Name == "" {
			unnamed["route-"+strconv.Itoa(i)] = i
		}
	}
	first := map[string]string{}
	for i, r := range c.Routes {
		path := index("routes", i)
		if r.Name != "" && v.name(field(path, "name"), r.Name, "route", first) {
			if j, ok := unnamed[r.Name]; ok {
				v.fieldf(field(path, "name"), "%q is the default name of routes[%d], which has none", r.Name, j)
			}
		}
		v.match(field(path, "match"), r.Match)
		v.targets(path, r)
		v.positive(field(path, "timeout"), r.Timeout)
		v.retry(field(path, "retry"), r.Retry)
	}
}

// match checks what a route matches.
func (v *validator) match(path string, m Match) {
	service, method, prefix := field(path, "service"), field(path, "method"), field(path, "prefix")
	v.nonEmpty(service, m.Service)
	v.nonEmpty(method, m.Method)
	v.nonEmpty(prefix, m.Prefix)
	v.exactlyOne(path, []string{"service", "method", "prefix"},
		[]bool{m.Service != "", m.Method != "", m.Prefix != ""})
	if m.Service != "" && !validFullName(m.Service) {
		v.fieldf(service, "invalid service name %q: want a fully qualified name such as \"pkg.Service\"", m.Service)
	}
	if m.Method != "" && !validMethod(m.Method) {
		v.fieldf(method, "invalid method %q: want \"pkg.Service/Method\"", m.Method)
	}
	if m.Prefix != "" && !strings.HasPrefix(m.Prefix, "/") {
		v.fieldf(prefix, "invalid prefix %q: full method names start with \"/\"", m.Prefix)
	}
	for i, h := range m.Headers {
		v.header(index(field(path, "headers"), i), h)
	}
}

// header checks one header match.
func (v *validator) header(path string, h HeaderMatch) {
	switch name := field(path, "name"); {
	case h.Name == "":
		v.fieldf(name, "required")
	case !validHeaderName(h.Name):
		v.fieldf(name, "invalid header name %q", h.Name)
	}
	v.nonEmpty(field(path, "exact"), h.Exact)
	v.nonEmpty(field(path, "prefix"), h.Prefix)
	v.nonEmpty(field(path, "regex"), h.Regex)
	v.exactlyOne(path, []string{"exact", "prefix", "regex", "present"},
		[]bool{h.Exact != "", h.Prefix != "", h.Regex != "", h.Present})
	if h.Regex == "" {
		return
	}
	if _, err := regexp.Compile(h.Regex); err != nil {
		if se, ok := errors.AsType[*syntax.Error](err); ok {
			v.fieldf(field(path, "regex"), "invalid regex: %s: %q", se.Code, se.Expr)
		} else {
			v.fieldf(field(path, "regex"), "invalid regex: %v", err)
		}
	}
}

// targets checks where a route sends calls.
func (v *validator) targets(path string, r Route) {
	one, many := field(path, "cluster"), field(path, "clusters")
	switch {
	case r.Cluster != "" && v.has(many):
		v.fieldf(many, "set either cluster or clusters, not both")
	case r.Cluster == "" && !v.has(many):
		v.fieldf(path, "set cluster or clusters")
	case v.has(many) && len(r.Clusters) == 0:
		v.fieldf(many, "want at least one cluster")
	}
	if r.Cluster != "" {
		v.reference(one, r.Cluster)
	}
	first := map[string]string{}
	for i, t := range r.Clusters {
		p := index(many, i)
		name := field(p, "name")
		switch prev, dup := first[t.Name]; {
		case t.Name == "":
			v.fieldf(name, "required")
		case dup:
			v.fieldf(name, "cluster %q is already a target (line %d)", t.Name, v.line(prev))
		default:
			first[t.Name] = name
			v.reference(name, t.Name)
		}
		if !v.has(field(p, "weight")) {
			v.fieldf(field(p, "weight"), "required")
		}
		v.weight(field(p, "weight"), t.Weight)
	}
}
