package resolvers

import (
	"github.com/99designs/gqlgen/graphql/introspection"
	"github.com/vektah/gqlparser/v2/ast"
)

// Introspection: __schema and __type answer from gqlgen's introspection model of the schema
// (introspection.WrapSchema), written by the same writer as everything else. They answer only when
// the Introspection extension has enabled them for the operation.

// introspectionOff is the field error of __schema or __type when introspection is disabled.
func introspectionOff() error {
	return requestError(CodeIntrospectionDisabled, "introspection is disabled on this server")
}

func (w *writer) introSchema(sf *selField) bool {
	if w.op.opCtx.DisableIntrospection {
		w.fail(sf, introspectionOff())
		return false
	}
	s := introspection.WrapSchema(w.op.x.s.AST())
	return w.introObject("__Schema", sf, func(f *selField) bool {
		switch f.Name {
		case "description":
			w.optString(s.Description())
		case "types":
			types := s.Types()
			return w.introList(len(types), f, func(i int) bool { return w.introType(&types[i], f) })
		case "queryType":
			return w.introType(s.QueryType(), f)
		case "mutationType":
			return w.introType(s.MutationType(), f)
		case "subscriptionType":
			return w.introType(s.SubscriptionType(), f)
		case "directives":
			ds := s.Directives()
			return w.introList(len(ds), f, func(i int) bool { return w.introDirective(&ds[i], f) })
		default:
			w.buf = append(w.buf, "null"...)
		}
		return true
	})
}

func (w *writer) introTypeByName(sf *selField) bool {
	if w.op.opCtx.DisableIntrospection {
		w.fail(sf, introspectionOff())
		return false
	}
	name, _ := sf.ArgumentMap(w.op.opCtx.Variables)["name"].(string)
	a := w.op.x.s.AST()
	return w.introType(introspection.WrapTypeFromDef(a, a.Types[name]), sf)
}

// introObject writes an object of introspection type typ with the selections of sf; resolve writes
// the value of each field but __typename.
func (w *writer) introObject(typ string, sf *selField, resolve func(f *selField) bool) bool {
	fields := w.op.collect(sf.Selections, nil, typ)
	w.buf = append(w.buf, '{')
	for i := range fields {
		f := &fields[i]
		ok := w.member(i == 0, f, func() bool {
			if f.Name == "__typename" {
				w.buf = appendString(w.buf, typ)
				return true
			}
			return resolve(f)
		})
		if !ok {
			return false
		}
	}
	w.buf = append(w.buf, '}')
	return true
}

// introList writes a list of n non-null elements.
func (w *writer) introList(n int, sf *selField, elem func(i int) bool) bool {
	w.buf = append(w.buf, '[')
	for i := range n {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.pushIndex(i)
		ok := elem(i)
		w.pop()
		if !ok {
			return false
		}
	}
	w.buf = append(w.buf, ']')
	return true
}

func (w *writer) optString(s *string) {
	if s == nil {
		w.buf = append(w.buf, "null"...)
		return
	}
	w.buf = appendString(w.buf, *s)
}

func (w *writer) boolean(v bool) {
	if v {
		w.buf = append(w.buf, "true"...)
	} else {
		w.buf = append(w.buf, "false"...)
	}
}

// includeDeprecated reads the includeDeprecated argument of an introspection field.
func (w *writer) includeDeprecated(f *selField) bool {
	v, _ := f.ArgumentMap(w.op.opCtx.Variables)["includeDeprecated"].(bool)
	return v
}

func (w *writer) introType(t *introspection.Type, sf *selField) bool {
	if t == nil {
		w.buf = append(w.buf, "null"...)
		return true
	}
	kind := t.Kind()
	return w.introObject("__Type", sf, func(f *selField) bool {
		switch f.Name {
		case "kind":
			w.buf = appendString(w.buf, kind)
		case "name":
			w.optString(t.Name())
		case "description":
			w.optString(t.Description())
		case "specifiedByURL":
			w.optString(t.SpecifiedByURL())
		case "isOneOf":
			w.boolean(t.IsOneOf())
		case "fields":
			if kind != string(ast.Object) && kind != string(ast.Interface) {
				return w.null()
			}
			fs := t.Fields(w.includeDeprecated(f))
			return w.introList(len(fs), f, func(i int) bool { return w.introField(&fs[i], f) })
		case "interfaces":
			if kind != string(ast.Object) && kind != string(ast.Interface) {
				return w.null()
			}
			ts := t.Interfaces()
			return w.introList(len(ts), f, func(i int) bool { return w.introType(&ts[i], f) })
		case "possibleTypes":
			if kind != string(ast.Interface) && kind != string(ast.Union) {
				return w.null()
			}
			ts := t.PossibleTypes()
			return w.introList(len(ts), f, func(i int) bool { return w.introType(&ts[i], f) })
		case "enumValues":
			if kind != string(ast.Enum) {
				return w.null()
			}
			vs := t.EnumValues(w.includeDeprecated(f))
			return w.introList(len(vs), f, func(i int) bool { return w.introEnumValue(&vs[i], f) })
		case "inputFields":
			if kind != string(ast.InputObject) {
				return w.null()
			}
			vs := t.VisibleInputFields(w.includeDeprecated(f))
			return w.introList(len(vs), f, func(i int) bool { return w.introInputValue(&vs[i], f) })
		case "ofType":
			return w.introType(t.OfType(), f)
		default:
			w.buf = append(w.buf, "null"...)
		}
		return true
	})
}

// null writes null: the value of a type's fields that do not apply to its kind.
func (w *writer) null() bool {
	w.buf = append(w.buf, "null"...)
	return true
}

func (w *writer) introField(fd *introspection.Field, sf *selField) bool {
	return w.introObject("__Field", sf, func(f *selField) bool {
		switch f.Name {
		case "name":
			w.buf = appendString(w.buf, fd.Name)
		case "description":
			w.optString(fd.Description())
		case "args":
			args := fd.VisibleArgs(w.includeDeprecated(f))
			return w.introList(len(args), f, func(i int) bool { return w.introInputValue(&args[i], f) })
		case "type":
			return w.introType(fd.Type, f)
		case "isDeprecated":
			w.boolean(fd.IsDeprecated())
		case "deprecationReason":
			w.optString(fd.DeprecationReason())
		default:
			w.buf = append(w.buf, "null"...)
		}
		return true
	})
}

func (w *writer) introInputValue(v *introspection.InputValue, sf *selField) bool {
	return w.introObject("__InputValue", sf, func(f *selField) bool {
		switch f.Name {
		case "name":
			w.buf = appendString(w.buf, v.Name)
		case "description":
			w.optString(v.Description())
		case "type":
			return w.introType(v.Type, f)
		case "defaultValue":
			w.optString(v.DefaultValue)
		case "isDeprecated":
			w.boolean(v.IsDeprecated())
		case "deprecationReason":
			w.optString(deprecationReason(v.IsDeprecated(), v.DeprecationReason()))
		default:
			w.buf = append(w.buf, "null"...)
		}
		return true
	})
}

// deprecationReason is the reason of a deprecated argument, input field or enum value: the
// directive's default ("No longer supported") when its @deprecated gives none, as gqlgen gives for
// fields but not for these (graphql-js decides "deprecated" from the reason).
func deprecationReason(deprecated bool, reason *string) *string {
	if deprecated && reason == nil {
		return &noLongerSupported
	}
	return reason
}

var noLongerSupported = "No longer supported"

func (w *writer) introEnumValue(v *introspection.EnumValue, sf *selField) bool {
	return w.introObject("__EnumValue", sf, func(f *selField) bool {
		switch f.Name {
		case "name":
			w.buf = appendString(w.buf, v.Name)
		case "description":
			w.optString(v.Description())
		case "isDeprecated":
			w.boolean(v.IsDeprecated())
		case "deprecationReason":
			w.optString(deprecationReason(v.IsDeprecated(), v.DeprecationReason()))
		default:
			w.buf = append(w.buf, "null"...)
		}
		return true
	})
}

func (w *writer) introDirective(d *introspection.Directive, sf *selField) bool {
	return w.introObject("__Directive", sf, func(f *selField) bool {
		switch f.Name {
		case "name":
			w.buf = appendString(w.buf, d.Name)
		case "description":
			w.optString(d.Description())
		case "locations":
			w.buf = append(w.buf, '[')
			for i, loc := range d.Locations {
				if i > 0 {
					w.buf = append(w.buf, ',')
				}
				w.buf = appendString(w.buf, loc)
			}
			w.buf = append(w.buf, ']')
		case "args":
			args := d.VisibleArgs(w.includeDeprecated(f))
			return w.introList(len(args), f, func(i int) bool { return w.introInputValue(&args[i], f) })
		case "isRepeatable":
			w.boolean(d.IsRepeatable)
		default:
			w.buf = append(w.buf, "null"...)
		}
		return true
	})
}
