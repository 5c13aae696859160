package schema

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// BreakingChanges lists what serving after instead of before breaks for clients of before: an
// operation that before accepts and after refuses, or whose result after shapes differently. It
// compares the schemas as clients see them, the types of the loaded SDL, rather than the
// descriptors and options they were built from, so whatever moves, renames, hides or tightens a
// field (an idempotency_level, a google.api.http GET, a gateway option, a proto2 required field, a
// field_behavior, a link that no longer resolves) is caught however the generator comes to it.
//
// It walks before's root fields and every type they reach, each named type once, and compares each
// with its namesake in after:
//
//	GraphQL Query: field getWidget removed
//	GraphQL Mutation: field deleteWidget moved to Query
//	GraphQL Widget: field name removed
//	GraphQL Widget: field name type changed from String! to String
//	GraphQL Query.getWidget: argument id removed
//	GraphQL Query.getWidget: argument id type changed from String to String!
//	GraphQL Query.getWidget: required argument name added (String!)
//	GraphQL WidgetInput: required field name added (String!)
//	GraphQL Color: value RED removed
//	GraphQL Widget: changed from OBJECT to SCALAR
//
// An output type may become non-null and an input type nullable; any other change of a field's or
// argument's type breaks, and so does a named type of another name (a prefix or a message put in
// its place). Additions never break: fields, types, enum values, arguments and input fields that
// may be left out. Either schema may be nil, a schema without fields. The lines are sorted; nil
// means nothing breaks.
func BreakingChanges(before, after *Schema) []string {
	c := compat{before: astOf(before), after: astOf(after), compared: make(map[string]bool)}
	oldRoots := [...]*ast.Definition{c.before.Query, c.before.Mutation, c.before.Subscription}
	newRoots := [...]*ast.Definition{c.after.Query, c.after.Mutation, c.after.Subscription}
	for i, od := range oldRoots {
		if od == nil {
			continue
		}
		for _, of := range od.Fields {
			if introspection(of.Name) || (od == c.before.Query && of.Name == PlaceholderField) {
				continue
			}
			var nf *ast.FieldDefinition
			if nd := newRoots[i]; nd != nil {
				nf = nd.Fields.ForName(of.Name)
			}
			if nf != nil {
				c.field(od.Name, of, nf)
				continue
			}
			moved := slices.IndexFunc(newRoots[:], func(nd *ast.Definition) bool { return nd != nil && nd.Fields.ForName(of.Name) != nil })
			if moved >= 0 {
				c.addf(od.Name, "field %s moved to %s", of.Name, newRoots[moved].Name)
			} else {
				c.addf(od.Name, "field %s removed", of.Name)
			}
		}
	}
	slices.Sort(c.breaks)
	return slices.Compact(c.breaks)
}

// astOf returns the loaded schema of s, or an empty one for nil.
func astOf(s *Schema) *ast.Schema {
	if s == nil {
		return &ast.Schema{Types: map[string]*ast.Definition{}}
	}
	return s.ast
}

func introspection(name string) bool { return strings.HasPrefix(name, "__") }

type compat struct {
	before, after *ast.Schema
	breaks        []string
	compared      map[string]bool // named types of before compared already
}

func (c *compat) addf(element, format string, args ...any) {
	c.breaks = append(c.breaks, "GraphQL "+element+": "+fmt.Sprintf(format, args...))
}

// field compares a field of an object type (owner) with its namesake: its type and its arguments.
func (c *compat) field(owner string, of, nf *ast.FieldDefinition) {
	if !outputCompatible(of.Type, nf.Type) {
		c.addf(owner, "field %s type changed from %s to %s", of.Name, of.Type, nf.Type)
	} else {
		c.named(of.Type.Name())
	}
	c.inputs(owner+"."+of.Name, "argument", arguments(of.Arguments), arguments(nf.Arguments))
}

// inputValue is what compat compares of an argument or an input type's field.
type inputValue struct {
	name string
	typ  *ast.Type
	def  *ast.Value
}

func arguments(args ast.ArgumentDefinitionList) []inputValue {
	vs := make([]inputValue, len(args))
	for i, a := range args {
		vs[i] = inputValue{a.Name, a.Type, a.DefaultValue}
	}
	return vs
}

func inputFields(fields ast.FieldList) []inputValue {
	vs := make([]inputValue, len(fields))
	for i, f := range fields {
		vs[i] = inputValue{f.Name, f.Type, f.DefaultValue}
	}
	return vs
}

// inputs compares the input values (kind: "argument" or "field") of where before and after: one
// removed, retyped so that a value clients send no longer fits, or added as required breaks them.
func (c *compat) inputs(where, kind string, before, after []inputValue) {
	find := func(vs []inputValue, name string) *inputValue {
		for i := range vs {
			if vs[i].name == name {
				return &vs[i]
			}
		}
		return nil
	}
	for _, o := range before {
		n := find(after, o.name)
		switch {
		case n == nil:
			c.addf(where, "%s %s removed", kind, o.name)
		case !inputCompatible(o.typ, n.typ):
			c.addf(where, "%s %s type changed from %s to %s", kind, o.name, o.typ, n.typ)
		default:
			c.named(o.typ.Name())
		}
	}
	for _, n := range after {
		if find(before, n.name) == nil && required(n.typ, n.def) {
			c.addf(where, "required %s %s added (%s)", kind, n.name, n.typ)
		}
	}
}

// named compares the named type name of before with its namesake in after, once. A field of that
// type was found compatible, so after has one of that name.
func (c *compat) named(name string) {
	if c.compared[name] {
		return
	}
	c.compared[name] = true
	od, nd := c.before.Types[name], c.after.Types[name]
	switch {
	case od == nil || nd == nil || od.BuiltIn:
		return
	case od.Kind != nd.Kind:
		c.addf(name, "changed from %s to %s", od.Kind, nd.Kind)
		return
	}
	switch od.Kind {
	case ast.Object, ast.Interface:
		for _, of := range od.Fields {
			if introspection(of.Name) {
				continue
			}
			if nf := nd.Fields.ForName(of.Name); nf != nil {
				c.field(name, of, nf)
			} else {
				c.addf(name, "field %s removed", of.Name)
			}
		}
	case ast.InputObject:
		c.inputs(name, "field", inputFields(od.Fields), inputFields(nd.Fields))
	case ast.Enum:
		for _, ov := range od.EnumValues {
			if nd.EnumValues.ForName(ov.Name) == nil {
				c.addf(name, "value %s removed", ov.Name)
			}
		}
	}
}

// required reports whether an argument or input field of type t with default value def must be
// given: a client that leaves it out is refused.
func required(t *ast.Type, def *ast.Value) bool { return t.NonNull && def == nil }

// outputCompatible reports whether a client reading values of type o can read values of type n:
// the same type, but non-null where o may be null.
func outputCompatible(o, n *ast.Type) bool {
	if n.NonNull && !o.NonNull {
		n = &ast.Type{NamedType: n.NamedType, Elem: n.Elem}
	}
	switch {
	case o.NonNull != n.NonNull, (o.Elem == nil) != (n.Elem == nil):
		return false
	case o.Elem != nil:
		return outputCompatible(o.Elem, n.Elem)
	}
	return o.NamedType == n.NamedType
}

// inputCompatible reports whether a value a client writes for type o is still valid for type n:
// the same type, but nullable where o is non-null.
func inputCompatible(o, n *ast.Type) bool { return outputCompatible(n, o) }
