package schema_test

import (
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/protogate/gateway/schema"
)

// TestSchemasAreValidAndMatchThePlan checks what gqlparser does not: object fields return output
// types, inputs hold only input types, and every type and field of the SDL has its plan (and the
// reverse), so the executor never meets a field it cannot resolve.
func TestSchemasAreValidAndMatchThePlan(t *testing.T) {
	many, manyOpts := manyServices(t, 100)
	schemas := map[string]*schema.Schema{
		"shop":        mustBuild(t, shopServices(), schema.Options{Links: shopLinks()}),
		"shop source": mustBuild(t, shopFromSource(t), schema.Options{Links: shopLinks()}),
		"features":    featureSchema(t),
		"100":         mustBuild(t, many, manyOpts),
	}
	for name, s := range schemas {
		t.Run(name, func(t *testing.T) { checkSchema(t, s) })
	}
}

func checkSchema(t *testing.T, s *schema.Schema) {
	types := s.AST().Types
	kindOf := func(typ *ast.Type) ast.DefinitionKind {
		def := types[typ.Name()]
		if def == nil {
			t.Errorf("undefined type %s", typ.Name())
			return ""
		}
		return def.Kind
	}
	roots := map[string]ast.Operation{"Query": ast.Query, "Mutation": ast.Mutation, "Subscription": ast.Subscription}
	for name, def := range types {
		if def.BuiltIn {
			continue
		}
		switch def.Kind {
		case ast.Object:
			for _, f := range def.Fields {
				if strings.HasPrefix(f.Name, "__") {
					continue
				}
				if k := kindOf(f.Type); k == ast.InputObject {
					t.Errorf("%s.%s returns input type %s", name, f.Name, f.Type)
				}
				for _, a := range f.Arguments {
					if k := kindOf(a.Type); k != ast.InputObject && k != ast.Scalar && k != ast.Enum {
						t.Errorf("argument %s.%s(%s:) is of output type %s", name, f.Name, a.Name, a.Type)
					}
				}
			}
			if op, ok := roots[name]; ok {
				checkRoot(t, s, op, def)
				continue
			}
			o := s.ObjectType(name)
			if o == nil {
				t.Errorf("object %s has no plan", name)
				continue
			}
			checkFields(t, name, def.Fields, o.Fields)
		case ast.InputObject:
			for _, f := range def.Fields {
				if k := kindOf(f.Type); k != ast.InputObject && k != ast.Scalar && k != ast.Enum {
					t.Errorf("input field %s.%s is of output type %s", name, f.Name, f.Type)
				}
			}
			in := s.InputType(name)
			if in == nil {
				t.Errorf("input %s has no plan", name)
				continue
			}
			checkFields(t, name, def.Fields, in.Fields)
		case ast.Enum:
			e := s.Enum(name)
			if e == nil || len(e.Values) != len(def.EnumValues) {
				t.Errorf("enum %s: plan %+v", name, e)
			}
		}
	}
}

func checkRoot(t *testing.T, s *schema.Schema, op ast.Operation, def *ast.Definition) {
	var names []string
	for _, f := range def.Fields {
		if !strings.HasPrefix(f.Name, "__") && f.Name != schema.PlaceholderField {
			names = append(names, f.Name)
			rf := s.RootField(op, f.Name)
			if rf == nil {
				t.Errorf("%s field %s has no plan", op, f.Name)
				continue
			}
			if len(rf.Args.Fields) != len(f.Arguments) {
				t.Errorf("%s field %s: %d arguments, plan has %d", op, f.Name, len(f.Arguments), len(rf.Args.Fields))
			}
			for i, a := range f.Arguments {
				if i < len(rf.Args.Fields) && rf.Args.Fields[i].Name != a.Name {
					t.Errorf("%s field %s: argument %d is %s, plan has %s", op, f.Name, i, a.Name, rf.Args.Fields[i].Name)
				}
			}
			if f.Type.Name() != rf.Result.Type {
				t.Errorf("%s field %s returns %s, plan %s", op, f.Name, f.Type, rf.Result.Type)
			}
		}
	}
	if len(names) != len(s.RootFields(op)) {
		t.Errorf("%s: %d fields, plan has %d", op, len(names), len(s.RootFields(op)))
	}
}

func checkFields(t *testing.T, typ string, defs ast.FieldList, fields []*schema.Field) {
	if len(defs) != len(fields) {
		t.Errorf("%s: %d fields, plan has %d", typ, len(defs), len(fields))
		return
	}
	for i, d := range defs {
		f := fields[i]
		if f.Name != d.Name || f.Type != d.Type.Name() {
			t.Errorf("%s.%s: %s, plan has %s: %s", typ, d.Name, d.Type, f.Name, f.Type)
		}
		switch f.Kind {
		case schema.KindMessage:
			if (f.Object == nil || f.Object.Name != f.Type) && (f.Input == nil || f.Input.Name != f.Type) {
				t.Errorf("%s.%s: no type plan for %s", typ, d.Name, f.Type)
			}
		case schema.KindEnum:
			if f.Enum == nil || f.Enum.Name != f.Type {
				t.Errorf("%s.%s: no enum plan for %s", typ, d.Name, f.Type)
			}
		}
	}
}
