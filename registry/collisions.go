package registry

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/schema"
	"github.com/protogate/gateway/transcoder"
)

// exposure is what one registration exposes, as the fronts will name it.
type exposure struct {
	reg      string
	services []protoreflect.ServiceDescriptor
}

// checkFronts validates what the registrations expose on the REST and GraphQL fronts: every HttpRule
// compiles against its request and response messages, no REST route is bound twice, and no GraphQL
// type or root field name is claimed by two different protobuf definitions. All problems are reported.
func checkFronts(exposed []exposure) error {
	var problems []string
	routes := make(map[string]string)     // "GET /v1/users/*" -> "pkg.Svc.Method (registration r)"
	typeNames := make(map[string]string)  // GraphQL type name -> proto full name
	typeOwner := make(map[string]string)  // GraphQL type name -> registration
	rootFields := make(map[string]string) // GraphQL root field -> "pkg.Svc.Method (registration r)"
	routeOwner := make(map[string]string) // route -> registration
	rootOwner := make(map[string]string)  // GraphQL root field -> registration
	foreign := make(map[string]bool)      // problems that are clashes with another registration
	for _, e := range exposed {
		for _, sd := range e.services {
			methods := sd.Methods()
			for i := range methods.Len() {
				m := methods.Get(i)
				where := fmt.Sprintf("%s (registration %q)", m.FullName(), e.reg)
				problems = append(problems, checkHTTPRules(m, e.reg, where, routes, routeOwner, foreign)...)

				field := schema.FieldName(string(m.Name()))
				if other, ok := rootFields[field]; ok {
					p := fmt.Sprintf("GraphQL root field %s of %s is already taken by %s", field, where, other)
					problems = append(problems, p)
					foreign[p] = foreign[p] || rootOwner[field] != e.reg
				} else {
					rootFields[field], rootOwner[field] = where, e.reg
				}
				for _, d := range []protoreflect.MessageDescriptor{m.Input(), m.Output()} {
					problems = append(problems, claimTypes(d, e.reg, typeNames, typeOwner, make(map[protoreflect.FullName]bool), foreign)...)
				}
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	slices.Sort(problems)
	problems = slices.Compact(problems)
	err := errors.New(strings.Join(problems, "; "))
	for _, p := range problems {
		if !foreign[p] {
			return err
		}
	}
	return fmt.Errorf("%w: %w", ErrConflict, err)
}

// checkHTTPRules compiles the method's google.api.http bindings and claims their routes.
func checkHTTPRules(m protoreflect.MethodDescriptor, reg, where string, routes, routeOwner map[string]string, foreign map[string]bool) []string {
	rules, err := transcoder.HTTPRules(m)
	if err != nil {
		return []string{fmt.Sprintf("%s: google.api.http: %v", where, err)}
	}
	var problems []string
	for _, rule := range rules {
		verb, path := transcoder.RulePattern(rule)
		if verb == "" || path == "" {
			problems = append(problems, fmt.Sprintf("%s: google.api.http binding has no method and path", where))
			continue
		}
		tpl, err := transcoder.ParseTemplate(path)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", where, err))
			continue
		}
		for _, v := range tpl.Variables {
			if err := checkFieldPath(m.Input(), v.FieldPath, true); err != nil {
				problems = append(problems, fmt.Sprintf("%s: path %s: %v", where, path, err))
			}
		}
		if body := rule.GetBody(); body != "" && body != "*" {
			if err := checkFieldPath(m.Input(), strings.Split(body, "."), false); err != nil {
				problems = append(problems, fmt.Sprintf("%s: body %q: %v", where, body, err))
			}
		}
		if rb := rule.GetResponseBody(); rb != "" {
			if err := checkFieldPath(m.Output(), strings.Split(rb, "."), false); err != nil {
				problems = append(problems, fmt.Sprintf("%s: response_body %q: %v", where, rb, err))
			}
		}
		key := verb + " " + tpl.Key()
		if other, ok := routes[key]; ok && other != where {
			p := fmt.Sprintf("REST route %s %s of %s collides with %s", verb, path, where, other)
			problems = append(problems, p)
			foreign[p] = foreign[p] || routeOwner[key] != reg
		} else {
			routes[key], routeOwner[key] = where, reg
		}
	}
	return problems
}

// checkFieldPath resolves a dotted field path in md. Path variables must end on a singular field that
// is not a message (well-known wrapper and time types excepted).
func checkFieldPath(md protoreflect.MessageDescriptor, path []string, pathVar bool) error {
	fields, err := transcoder.FieldPath(md, path)
	if err != nil || !pathVar {
		return err
	}
	fd := fields[len(fields)-1]
	if fd.IsList() || fd.IsMap() {
		return fmt.Errorf("field %s is repeated and cannot be bound to a path segment", fd.FullName())
	}
	if fd.Message() != nil && !strings.HasPrefix(string(fd.Message().FullName()), "google.protobuf.") {
		return fmt.Errorf("field %s is a message and cannot be bound to a path segment", fd.FullName())
	}
	return nil
}

// claimTypes claims the GraphQL type names of md and every message and enum reachable from it.
func claimTypes(md protoreflect.MessageDescriptor, reg string, names, owners map[string]string, seen map[protoreflect.FullName]bool, foreign map[string]bool) []string {
	if seen[md.FullName()] || strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return nil
	}
	seen[md.FullName()] = true
	var problems []string
	if p := claimType(md, reg, names, owners, foreign); p != "" {
		problems = append(problems, p)
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsMap() {
			continue // maps become the JSON scalar
		}
		switch {
		case fd.Message() != nil:
			problems = append(problems, claimTypes(fd.Message(), reg, names, owners, seen, foreign)...)
		case fd.Enum() != nil && !seen[fd.Enum().FullName()]:
			seen[fd.Enum().FullName()] = true
			if p := claimType(fd.Enum(), reg, names, owners, foreign); p != "" {
				problems = append(problems, p)
			}
		}
	}
	return problems
}

func claimType(d protoreflect.Descriptor, reg string, names, owners map[string]string, foreign map[string]bool) string {
	name := schema.TypeName(d)
	full := string(d.FullName())
	if prev, ok := names[name]; ok && prev != full {
		p := fmt.Sprintf("GraphQL type %s for %s (registration %q) is already taken by %s (registration %q)", name, full, reg, prev, owners[name])
		foreign[p] = foreign[p] || owners[name] != reg
		return p
	}
	names[name] = full
	owners[name] = reg
	return ""
}
