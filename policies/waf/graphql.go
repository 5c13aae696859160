package waf

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"
)

// GraphQL string literals. The rules read a GraphQL document as the client wrote it, and the string
// literals in it (arguments, variables' default values) are read by the GraphQL parser only after
// inspection: "1\u0027 OR 1=1 --" in a document is the value 1' OR 1=1 -- to the resolver, which
// the rules never saw, and a block string ("""...""") loses its common indentation and its escaped
// triple quotes. So when a document holds a backslash or a block string, each of its string
// literals is also given to the rules as its own argument, unescaped as the parser reads it: the
// document's argument name followed by ".literal.N" (json.query.literal.0 for a POST's body or a
// WebSocket operation, query.literal.0 for a GET). A document without either, nearly every one,
// already shows the rules its literals as the resolvers get them, and costs a scan for the two.

// addBodyLiterals adds the literals of the document in a GraphQL request's JSON body (its "query",
// as the GraphQL front decodes it) as arguments json.query.literal.N, when the document may hide
// some (see addLiterals). The body is decoded only when its JSON text may carry such a document.
func addBodyLiterals(body []byte, add func(key, value string)) {
	if !mayHoldEscapes(body) {
		return
	}
	var params struct {
		Query string `json:"query"`
	}
	if json.Unmarshal(body, &params) != nil {
		return // no document: the front refuses the body, or the rules do
	}
	addLiterals(params.Query, "json.query", add)
}

// mayHoldEscapes reports whether a JSON text may hold a string with a backslash or three quotes in a
// row, which JSON must escape: a backslash as \\ or \u005c, a quote as \" or \u0022.
func mayHoldEscapes(text []byte) bool {
	return bytes.Contains(text, []byte(`\\`)) || bytes.Contains(text, []byte(`\u`)) ||
		bytes.Contains(text, []byte(`\"\"\"`))
}

// addLiterals adds the string literals of doc, a GraphQL document, as the parser reads them, as
// arguments name.literal.0, name.literal.1, ... in document order, when doc holds a backslash
// (an escape, in a string literal) or a block string; otherwise it adds nothing. It stops at the
// first token the lexer cannot read, where the parser refuses the document too.
func addLiterals(doc, name string, add func(key, value string)) {
	if !strings.Contains(doc, `\`) && !strings.Contains(doc, `"""`) {
		return
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
