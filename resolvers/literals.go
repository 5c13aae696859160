package resolvers

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/protogate/gateway/schema"
)

// Literals written in the document for the gateway's own scalars (UInt32, Int64, UInt64, Bytes,
// DateTime, Duration), and Int literals beyond 32 bits, are checked before anything runs, as variables are:
// gqlparser's ValuesOfCorrectType checks GraphQL's scalars and enums but not an Int's range, and it
// takes any literal for a custom scalar, so without this a
// wrong one (i64: "x", at: "yesterday") failed only its own field, after the root fields of a
// mutation before it had run. The error is the validation's kind: GRAPHQL_VALIDATION_FAILED, at
// the literal's location, and nothing is executed.
//
// The walk covers the operation's fields with their arguments, every fragment once, and the
// variables' default values; it allocates only for a literal of one of those scalars. gqlparser's
// own rule for literals is adjusted so that it leaves integers beyond int64 at those scalars to
// this check (valuesOfCorrectType).
type literalCheck struct {
	fragments map[string]bool // fragments walked already
	err       *gqlerror.Error
}

// checkLiterals returns the first literal of op (or of the fragments it spreads) that its custom
// scalar's input coercion refuses, as a validation error; nil when there is none.
func checkLiterals(op *ast.OperationDefinition) *gqlerror.Error {
	var c literalCheck
	for _, def := range op.VariableDefinitions {
		if def.DefaultValue != nil && !c.value(def.DefaultValue, place{"variable $", def.Variable, " default", ""}) {
			return c.err
		}
	}
	c.selections(op.SelectionSet)
	return c.err
}

// selections walks a selection set; false once an error is found.
func (c *literalCheck) selections(set ast.SelectionSet) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			for _, arg := range s.Arguments {
				if !c.value(arg.Value, place{"argument ", arg.Name, " of ", s.Alias}) {
					return false
				}
			}
			if !c.selections(s.SelectionSet) {
				return false
			}
		case *ast.InlineFragment:
			if !c.selections(s.SelectionSet) {
				return false
			}
		case *ast.FragmentSpread:
			if s.Definition == nil || c.fragments[s.Name] {
				continue
			}
			if c.fragments == nil {
				c.fragments = make(map[string]bool)
			}
			c.fragments[s.Name] = true
			if !c.selections(s.Definition.SelectionSet) {
				return false
			}
		}
	}
	return true
}

// place names where a literal is, for an error: its parts are joined only then, so that a
// document without a wrong literal costs no string.
type place [4]string

func (p place) String() string { return p[0] + p[1] + p[2] + p[3] }

// value checks a literal and what it holds (list elements, input object fields); where names it
// for the error. Variables are variableCoercion's to check.
func (c *literalCheck) value(v *ast.Value, where place) bool {
	switch v.Kind {
	case ast.ListValue, ast.ObjectValue:
		for _, child := range v.Children {
			if !c.value(child.Value, where) {
				return false
			}
		}
		return true
	case ast.Variable, ast.NullValue:
		return true
	}
	if v.Definition == nil || v.Definition.Kind != ast.Scalar {
		return true // enums: gqlparser has checked them
	}
	if !gatewayScalar(v.Definition.Name) && (v.Definition.Name != "Int" || v.Kind != ast.IntValue) {
		return true // GraphQL's own scalars: gqlparser has checked them, but for an Int's range
	}
	if v.Definition.Name == "Int" {
		if n, err := strconv.ParseInt(v.Raw, 10, 32); err == nil && n >= math.MinInt32 && n <= math.MaxInt32 {
			return true // the usual case, checked without making a value of it
		}
	}
	var lit any = v.Raw
	switch v.Kind {
	case ast.IntValue, ast.FloatValue:
		lit = json.Number(v.Raw)
	case ast.BooleanValue:
		lit = v.Raw == "true"
	}
	if _, _, err := scalarVariable(v.Definition.Name, lit); err != nil {
		c.err = &gqlerror.Error{Message: where.String() + ": " + err.msg}
		if p := v.Position; p != nil {
			c.err.Locations = []gqlerror.Location{{Line: p.Line, Column: p.Column}}
		}
		errcode.Set(c.err, errcode.ValidationFailed)
		return false
	}
	return true
}

// gatewayScalar reports whether name is one of the scalars the schema adds to GraphQL's, whose
// literals gqlparser does not check. JSON takes any value.
func gatewayScalar(name string) bool {
	switch name {
	case schema.ScalarUInt32, schema.ScalarInt64, schema.ScalarUInt64, schema.ScalarBytes, schema.ScalarDateTime, schema.ScalarDuration:
		return true
	}
	return false
}

// validationRules are gqlparser's rules with ValuesOfCorrectType adjusted (valuesOfCorrectType),
// KnownDirectives saying why @defer and @stream are unknown (knownDirectives), and
// SingleFieldSubscriptions counting response names, as the specification does
// (singleFieldSubscriptions).
// Unless suggest is set, the rules whose messages suggest names of the schema (types, arguments,
// input fields, enum values) are gqlparser's variants without the suggestions: with introspection
// off, the schema is not to be learned by guessing either. gqlgen swaps the other two itself,
// fields ("Cannot query field \"rol\" on type \"User\". Did you mean \"role\"?") and scalar
// leafs, by its SetDisableSuggestion, which the handler sets alike.
func validationRules(suggest bool) *rules.Rules {
	r := rules.NewDefaultRules()
	values := rules.ValuesOfCorrectTypeRule
	if !suggest {
		for _, without := range [...]struct {
			name string
			rule core.Rule
		}{
			{rules.KnownArgumentNamesRule.Name, rules.KnownArgumentNamesRuleWithoutSuggestions},
			{rules.KnownTypeNamesRule.Name, rules.KnownTypeNamesRuleWithoutSuggestions},
		} {
			r.ReplaceRule(without.name, without.rule.RuleFunc)
		}
		values = rules.ValuesOfCorrectTypeRuleWithoutSuggestions
	}
	r.RemoveRule(rules.ValuesOfCorrectTypeRule.Name)
	r.AddRule(rules.ValuesOfCorrectTypeRule.Name, valuesOfCorrectType(values))
	r.ReplaceRule(rules.KnownDirectivesRule.Name, knownDirectives)
	r.ReplaceRule(rules.SingleFieldSubscriptionsRule.Name, singleFieldSubscriptions)
	return r
}

// knownDirectives is gqlparser's KnownDirectives rule, which refuses @defer and @stream as it
// refuses any directive the schema does not declare: the schema leaves them out, since the gateway
// answers every operation in one response. Its message for them says so, where gqlparser's says
// only `Unknown directive "@defer".`.
func knownDirectives(observers *core.Events, addError core.AddErrFunc) {
	var current *ast.Directive // the directive the rule is checking: this observer runs just before it
	observers.OnDirective(func(_ *core.Walker, d *ast.Directive) { current = d })
	rules.KnownDirectivesRule.RuleFunc(observers, func(options ...core.ErrorOption) {
		if d := current; d != nil && d.Definition == nil && (d.Name == "defer" || d.Name == "stream") {
			options = append(options, func(e *gqlerror.Error) {
				e.Message = fmt.Sprintf(`Unknown directive "@%s": this server does not support incremental delivery (@defer, @stream); without the directive, the response comes whole.`, d.Name)
			})
		}
		addError(options...)
	})
}

// valuesOfCorrectType is gqlparser's ValuesOfCorrectType rule (either variant) less one complaint. gqlparser reads
// every integer literal as an int64, so an input object or a list that holds a UInt64 literal of
// 2^63 or more ({u64: 18446744073709551615}) was refused as a whole, "Expected value of type
// ThingInput", though the same literal given alone as an argument is taken. That complaint is
// dropped when the integers beyond int64 in the value are all where one of the gateway's scalars
// is expected: checkLiterals checks those, with their own location. The rule's other complaints
// about the value (a missing required field, an unknown one) stay.
func valuesOfCorrectType(rule core.Rule) core.RuleFunc {
	return func(observers *core.Events, addError core.AddErrFunc) {
		var current *ast.Value // the value the rule is checking: this observer runs just before it
		observers.OnValue(func(_ *core.Walker, v *ast.Value) { current = v })
		rule.RuleFunc(observers, func(options ...core.ErrorOption) {
			if current != nil && wideAtGatewayScalars(current) {
				var e gqlerror.Error
				for _, o := range options {
					o(&e)
				}
				if strings.HasPrefix(e.Message, `Expected value of type "`) {
					return
				}
			}
			addError(options...)
		})
	}
}

// wideAtGatewayScalars reports whether v, an input object, a list or a variable (by its default),
// holds integer literals beyond int64, and only where one of the gateway's scalars is expected,
// and nothing else gqlparser cannot read.
func wideAtGatewayScalars(v *ast.Value) bool {
	switch {
	case v.Kind == ast.Variable && v.VariableDefinition != nil && v.VariableDefinition.DefaultValue != nil:
		v = v.VariableDefinition.DefaultValue
	case v.Kind == ast.ObjectValue && v.Definition != nil && v.Definition.Kind == ast.InputObject:
	case v.Kind == ast.ListValue && v.ExpectedType != nil && v.ExpectedType.Elem != nil:
	default:
		return false
	}
	wide := false
	var readable func(v *ast.Value) bool
	readable = func(v *ast.Value) bool {
		switch v.Kind {
		case ast.IntValue:
			if _, err := strconv.ParseInt(v.Raw, 10, 64); err != nil {
				if v.Definition == nil || v.Definition.Kind != ast.Scalar || !gatewayScalar(v.Definition.Name) {
					return false
				}
				wide = true
			}
		case ast.FloatValue:
			if _, err := strconv.ParseFloat(v.Raw, 64); err != nil {
				return false
			}
		case ast.ListValue, ast.ObjectValue:
			for _, c := range v.Children {
				if !readable(c.Value) {
					return false
				}
			}
		}
		return true
	}
	return readable(v) && wide
}
