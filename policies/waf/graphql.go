package waf

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"
)

// GraphQL string literals. A GraphQL document is names, punctuation, numbers, comments and string
// literals, and only the literals (arguments, variables' default values, directives' arguments)
// carry what a client writes to the resolvers: names are checked against the schema or are
// identifiers, [_A-Za-z][_0-9A-Za-z]*, which hold no attack, and comments are dropped by the
// parser. Yet the rules read a name as any word: a field or alias named md, ls or select is a
// PowerShell alias, a Unix command or SQL to them. So on the GraphQL endpoint the rules that
// detect attacks (930000-944999) do not read the document's text (rule 10002); each of its string
// literals is given to every rule instead, as its own argument, as the parser reads it: the
// document's argument name followed by ".literal.N" (json.query.literal.0 for a POST's body or a
// WebSocket operation, query.literal.0 for a GET). Read as the parser reads it, a literal hides
// nothing behind an escape: "1\u0027 OR 1=1 --" in a document is the value 1' OR 1=1 -- to the
// resolver, and so to the rules; a block string ("""...""") loses its common indentation and its
// escaped triple quotes. Variables are JSON, and inspected as such (json.variables.id). An
// operationName that is a name is left to the protocol rules too (rule 10004); one that is not
// selects no operation, and the attack rules read it.

// addBodyLiterals adds the literals of the document in a GraphQL request's JSON body (its "query",
// as the GraphQL front decodes it) as arguments json.query.literal.N (see addLiterals).
func addBodyLiterals(body []byte, add func(key, value string)) {
	var params struct {
		Query string `json:"query"`
	}
	if json.Unmarshal(body, &params) != nil {
		return // no document: the front refuses the body, or the rules do
	}
	addLiterals(params.Query, "json.query", add)
}

// addLiterals adds the string literals of doc, a GraphQL document, as the parser reads them, as
// arguments name.literal.0, name.literal.1, ... in document order. It stops at the first token
// the lexer cannot read, where the parser refuses the document too.
func addLiterals(doc, name string, add func(key, value string)) {
	if !strings.Contains(doc, `"`) {
		return // no string literal
	}
	lex := lexer.New(&ast.Source{Input: doc})
	for n := 0; ; {
		tok, err := lex.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return
		}
		if tok.Kind == lexer.String || tok.Kind == lexer.BlockString {
			add(name+".literal."+strconv.Itoa(n), tok.Value)
			n++
		}
	}
}
