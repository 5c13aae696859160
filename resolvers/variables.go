package resolvers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/protogate/gateway/schema"
)

// Variables are coerced to their declared types before anything runs, as the GraphQL
// specification's CoerceVariableValues requires: a value that cannot be coerced refuses the whole
// request, so no root field of a mutation runs when another's variable is wrong. gqlparser's
// validator.VariableValues checks first, and refuses a missing or null non-null variable, but its
// type checks are loose: gqlgen's transports decode JSON numbers as json.Number, a string type,
// so it takes a number for a String and a numeric string for an Int, and it takes anything for
// the gateway's scalars. variableCoercion checks strictly what gqlparser let through, and the
// error is gqlparser's kind: GRAPHQL_VALIDATION_FAILED, with the path ["variable", name, ...].
// What gqlparser refuses itself (an unknown input field, an enum by number) the error presenter
// words the same way (wordGqlparserError).
//
// It also leaves variables in the form input.go reads literals in: one value given for a list is
// a list of it, and a list is an []any (gqlparser makes a single value a typed slice, []string).
// And it refuses the few numbers gqlparser would misreport before gqlparser sees them
// (MutateOperationParameters). An operation without variables costs a loop over none; one with
// variables a walk over their values, allocating only to rebuild a list gqlparser typed, or an
// integer given for an ID.
type variableCoercion struct {
	schema *ast.Schema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
} = variableCoercion{}

func (variableCoercion) ExtensionName() string                   { return "VariableCoercion" }
func (variableCoercion) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext checks the variables gqlparser coerced against their declared types, then
// the document's literals of the gateway's scalars (checkLiterals).
func (c variableCoercion) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	if opCtx.Operation == nil {
		return nil
	}
	nullWithDefault := false
	for _, def := range opCtx.Operation.VariableDefinitions {
		v := opCtx.Variables[def.Variable]
		if v == nil {
			// Unset or null: gqlparser has refused either for a non-null type. One with a default
			// was given null, and may stand where the type is non-null: see nullInDirective.
			nullWithDefault = nullWithDefault || def.DefaultValue != nil
			continue
		}
		out, changed, err := c.coerce(def.Type, v)
		if err != nil {
			return err.gqlError(def)
		}
		if changed {
			opCtx.Variables[def.Variable] = out
		}
	}
	if nullWithDefault {
		if err := nullInDirective(opCtx.Operation, opCtx.Variables); err != nil {
			return err
		}
	}
	return checkLiterals(opCtx.Operation)
}

// nullInDirective refuses a variable given null where a directive's argument is non-null: a
// nullable variable with a default may stand there (@skip(if: $s) with $s: Boolean = true), and
// given null it would reach gqlgen's field collection, which panics on an `if` that is not a
// Boolean. GraphQL's CoerceArgumentValues refuses the null, and as the directives decide which
// fields run, nothing runs: the request is refused as a variable of the wrong type is. Where a
// field's argument is non-null, the null fails only that field (input.go). It walks the operation
// and every fragment it spreads once, and runs only when such a variable is null.
func nullInDirective(op *ast.OperationDefinition, vars map[string]any) *gqlerror.Error {
	seen := make(map[string]bool)
	var directives func(ast.DirectiveList) *gqlerror.Error
	var walk func(ast.SelectionSet) *gqlerror.Error
	directives = func(ds ast.DirectiveList) *gqlerror.Error {
		for _, d := range ds {
			for _, a := range d.Arguments {
				v := a.Value
				if v == nil || v.Kind != ast.Variable || v.ExpectedType == nil || !v.ExpectedType.NonNull {
					continue
				}
				if val, ok := vars[v.Raw]; !ok || val != nil {
					continue
				}
				ge := &gqlerror.Error{
					Message: fmt.Sprintf("variable $%s: must not be null: it is the argument %q of @%s, of the non-null type %s", v.Raw, a.Name, d.Name, v.ExpectedType),
					Path:    ast.Path{ast.PathName("variable"), ast.PathName(v.Raw)},
				}
				if p := v.Position; p != nil {
					ge.Locations = []gqlerror.Location{{Line: p.Line, Column: p.Column}}
				}
				errcode.Set(ge, errcode.ValidationFailed)
				return ge
			}
		}
		return nil
	}
	walk = func(set ast.SelectionSet) *gqlerror.Error {
		for _, sel := range set {
			var err *gqlerror.Error
			switch s := sel.(type) {
			case *ast.Field:
				if err = directives(s.Directives); err == nil {
					err = walk(s.SelectionSet)
				}
			case *ast.InlineFragment:
				if err = directives(s.Directives); err == nil {
					err = walk(s.SelectionSet)
				}
			case *ast.FragmentSpread:
				if err = directives(s.Directives); err == nil && s.Definition != nil && !seen[s.Name] {
					seen[s.Name] = true
					err = walk(s.Definition.SelectionSet)
				}
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	return walk(op.SelectionSet)
}

// coerce checks v, a non-null value of type t, and returns it as input.go reads it; changed says
// whether that is not v itself.
func (c variableCoercion) coerce(t *ast.Type, v any) (out any, changed bool, err *varError) {
	if t.Elem != nil {
		return c.list(t.Elem, v)
	}
	def := c.schema.Types[t.NamedType]
	if def == nil {
		return v, false, nil // validation has checked that the type exists
	}
	switch def.Kind {
	case ast.Scalar:
		return scalarVariable(t.NamedType, v)
	case ast.Enum:
		name, ok := v.(string)
		if !ok {
			return nil, false, varErrorf("want a value of enum %s, got %s", def.Name, describe(v))
		}
		if def.EnumValues.ForName(name) == nil { // gqlparser ignores case; the specification does not
			return nil, false, varErrorf("enum %s has no value %q (names are case-sensitive)", def.Name, name)
		}
		return v, false, nil
	case ast.InputObject:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false, varErrorf("want an input object %s, got %s", def.Name, describe(v))
		}
		for _, f := range def.Fields {
			fv, set := m[f.Name]
			if fv == nil {
				if set && f.Type.NonNull {
					return nil, false, varErrorf("cannot be null").in(ast.PathName(f.Name))
				}
				continue
			}
			out, changed, err := c.coerce(f.Type, fv)
			if err != nil {
				return nil, false, err.in(ast.PathName(f.Name))
			}
			if changed {
				m[f.Name] = out
			}
		}
		return v, false, nil // m, changed in place
	}
	return v, false, nil
}

// list checks a value of a list of elem: a list, or one value, which is a list of it.
func (c variableCoercion) list(elem *ast.Type, v any) (any, bool, *varError) {
	list, ok := v.([]any)
	changed := false
	if !ok {
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Slice {
			out, _, err := c.coerce(elem, v)
			if err != nil {
				return nil, false, err
			}
			return []any{out}, true, nil
		}
		list = make([]any, rv.Len()) // gqlparser's typed slice, e.g. []string
		for i := range list {
			list[i] = rv.Index(i).Interface()
		}
		changed = true
	}
	for i, e := range list {
		if e == nil {
			if elem.NonNull {
				return nil, false, varErrorf("cannot be null").in(ast.PathIndex(i))
			}
			continue
		}
		out, ch, err := c.coerce(elem, e)
		if err != nil {
			return nil, false, err.in(ast.PathIndex(i))
		}
		if ch {
			list[i] = out
		}
	}
	if !changed {
		return v, false, nil // v holds list already: no new interface value
	}
	return list, true, nil
}

// scalarVariable checks a value of scalar name as the scalar's input coercion does. Int, Float,
// String, Boolean and ID are GraphQL's: an Int is a whole number within 32 bits, a Float a finite
// number, an ID a string or a whole number (made a string), and none of them is written in a
// string of another type. The gateway's scalars take what input.go takes: UInt32, Int64 and UInt64
// a number or a string holding one, in range; Bytes, DateTime and Duration strings in their format;
// JSON any value.
func scalarVariable(name string, v any) (any, bool, *varError) {
	var msg string
	switch name {
	case "String":
		if _, ok := v.(string); ok {
			return v, false, nil
		}
		msg = "want a String, got " + describe(v)
	case "Boolean":
		if _, ok := v.(bool); ok {
			return v, false, nil
		}
		msg = "want a Boolean, got " + describe(v)
	case "Int":
		n, whole, ok := integer(v)
		switch {
		case !ok:
			msg = "want an Int, got " + describe(v)
		case !whole:
			msg = "want an Int, got " + describe(v) + ", not an integer"
			if f, _ := number(v); isText(v) && f == math.Trunc(f) {
				msg = "want an Int, got " + describe(v) + ", not written as an integer" // 5.0, 1e3
			}
		case n < math.MinInt32 || n > math.MaxInt32:
			msg = "want an Int, got " + describe(v) + ", outside the 32-bit range"
		default:
			return v, false, nil
		}
	case "Float":
		f, ok := number(v)
		switch {
		case !ok:
			msg = "want a Float, got " + describe(v)
		case math.IsInf(f, 0) || math.IsNaN(f):
			msg = "want a Float, got " + describe(v) + ", not a finite number"
		default:
			return v, false, nil
		}
	case "ID":
		if _, ok := v.(string); ok {
			return v, false, nil
		}
		if n, whole, ok := integer(v); ok && whole {
			return strconv.FormatInt(n, 10), true, nil
		}
		msg = "want an ID (a string or an integer), got " + describe(v)
	case schema.ScalarUInt32:
		if _, err := toUint(v, math.MaxUint32); err != nil {
			msg = "invalid UInt32: " + err.Error()
		}
	case schema.ScalarInt64:
		if _, err := toInt(v, math.MinInt64, math.MaxInt64); err != nil {
			msg = "invalid Int64: " + err.Error()
		}
	case schema.ScalarUInt64:
		if _, err := toUint(v, math.MaxUint64); err != nil {
			msg = "invalid UInt64: " + err.Error()
		}
	case schema.ScalarBytes:
		s, ok := v.(string)
		if !ok {
			msg = "invalid Bytes: want base64 in a string, got " + describe(v)
		} else if _, err := base64Decode(s); err != nil {
			msg = "invalid Bytes: invalid base64: " + err.Error()
		}
	case schema.ScalarDateTime, schema.ScalarDuration:
		s, ok := v.(string)
		var err error
		switch {
		case !ok:
			err = fmt.Errorf("invalid %s: want a string, got %s", name, describe(v))
		case name == schema.ScalarDateTime:
			_, _, err = parseTimestamp(s)
		default:
			_, _, err = parseDuration(s)
		}
		if err != nil {
			msg = err.Error()
		}
	}
	if msg != "" {
		return nil, false, &varError{msg: msg}
	}
	return v, false, nil // JSON, or a value in its scalar's form
}

// integer reads a number as an int64: ok when v is a number, whole when it has no fraction (and
// fits 64 bits). A json.Number must be written as an integer, as gqlparser requires of one inside
// a list or an input object; a float64 (from a decoder that does not keep numbers' text) may have
// been written 5.0.
func integer(v any) (n int64, whole, ok bool) {
	switch x := v.(type) {
	case int64:
		return x, true, true
	case int:
		return int64(x), true, true
	case int32:
		return int64(x), true, true
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) {
			return 0, false, true
		}
		if x < -(1<<63) || x >= 1<<63 {
			return math.MaxInt64, true, true // out of any range checked
		}
		return int64(x), true, true
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return math.MaxInt64, true, true
		}
		return n, err == nil, true
	}
	return 0, false, false
}

// number reads a number as a float64; ok when v is a number.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return math.Inf(1), true // out of range: JSON numbers are otherwise well formed
		}
		return f, true
	}
	return 0, false
}

// describe names an input value for an error message, with the value itself when it is a short
// scalar.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			return "a string"
		}
		return "the string " + strconv.Quote(x)
	case json.Number:
		if len(x) > 40 {
			return "a number"
		}
		return "the number " + string(x)
	case int64, int, int32, float64:
		return fmt.Sprint("the number ", x)
	case bool:
		return fmt.Sprint("the Boolean ", x)
	}
	return typeName(v)
}

// varError is a value of a variable that cannot be coerced: what is wrong, and where in the value.
type varError struct {
	msg  string
	path []ast.PathElement // below the variable, innermost first
}

func varErrorf(format string, args ...any) *varError {
	return &varError{msg: fmt.Sprintf(format, args...)}
}

// in adds p, the field or index the value is at, to the path.
func (e *varError) in(p ast.PathElement) *varError {
	e.path = append(e.path, p)
	return e
}

// gqlError is the request error of variable def: the message names the variable and where in its
// value the fault is ("variable $user.tags[1]: ..."), the path is gqlparser's ["variable", name,
// ...], the location the variable's definition.
func (e *varError) gqlError(def *ast.VariableDefinition) *gqlerror.Error {
	where := make(ast.Path, 0, len(e.path)+1)
	where = append(where, ast.PathName(def.Variable))
	for i := len(e.path) - 1; i >= 0; i-- {
		where = append(where, e.path[i])
	}
	ge := &gqlerror.Error{
		Message: "variable $" + where.String() + ": " + e.msg,
		Path:    append(ast.Path{ast.PathName("variable")}, where...),
	}
	if p := def.Position; p != nil {
		ge.Locations = []gqlerror.Location{{Line: p.Line, Column: p.Column}}
	}
	errcode.Set(ge, errcode.ValidationFailed)
	return ge
}

// wordGqlparserError words an error of gqlparser's validator.VariableValues as variableCoercion's
// are: gqlparser refuses some variables before variableCoercion sees them, at the right path
// (["variable", name, ...]) but in few words ("unknown field", "1 is not a valid Color"). The
// message gets the place of the fault ("variable $t.nope: ") and, when op's variable definitions
// lead to it in schema s, what was wrong in the schema's terms: `ThingInput has no field "nope"`,
// "want a value of enum Color by name (COLOR_UNSPECIFIED, COLOR_RED, COLOR_BLUE), got 1"; the
// location is the variable's definition. Unless suggest is set (introspection is off), an enum's
// values are not listed. Errors that are not gqlparser's variable errors are left as they are. op
// may be nil (the message then says only where).
func wordGqlparserError(s *ast.Schema, op *ast.OperationDefinition, ge *gqlerror.Error, suggest bool) {
	if len(ge.Path) < 2 || ge.Path[0] != ast.PathName("variable") || strings.HasPrefix(ge.Message, "variable $") {
		return
	}
	name, ok := ge.Path[1].(ast.PathName)
	if !ok {
		return
	}
	where := ge.Path[1:].String()
	var def *ast.VariableDefinition
	if op != nil {
		def = op.VariableDefinitions.ForName(string(name))
	}
	if def == nil {
		ge.Message = "variable $" + where + ": " + ge.Message
		return
	}
	if pos := def.Position; pos != nil && len(ge.Locations) == 0 {
		ge.Locations = []gqlerror.Location{{Line: pos.Line, Column: pos.Column}}
	}
	// Follow the path through the variable's type to the type at the fault (typ), or, when the
	// last step is a field its input object (parent) does not have, to that input object.
	var parent *ast.Definition
	typ := def.Type
	for i, p := range ge.Path[2:] {
		if p, ok := p.(ast.PathName); ok {
			parent = s.Types[typ.Name()]
			var f *ast.FieldDefinition
			if parent != nil && parent.Kind == ast.InputObject {
				f = parent.Fields.ForName(string(p))
			}
			if f == nil {
				if i < len(ge.Path)-3 || parent == nil || parent.Kind != ast.InputObject {
					parent = nil // lost: say where, not what
				}
				typ = nil
				break
			}
			typ = f.Type
		} else if typ.Elem != nil {
			typ = typ.Elem // else one value given for a list, its element 0
		}
	}
	msg := ge.Message
	switch {
	case len(ge.Path) == 2 && def.DefaultValue != nil && strings.HasPrefix(msg, "strconv.Parse"):
		// gqlparser reads a default's integers as int64: {u64: 18446744073709551615} fails.
		msg = fmt.Sprintf("its default value %s holds an integer beyond the signed 64-bit range, which the GraphQL front cannot read in a default: write it as a string (\"18446744073709551615\" for a UInt64) or give the variable", def.DefaultValue)
	case typ == nil && parent != nil && msg == "unknown field":
		msg = fmt.Sprintf("%s has no field %q", parent.Name, ge.Path[len(ge.Path)-1])
	case typ != nil && typ.Elem == nil:
		t := s.Types[typ.Name()]
		if got, ok := strings.CutSuffix(msg, " is not a valid "+typ.Name()); ok && t != nil && t.Kind == ast.Enum {
			if suggest {
				msg = fmt.Sprintf("want a value of enum %s by name (%s), got %s", t.Name, enumNames(t), got)
			} else {
				msg = fmt.Sprintf("want a value of enum %s by name, got %s", t.Name, got)
			}
		}
	}
	ge.Message = "variable $" + where + ": " + msg
}

// enumNames lists the values of enum e for an error message, the first 20 of them.
func enumNames(e *ast.Definition) string {
	const most = 20
	names := make([]string, 0, min(len(e.EnumValues), most))
	for i, v := range e.EnumValues {
		if i == most {
			names = append(names, fmt.Sprintf("and %d more", len(e.EnumValues)-most))
			break
		}
		names = append(names, v.Name)
	}
	return strings.Join(names, ", ")
}

// MutateOperationParameters refuses, before gqlparser reads it, a JSON number given for an Int or
// Float variable that gqlparser would misreport. gqlparser reads a number given for an Int with
// json.Number.Int64, and when that fails (5.5, 1e3, 9223372036854775808) it reports the zero or the
// bound it read, "cannot use value 0 as Int"; likewise "+Inf" for a Float beyond float64. So when a
// number that is not an int64 is given for a variable the document's text declares an Int (or a
// Float, when the number is beyond float64), the document is parsed to find the operation's own
// declarations, and its variables are checked in their order. Other values are left to gqlparser
// and MutateOperationContext, and an operation without variables costs nothing.
func (variableCoercion) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	suspect := false
	for name, v := range p.Variables {
		if n, ok := v.(json.Number); ok && !int64Text(string(n)) {
			isInt, isFloat := declaredNumber(p.Query, name)
			if suspect = isInt || isFloat && !finite(n); suspect {
				break
			}
		}
	}
	if !suspect {
		return nil
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: p.Query})
	if err != nil {
		return nil // gqlgen reports it
	}
	op := doc.Operations.ForName(p.OperationName)
	if op == nil {
		return nil
	}
	for _, def := range op.VariableDefinitions {
		n, ok := p.Variables[def.Variable].(json.Number)
		if !ok || def.Type.Elem != nil || def.Type.NamedType != "Int" && def.Type.NamedType != "Float" {
			continue
		}
		if _, _, verr := scalarVariable(def.Type.NamedType, n); verr != nil {
			return verr.gqlError(def)
		}
	}
	return nil
}

// int64Text reports whether s is an integer that surely fits 64 bits: a '-' and up to 18 digits.
func int64Text(s string) bool {
	s = strings.TrimPrefix(s, "-")
	return s != "" && len(s) <= 18 && digitsOnly(s)
}

func isText(v any) bool {
	_, ok := v.(json.Number)
	return ok
}

func finite(n json.Number) bool {
	f, ok := number(n)
	return ok && !math.IsInf(f, 0)
}

// declaredNumber reports whether the text of a document declares variable name an Int or a Float
// ("$name: Int!"), in any of its operations. Comments between the tokens are not looked through:
// such a declaration is left to gqlparser.
func declaredNumber(doc, name string) (isInt, isFloat bool) {
	if name == "" {
		return false, false
	}
	for i := 0; ; {
		j := strings.Index(doc[i:], name)
		if j < 0 {
			return isInt, isFloat
		}
		start, end := i+j, i+j+len(name)
		i = end
		if start == 0 || doc[start-1] != '$' || end < len(doc) && isNameByte(doc[end]) {
			continue
		}
		k := skipIgnored(doc, end)
		if k == len(doc) || doc[k] != ':' {
			continue
		}
		k = skipIgnored(doc, k+1)
		t := k
		for t < len(doc) && isNameByte(doc[t]) {
			t++
		}
		switch doc[k:t] {
		case "Int":
			isInt = true
		case "Float":
			isFloat = true
		}
	}
}

func skipIgnored(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == ',') {
		i++
	}
	return i
}

func isNameByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
