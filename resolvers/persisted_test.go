package resolvers_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/protogate/gateway/resolvers"
)

// A persisted operation that does not validate against the schema is the operator's fault: the
// handler reports it (naming the operation and its first errors), and a call to it is answered
// INTERNAL, over /graphql by its hash or, where only persisted operations run, its text, and on
// its REST route with 500, not as a client's invalid request. A document a client sends in full is
// its own, and validation answers for it.
func TestPersistedInvalid(t *testing.T) {
	const (
		unused  = `query Unused($id: String!, $b: Boolean) { getUser(id: $id) { name } }`
		unknown = `query UnknownType($u: Nope) { getUser(id: "1") { name } }`
		field   = `query Field {
  getUser(id: "1") { nope }
}`
		valid = `query Valid($id: String!) { getUser(id: $id) { name } }`
	)
	opts := resolvers.Options{
		PersistedOperations: map[string]string{sha(unused): unused, sha(unknown): unknown, sha(field): field, sha(valid): valid},
		PersistedNames:      map[string]string{sha(unused): "unused-variable"},
		Routes:              []resolvers.Route{{Path: "/v1/unused/{id}", Operation: sha(unused)}, {Path: "/v1/valid/{id}", Operation: sha(valid)}},
	}
	for _, only := range []bool{false, true} {
		opts.PersistedOnly = only
		g := startGateway(t, setup{opts: opts})
		h := g.handler.(*resolvers.Handler)

		want := []string{
			"persisted operation " + sha(field) + `: Cannot query field "nope" on type "User". Did you mean "name" or "role"? (line 2, column 22)`,
			"persisted operation " + sha(unknown) + `: Unknown type "Nope". (line 1, column 19); Variable "$u" is never used in operation "UnknownType". (line 1, column 19)`,
			"persisted operation unused-variable (sha256 " + sha(unused) + `): Variable "$b" is never used in operation "Unused". (line 1, column 28)`,
		}
		slices.Sort(want)
		if got := h.PersistedProblems(); !slices.Equal(got, want) {
			t.Errorf("PersistedProblems = %q\nwant %q", got, want)
		}
		if got := resolvers.PersistedProblems(g.schema, opts); !slices.Equal(got, want) {
			t.Errorf("resolvers.PersistedProblems = %q\nwant %q", got, want)
		}

		for _, req := range []request{
			{Extensions: persisted(sha(unused)), Variables: map[string]any{"id": "1"}},
			{Query: field, Extensions: persisted(sha(field))},
		} {
			g.calls.reset()
			r := g.post(t, req)
			wantRequestError(t, g, r, "INTERNAL")
			if !strings.HasPrefix(r.Errors[0].Message, "the persisted operation does not validate against the schema the gateway serves, a fault of the gateway's configuration: ") {
				t.Errorf("message = %q", r.Errors[0].Message)
			}
		}
		// Sent in full without its hash: the operator's document only where only those run.
		g.calls.reset()
		r := g.post(t, request{Query: unknown})
		if only {
			wantRequestError(t, g, r, "INTERNAL")
		} else if len(r.Errors) == 0 || r.Errors[0].code() != "GRAPHQL_VALIDATION_FAILED" || r.Data != nil {
			t.Errorf("a client's own document: %s, want GRAPHQL_VALIDATION_FAILED", r.raw)
		}

		w := httptest.NewRecorder()
		h.ServeRoute(w, httptest.NewRequest("GET", "/v1/unused/1", nil))
		const body = `{"code":13,"message":"the persisted operation does not validate against the schema the gateway serves, a fault of the gateway's configuration: Variable \"$b\" is never used in operation \"Unused\". (line 1, column 28)","details":[]}`
		if w.Code != http.StatusInternalServerError || w.Body.String() != body {
			t.Errorf("GET /v1/unused/1: %d %s\nwant 500 %s", w.Code, w.Body, body)
		}
		w = httptest.NewRecorder()
		if h.ServeRoute(w, httptest.NewRequest("GET", "/v1/valid/1", nil)); w.Code != http.StatusOK {
			t.Errorf("GET /v1/valid/1: %d %s", w.Code, w.Body)
		}
		g.post(t, request{Extensions: persisted(sha(valid)), Variables: map[string]any{"id": "1"}}).ok(t).
			wantRawData(t, `{"getUser":{"name":"Ada Lovelace"}}`)
	}
}

// With introspection off, a problem suggests no names of the schema, as no error does then.
func TestPersistedProblemsWithoutSuggestions(t *testing.T) {
	const field = `{ getUser(id: "1") { nope } }`
	g := startGateway(t, setup{})
	got := resolvers.PersistedProblems(g.schema, resolvers.Options{PersistedOperations: map[string]string{sha(field): field}, DisableIntrospection: true})
	want := []string{"persisted operation " + sha(field) + `: Cannot query field "nope" on type "User". (line 1, column 22)`}
	if !slices.Equal(got, want) {
		t.Errorf("PersistedProblems = %q, want %q", got, want)
	}
}

// An operation that validates reports nothing.
func TestPersistedValid(t *testing.T) {
	const doc = `query Q($id: String!) { getUser(id: $id) { name } }`
	g := startGateway(t, setup{opts: resolvers.Options{PersistedOperations: map[string]string{sha(doc): doc}}})
	if p := g.handler.(*resolvers.Handler).PersistedProblems(); p != nil {
		t.Errorf("PersistedProblems = %q", p)
	}
}
