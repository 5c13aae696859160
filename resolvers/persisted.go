package resolvers

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/protogate/gateway/schema"
)

// Persisted operations are the operator's documents, not the client's: one that does not validate
// against the schema a handler serves (a field or type no registered service brings, a variable
// it does not use) is a fault of the gateway's configuration, which no client can mend. So a
// handler validates them once, as it validates a request's document, and reports those that fail
// to the operator (PersistedProblems: the gateway logs them for each snapshot, gateway validate
// prints them), while a call to one is answered INTERNAL, saying why (persistedOperations, and a
// REST route's serve), rather than GRAPHQL_VALIDATION_FAILED or INVALID_ARGUMENT, which tell the
// client that its request was wrong. A registration changes the schema, so an operation that fails
// under one snapshot may validate under the next: the problems belong to each handler, and never
// refuse the config.

// problemErrors is how many of an operation's validation errors its problem quotes.
const problemErrors = 3

// PersistedProblems validates the persisted operations of opts (PersistedOperations, with
// Options.PersistedNames naming them) against s, as NewHandler does, and describes each that does
// not validate, with its first errors, sorted: "persisted operation dashboard (sha256 7e8f...):
// Cannot query field \"nope\" on type \"User\". (line 1, column 40)". Nil when all validate.
func PersistedProblems(s *schema.Schema, opts Options) []string {
	return persistedProblems(opts, invalidPersisted(s.AST(), opts.PersistedOperations, !opts.DisableIntrospection))
}

// invalidPersisted validates each document of ops against s and returns the validation errors of
// those that fail, by document; nil when all validate. suggest is as for validationRules.
func invalidPersisted(s *ast.Schema, ops map[string]string, suggest bool) map[string]gqlerror.List {
	var out map[string]gqlerror.List
	for _, doc := range ops {
		if _, done := out[doc]; done {
			continue
		}
		if errs := validateDocument(s, doc, suggest); len(errs) > 0 {
			if out == nil {
				out = make(map[string]gqlerror.List)
			}
			out[doc] = errs
		}
	}
	return out
}

// validateDocument validates text as a request's document is validated: parsed, checked by
// gqlparser's rules as the handler sets them (validationRules, and gqlgen's own variants of the
// two rules it swaps when suggestions are off), then its literals of the gateway's scalars, in
// each of its operations (checkLiterals). A document of no operation fails, as gqlgen fails it.
func validateDocument(s *ast.Schema, text string, suggest bool) gqlerror.List {
	doc, err := parser.ParseQuery(&ast.Source{Input: text})
	if err != nil {
		var ge *gqlerror.Error
		if !errors.As(err, &ge) {
			ge = gqlerror.Wrap(err)
		}
		return gqlerror.List{ge}
	}
	if len(doc.Operations) == 0 {
		return gqlerror.List{gqlerror.Errorf("no operation provided")}
	}
	r := validationRules(suggest)
	if !suggest {
		r.ReplaceRule(rules.FieldsOnCorrectTypeRule.Name, rules.FieldsOnCorrectTypeRuleWithoutSuggestions.RuleFunc)
		r.ReplaceRule(rules.ScalarLeafsRule.Name, rules.ScalarLeafsRuleWithoutSuggestions.RuleFunc)
	}
	if errs := validator.ValidateWithRules(s, doc, r); len(errs) > 0 {
		return errs
	}
	for _, op := range doc.Operations {
		if ge := checkLiterals(op); ge != nil {
			return gqlerror.List{ge}
		}
	}
	return nil
}

// persistedProblems describes the persisted operations of opts whose documents invalid holds,
// sorted.
func persistedProblems(opts Options, invalid map[string]gqlerror.List) []string {
	if len(invalid) == 0 {
		return nil
	}
	var out []string
	for hash, doc := range opts.PersistedOperations {
		errs, bad := invalid[doc]
		if !bad {
			continue
		}
		name := "persisted operation " + strings.ToLower(hash)
		if n := opts.PersistedNames[hash]; n != "" {
			name = fmt.Sprintf("persisted operation %s (sha256 %s)", n, strings.ToLower(hash))
		}
		out = append(out, name+": "+describeErrors(errs))
	}
	slices.Sort(out)
	return out
}

// persistedFault is what a client calling a persisted operation that does not validate is told:
// that the fault is the gateway's, and the operation's first error.
func persistedFault(errs gqlerror.List) string {
	return "the persisted operation does not validate against the schema the gateway serves, a fault of the gateway's configuration: " + describeError(errs[0])
}

// describeErrors quotes the first problemErrors of errs, and counts the rest.
func describeErrors(errs gqlerror.List) string {
	var parts []string
	for i, e := range errs {
		if i == problemErrors {
			parts = append(parts, fmt.Sprintf("and %d more", len(errs)-problemErrors))
			break
		}
		parts = append(parts, describeError(e))
	}
	return strings.Join(parts, "; ")
}

// describeError is an error's message and where in the document it is.
func describeError(e *gqlerror.Error) string {
	if len(e.Locations) == 0 {
		return e.Message
	}
	return fmt.Sprintf("%s (line %d, column %d)", e.Message, e.Locations[0].Line, e.Locations[0].Column)
}
