package registry

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/protogate/gateway/schema"
	"github.com/protogate/gateway/transcoder"
)

// exposure is what one registration exposes, as the fronts will name it.
type exposure struct {
	reg   string
	where string               // the registration's place in the config file, for a config service
	files *protoregistry.Files // the registration's own
	// services are its services as the snapshot serves them: linked to the served copies of the
	// files it shares with other registrations (sharedFiles.linkToServed).
	services []protoreflect.ServiceDescriptor
}

// label names the registration in problems, with its place in the config file for a config service.
func (e exposure) label() string { return regLabel(e.reg, e.where) }

// frontProblems collects what is wrong with what the registrations expose on the REST and GraphQL
// fronts, and which problems are clashes between registrations rather than within one.
type frontProblems struct {
	list    []string
	foreign map[string]bool
}

// err returns the problems as one error, nil when there are none. It wraps ErrConflict when every
// problem is a clash with another registration.
func (fp *frontProblems) err() error {
	if len(fp.list) == 0 {
		return nil
	}
	problems := slices.Compact(slices.Sorted(slices.Values(fp.list)))
	err := errors.New(strings.Join(problems, "; "))
	for _, p := range problems {
		if !fp.foreign[p] {
			return err
		}
	}
	return fmt.Errorf("%w: %w", ErrConflict, err)
}

// checkFronts validates what the registrations expose on the REST front: every HttpRule compiles
// against its request and response messages, and no REST route is bound twice. (GraphQL names are
// checked by schema.Build itself; see graphQLProblems.) All problems are reported.
func checkFronts(exposed []exposure) *frontProblems {
	fp := &frontProblems{foreign: make(map[string]bool)}
	routes := make(map[string]string)     // "GET /v1/users/*" -> "pkg.Svc.Method (registration r)"
	routeOwner := make(map[string]string) // route -> registration
	for _, e := range exposed {
		for _, sd := range e.services {
			methods := sd.Methods()
			for i := range methods.Len() {
				m := methods.Get(i)
				where := fmt.Sprintf("%s (registration %s)", m.FullName(), e.label())
				fp.list = append(fp.list, checkHTTPRules(m, e.reg, where, routes, routeOwner, fp.foreign)...)
			}
		}
	}
	return fp
}

// graphQLProblems adds the problems of a failed schema.Build to fp. A GraphQL name two definitions
// claim is reported with the registrations that bring them, the one later in exposed (the
// registration being changed) first; it is a clash between registrations when no registration
// brings both definitions.
func (fp *frontProblems) graphQLProblems(err error, exposed []exposure) error {
	serr, ok := errors.AsType[*schema.Error](err)
	if !ok {
		return fmt.Errorf("GraphQL schema: %w", err)
	}
	conflicts := make(map[string]schema.Conflict, len(serr.Conflicts))
	for _, c := range serr.Conflicts {
		conflicts[c.Problem] = c
	}
	for _, p := range serr.Problems {
		c, ok := conflicts[p]
		if !ok {
			fp.list = append(fp.list, "GraphQL schema: "+p)
			continue
		}
		a, b := owners(c.Claims[0].Def, exposed), owners(c.Claims[1].Def, exposed)
		if len(a) == 0 || len(b) == 0 {
			fp.list = append(fp.list, "GraphQL schema: "+p)
			continue
		}
		first, second := c.Claims[0], c.Claims[1]
		if a[0] > b[0] { // the first claim belongs to the later registration: name it first
			first, second, a, b = second, first, b, a
		}
		var msg string
		newer, older := exposed[b[0]].label(), exposed[a[0]].label()
		if c.RootField {
			msg = fmt.Sprintf("GraphQL root field %s of %s (registration %s) is already taken by %s (registration %s); %s",
				c.Name, second.Def, newer, first.Def, older, schema.RootFieldHint(methodKey(second.Def)))
		} else {
			msg = fmt.Sprintf("GraphQL type %s for %s (registration %s) is already taken by %s (registration %s); a prefix for one of their packages tells them apart",
				c.Name, claimString(second), newer, claimString(first), older)
		}
		fp.list = append(fp.list, msg)
		fp.foreign[msg] = !slices.ContainsFunc(a, func(i int) bool { return slices.Contains(b, i) })
	}
	return nil
}

// owners returns the indexes in exposed of the registrations whose descriptors define def.
func owners(def protoreflect.FullName, exposed []exposure) []int {
	var out []int
	for i, e := range exposed {
		if _, err := e.files.FindDescriptorByName(def); err == nil {
			out = append(out, i)
		}
	}
	return out
}

// methodKey spells the full name of a method as overrides name it: "package.Service/Method".
func methodKey(m protoreflect.FullName) string { return string(m.Parent()) + "/" + string(m.Name()) }

func claimString(c schema.Claim) string {
	if c.Input {
		return "the input of " + string(c.Def)
	}
	return string(c.Def)
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
		if own := gatewayPath(tpl); own != "" {
			problems = append(problems, fmt.Sprintf("%s: REST route %s %s is the gateway's own %s, which would always answer it", where, verb, path, own))
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

// gatewayPath names what the gateway serves itself at a path a template spells out ("/graphql",
// "/graphql/...", "/openapi.json", "/openapi.yaml", "/docs"), which the data port's dispatch hands
// to its own handlers before the REST router; "" for any other path. A template whose variable
// could take such a path ("/{name}") is not refused: the gateway's paths win over it.
func gatewayPath(tpl *transcoder.Template) string {
	segs := tpl.Segments
	literal := func(i int, v string) bool {
		return len(segs) > i && segs[i].Kind == transcoder.Literal && segs[i].Value == v
	}
	switch {
	case literal(0, "graphql") && (len(segs) > 1 || tpl.Verb == ""):
		return "GraphQL endpoint (/graphql)"
	case len(segs) == 1 && tpl.Verb == "" && (literal(0, "openapi.json") || literal(0, "openapi.yaml") || literal(0, "docs")):
		return "OpenAPI document (/" + segs[0].Value + ")"
	}
	return ""
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
