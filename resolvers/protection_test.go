package resolvers_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/introspection"
	"github.com/vektah/gqlparser/v2/ast"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/resolvers"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/schema"
)

func TestShopErrorsAndPartialData(t *testing.T) {
	g := startGateway(t, setup{})
	r := g.query(t, `{ ada: getUser(id: "1") { name } ghost: getUser(id: "99") { name } }`)
	r.wantRawData(t, `{"ada":{"name":"Ada Lovelace"},"ghost":null}`)
	if len(r.Errors) != 1 {
		t.Fatalf("errors: %s", r.raw)
	}
	e := r.Errors[0]
	if e.Message != `user "99" not found` || e.code() != "NOT_FOUND" || pathString(e.Path) != "ghost" {
		t.Errorf("error = %+v", e)
	}
	details, _ := e.Extensions["details"].([]any)
	if len(details) != 1 {
		t.Fatalf("details = %v", e.Extensions["details"])
	}
	if d := details[0].(map[string]any); d["@type"] != "type.googleapis.com/google.rpc.ResourceInfo" || d["resourceName"] != "99" {
		t.Errorf("detail = %v", d)
	}
}

func TestInvalidArgumentFromUpstream(t *testing.T) {
	g := startGateway(t, setup{})
	r := g.query(t, `mutation { createOrder(userId: "1", items: [{productId: "nope", quantity: 1}]) { id } }`)
	if len(r.Errors) != 1 || r.Errors[0].code() != "INVALID_ARGUMENT" {
		t.Fatalf("errors: %s", r.raw)
	}
	details := r.Errors[0].Extensions["details"].([]any)
	if d := details[0].(map[string]any); d["@type"] != "type.googleapis.com/google.rpc.BadRequest" {
		t.Errorf("detail = %v", d)
	}
}

func TestOneofArgumentsAreChecked(t *testing.T) {
	g := startGateway(t, setup{})
	r := g.query(t, `mutation { createOrder(userId: "1", items: [{productId: "p1", quantity: 1}],
		card: {brand: "visa", last4: "1234", expMonth: 1, expYear: 2030}, voucherCode: "V") { id } }`)
	if len(r.Errors) != 1 || r.Errors[0].code() != "INVALID_ARGUMENT" || !strings.Contains(r.Errors[0].Message, "at most one of card, voucherCode") {
		t.Fatalf("errors: %s", r.raw)
	}
	if n := g.calls.count()["/shop.orders.v1.OrderService/CreateOrder"]; n != 0 {
		t.Errorf("CreateOrder was called %d times", n)
	}
}

// wantRequestError checks that a request failed as a whole with code and made no call.
func wantRequestError(t *testing.T, g *gateway, r response, code string) {
	t.Helper()
	if len(r.Errors) != 1 || r.Errors[0].code() != code || r.Data != nil {
		t.Fatalf("want one %s error and no data; got status %d %s", code, r.status, r.raw)
	}
	if n := len(g.calls.count()); n != 0 {
		t.Errorf("upstream calls were made: %v", g.calls.count())
	}
}

func TestLimits(t *testing.T) {
	g := startGateway(t, setup{opts: resolvers.Options{MaxDepth: 3, MaxAliases: 2, MaxRootFields: 2, MaxComplexity: 40, MaxDocumentBytes: 400}})
	t.Run("depth", func(t *testing.T) {
		g.calls.reset()
		r := g.query(t, `{ getUser(id: "1") { orders { items { product { name } } } } }`)
		wantRequestError(t, g, r, resolvers.CodeDepthLimit)
		if r.Errors[0].Extensions["limit"] != "depth" || r.Errors[0].Extensions["max"] != 3.0 || r.Errors[0].Extensions["actual"] != 5.0 {
			t.Errorf("extensions = %v", r.Errors[0].Extensions)
		}
		// Through a fragment, too.
		r = g.query(t, `{ getUser(id: "1") { ...f } } fragment f on User { orders { items { productId } } }`)
		wantRequestError(t, g, r, resolvers.CodeDepthLimit)
		g.query(t, `{ getUser(id: "1") { orders { id } } }`).ok(t)
	})
	t.Run("aliases", func(t *testing.T) {
		g.calls.reset()
		r := g.query(t, `{ getUser(id: "1") { a: name b: email c: id } }`)
		wantRequestError(t, g, r, resolvers.CodeAliasLimit)
	})
	t.Run("root fields", func(t *testing.T) {
		g.calls.reset()
		r := g.query(t, `{ getUser(id: "1") { name } getOrder(id: "o1") { id } getProduct(id: "p1") { id } }`)
		wantRequestError(t, g, r, resolvers.CodeRootFieldLimit)
	})
	t.Run("complexity", func(t *testing.T) {
		g.calls.reset()
		// getUser 10 + orders 10 + id 1, getOrder 10 + user 10 + name 1: 42.
		r := g.query(t, `{ getUser(id: "1") { orders { id } } getOrder(id: "o1") { user { name } } }`)
		wantRequestError(t, g, r, resolvers.CodeComplexityLimit)
		if x := r.Errors[0].Extensions; x["limit"] != "complexity" || x["max"] != 40.0 || x["actual"] != 42.0 {
			t.Errorf("extensions = %v", x)
		}
		g.query(t, `{ getUser(id: "1") { orders { id } } getOrder(id: "o1") { userId } }`).ok(t)
	})
	t.Run("document", func(t *testing.T) {
		g.calls.reset()
		r := g.query(t, `{ getUser(id: "1") { name } }`+strings.Repeat(" ", 400))
		wantRequestError(t, g, r, resolvers.CodeDocumentTooLarge)
		// A body far beyond the document limit is refused before it is read.
		r = g.query(t, `{ getUser(id: "1") { name } }`, "pad", strings.Repeat("x", 2000))
		if r.status != http.StatusRequestEntityTooLarge || len(r.Errors) != 1 || r.Errors[0].code() != resolvers.CodeDocumentTooLarge {
			t.Fatalf("status %d %s", r.status, r.raw)
		}
		// Named as the other limits are: the body's, its bound and its declared size.
		if x := r.Errors[0].Extensions; x["limit"] != "bodyBytes" || x["max"] != float64(4*400) || x["actual"] == nil {
			t.Errorf("extensions = %v, want limit bodyBytes, max %d and the actual size", x, 4*400)
		}
	})
}

func TestParseAndValidationErrors(t *testing.T) {
	g := startGateway(t, setup{})
	for doc, code := range map[string]string{
		`{ getUser(id: "1") { name }`:                    "GRAPHQL_PARSE_FAILED",
		`{ getUser(id: "1") { nope } }`:                  "GRAPHQL_VALIDATION_FAILED",
		`{ getUser { name } }`:                           "GRAPHQL_VALIDATION_FAILED",
		`query ($x: Int!) { getUser(id: "1") { name } }`: "GRAPHQL_VALIDATION_FAILED",
	} {
		r := g.query(t, doc)
		if len(r.Errors) == 0 || r.Errors[0].code() != code || len(r.Errors[0].Locations) == 0 && code == "GRAPHQL_PARSE_FAILED" {
			t.Errorf("%s: status %d %s, want %s", doc, r.status, r.raw, code)
		}
	}
	if n := len(g.calls.count()); n != 0 {
		t.Errorf("calls: %v", g.calls.count())
	}
}

func TestIntrospectionCanBeDisabled(t *testing.T) {
	g := startGateway(t, setup{opts: resolvers.Options{DisableIntrospection: true}})
	r := g.query(t, `{ __schema { queryType { name } } }`)
	if len(r.Errors) != 1 || r.Errors[0].code() != resolvers.CodeIntrospectionDisabled || string(r.Data) != "null" {
		t.Fatalf("%s", r.raw)
	}
	r = g.query(t, `{ __type(name: "User") { name } }`)
	if len(r.Errors) != 1 || r.Errors[0].code() != resolvers.CodeIntrospectionDisabled {
		t.Fatalf("%s", r.raw)
	}
	// __typename is not introspection.
	g.query(t, `{ __typename }`).ok(t).wantRawData(t, `{"__typename":"Query"}`)
}

// A standard full introspection query answers, and what it tells matches the schema.
// With introspection off, no error message suggests a name of the schema (gqlparser's "Did you
// mean ...?" for fields, types, arguments, input fields and enum values; the values of an enum a
// variable's value is not one of), so the schema cannot be rebuilt by guessing either. With it on,
// they help.
func TestNoSuggestionsWithoutIntrospection(t *testing.T) {
	cases := []struct {
		name, doc string
		vars      []any
		hint      string // what the message suggests with introspection on
	}{
		{"field", `{ getUser(id: "1") { nam } }`, nil, `Did you mean "name"?`},
		{"type", `{ getUser(id: "1") { ...f } } fragment f on Usr { id }`, nil, `Did you mean "User"?`},
		{"argument", `{ getUser(idd: "1", id: "1") { name } }`, nil, `Did you mean "id"?`},
		{"input field", `mutation { createUser(user: {nam: "x", name: "x", email: "x@example.com"}) { id } }`, nil, `Did you mean "name"?`},
		{"enum value", `{ listOrders(userId: "1", status: ORDER_STATUS_PAYD) { orders { id } } }`, nil, `Did you mean the enum value "ORDER_STATUS_PAID"`},
		{"enum variable", `query ($s: OrderStatus) { listOrders(userId: "1", status: $s) { orders { id } } }`, []any{"s", 1}, "ORDER_STATUS_PAID"},
	}
	for _, on := range []bool{true, false} {
		g := startGateway(t, setup{opts: resolvers.Options{DisableIntrospection: !on}})
		for _, tc := range cases {
			r := g.query(t, tc.doc, tc.vars...)
			if len(r.Errors) != 1 || r.Errors[0].code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Errorf("%s (introspection %v): %s, want one GRAPHQL_VALIDATION_FAILED", tc.name, on, r.raw)
				continue
			}
			msg := r.Errors[0].Message
			switch {
			case on && !strings.Contains(msg, tc.hint):
				t.Errorf("%s, introspection on: %q does not suggest %s", tc.name, msg, tc.hint)
			case !on && (strings.Contains(msg, "Did you mean") || strings.Contains(msg, tc.hint)):
				t.Errorf("%s, introspection off: %q suggests names", tc.name, msg)
			}
		}
		if n := len(g.calls.count()); n != 0 {
			t.Errorf("calls: %v", g.calls.count())
		}
	}
}

func TestIntrospection(t *testing.T) {
	g := startGateway(t, setup{})
	r := g.query(t, introspection.NewQuery(introspection.QueryOptions{OneOf: true})).ok(t)
	var got struct {
		Schema struct {
			QueryType        struct{ Name string }
			MutationType     struct{ Name string }
			SubscriptionType struct{ Name string }
			Types            []struct {
				Kind, Name string
				Fields     []struct {
					Name string
					Args []struct{ Name string }
					Type json.RawMessage
				}
				InputFields []struct{ Name string }
				EnumValues  []struct{ Name string }
			}
			Directives []struct{ Name string }
		} `json:"__schema"`
	}
	if err := json.Unmarshal(r.Data, &got); err != nil {
		t.Fatal(err)
	}
	s := got.Schema
	if s.QueryType.Name != "Query" || s.MutationType.Name != "Mutation" || s.SubscriptionType.Name != "Subscription" {
		t.Errorf("root types: %+v %+v %+v", s.QueryType, s.MutationType, s.SubscriptionType)
	}
	a := g.schema.AST()
	if len(s.Types) != len(a.Types) {
		t.Errorf("%d types, the schema has %d", len(s.Types), len(a.Types))
	}
	for _, typ := range s.Types {
		def := a.Types[typ.Name]
		if def == nil || string(def.Kind) != typ.Kind {
			t.Errorf("type %s %s is not in the schema", typ.Kind, typ.Name)
			continue
		}
		var want, have []string
		for _, f := range def.Fields {
			if !strings.HasPrefix(f.Name, "__") {
				want = append(want, f.Name)
			}
		}
		switch def.Kind {
		case ast.Object, ast.Interface:
			for _, f := range typ.Fields {
				have = append(have, f.Name)
			}
		case ast.InputObject:
			for _, f := range typ.InputFields {
				have = append(have, f.Name)
			}
		case ast.Enum:
			want = nil
			for _, v := range def.EnumValues {
				want = append(want, v.Name)
			}
			for _, v := range typ.EnumValues {
				have = append(have, v.Name)
			}
		}
		if !slices.Equal(want, have) {
			t.Errorf("type %s: fields %v, want %v", typ.Name, have, want)
		}
	}
	if !slices.ContainsFunc(s.Directives, func(d struct{ Name string }) bool { return d.Name == "deprecated" }) {
		t.Errorf("directives: %v", s.Directives)
	}
	// The link field User.orders is a list of non-null Orders.
	g.query(t, `{ __type(name: "User") { kind fields(includeDeprecated: true) { name type { kind ofType { kind name } } } } }`).ok(t)
	r = g.query(t, `{ __type(name: "User") { name f: fields { name type { kind ofType { kind ofType { name } } } } } }`).ok(t)
	var user struct {
		Type struct {
			F []struct {
				Name string
				Type struct {
					Kind   string
					OfType struct {
						Kind   string
						OfType struct{ Name string }
					}
				}
			}
		} `json:"__type"`
	}
	_ = json.Unmarshal(r.Data, &user)
	i := slices.IndexFunc(user.Type.F, func(f struct {
		Name string
		Type struct {
			Kind   string
			OfType struct {
				Kind   string
				OfType struct{ Name string }
			}
		}
	}) bool {
		return f.Name == "orders"
	})
	if i < 0 || user.Type.F[i].Type.Kind != "LIST" || user.Type.F[i].Type.OfType.Kind != "NON_NULL" || user.Type.F[i].Type.OfType.OfType.Name != "Order" {
		t.Errorf("User.orders: %s", r.Data)
	}
	g.query(t, `{ __type(name: "Nope") { name } }`).ok(t).wantRawData(t, `{"__type":null}`)
}

// The gateway answers every operation whole, so it does not declare the directives of incremental
// delivery that gqlparser's prelude has: introspection lists the directives the SDL may use and
// the executor honours, and a document with @defer or @stream is refused, saying why.
func TestNoIncrementalDelivery(t *testing.T) {
	g := startGateway(t, setup{})
	r := g.query(t, `{ __schema { directives { name locations } } __type(name: "DateTime") { specifiedByURL } }`).ok(t)
	var got struct {
		Schema struct {
			Directives []struct {
				Name      string
				Locations []string
			}
		} `json:"__schema"`
		Type struct{ SpecifiedByURL string } `json:"__type"`
	}
	if err := json.Unmarshal(r.Data, &got); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range got.Schema.Directives {
		names = append(names, d.Name)
	}
	slices.Sort(names)
	if want := []string{"deprecated", "include", "oneOf", "skip", "specifiedBy"}; !slices.Equal(names, want) {
		t.Errorf("introspection lists directives %q, want %q", names, want)
	}
	// The SDL declares none (the specification's are implied) and uses @specifiedBy (and
	// @deprecated, when a descriptor deprecates something) as introspection reports it.
	sdl := g.schema.SDL()
	if url := "https://www.rfc-editor.org/rfc/rfc3339"; got.Type.SpecifiedByURL != url || !strings.Contains(sdl, `scalar DateTime @specifiedBy(url: "`+url+`")`) {
		t.Errorf("DateTime's specifiedByURL %q; the SDL's DateTime has %q", got.Type.SpecifiedByURL, url)
	}
	if strings.Contains(sdl, "@defer") || strings.Contains(sdl, "directive @") {
		t.Error("the SDL uses @defer, or declares a directive")
	}

	for _, tc := range []struct{ name, doc string }{
		{"defer", `{ getUser(id: "1") { id ... @defer { name } } }`},
		{"stream", `{ listOrders(userId: "1") { orders @stream(initialCount: 1) { id } } }`},
	} {
		g.calls.reset()
		r := g.query(t, tc.doc)
		wantRequestError(t, g, r, "GRAPHQL_VALIDATION_FAILED")
		if want := `Unknown directive "@` + tc.name + `": this server does not support incremental delivery`; !strings.HasPrefix(r.Errors[0].Message, want) {
			t.Errorf("@%s: %q, want %q...", tc.name, r.Errors[0].Message, want)
		}
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func persisted(hash string) map[string]any {
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
}

func TestAutomaticPersistedQueries(t *testing.T) {
	g := startGateway(t, setup{opts: resolvers.Options{APQ: true}})
	doc := `{ getUser(id: "1") { name } }`
	r := g.post(t, request{Extensions: persisted(sha(doc))})
	if len(r.Errors) != 1 || r.Errors[0].code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("unknown hash: %s", r.raw)
	}
	g.post(t, request{Query: doc, Extensions: persisted(sha(doc))}).ok(t)
	g.post(t, request{Extensions: persisted(sha(doc))}).ok(t).wantRawData(t, `{"getUser":{"name":"Ada Lovelace"}}`)
	r = g.post(t, request{Query: doc, Extensions: persisted(sha("something else"))})
	if len(r.Errors) != 1 || r.Errors[0].code() == "" {
		t.Errorf("hash mismatch: %s", r.raw)
	}
}

// Without APQ, a hash sent alone gets PersistedQueryNotSupported, on which Apollo's persisted-query
// link sends documents in full; a document sent with its hash runs.
func TestWithoutAPQ(t *testing.T) {
	g := startGateway(t, setup{})
	doc := `{ getUser(id: "1") { name } }`
	r := g.post(t, request{Extensions: persisted(sha(doc))})
	if len(r.Errors) != 1 || r.Errors[0].code() != "PERSISTED_QUERY_NOT_SUPPORTED" || r.Errors[0].Message != "PersistedQueryNotSupported" {
		t.Fatalf("a hash alone: %s", r.raw)
	}
	g.post(t, request{Query: doc, Extensions: persisted(sha(doc))}).ok(t).wantRawData(t, `{"getUser":{"name":"Ada Lovelace"}}`)
}

func TestPersistedOnly(t *testing.T) {
	doc := `query User($id: String!) { getUser(id: $id) { name } }`
	g := startGateway(t, setup{opts: resolvers.Options{PersistedOnly: true, PersistedOperations: map[string]string{sha(doc): doc}}})
	g.post(t, request{Extensions: persisted(sha(doc)), Variables: map[string]any{"id": "2"}}).ok(t).
		wantRawData(t, `{"getUser":{"name":"Alan Turing"}}`)
	g.post(t, request{Query: doc, Variables: map[string]any{"id": "2"}}).ok(t)
	g.calls.reset()
	r := g.query(t, `{ getUser(id: "1") { name email } }`)
	wantRequestError(t, g, r, resolvers.CodeOperationNotAllowed)
	r = g.post(t, request{Extensions: persisted(sha("other"))})
	wantRequestError(t, g, r, "PERSISTED_QUERY_NOT_FOUND")
}

// A persisted document written as a YAML block keeps a final newline, which clients hashing the
// text they send leave out: the document is found by the hash of its text with and without its
// trailing line breaks, and sent in full it matches with or without them. Any other difference is
// another document.
func TestPersistedTrailingLineBreaks(t *testing.T) {
	const text = `query User($id: String!) { getUser(id: $id) { name } }`
	doc := text + "\n"
	g := startGateway(t, setup{opts: resolvers.Options{PersistedOnly: true, PersistedOperations: map[string]string{strings.ToUpper(sha(doc)): doc}}})
	vars := map[string]any{"id": "2"}
	for _, req := range []request{
		{Extensions: persisted(sha(text)), Variables: vars},
		{Extensions: persisted(sha(doc)), Variables: vars},
		{Query: text, Extensions: persisted(sha(text)), Variables: vars},
		{Query: doc, Extensions: persisted(sha(text)), Variables: vars},
		{Query: text, Extensions: persisted(sha(doc)), Variables: vars},
		{Query: text, Variables: vars},
		{Query: doc, Variables: vars},
		{Query: text + "\r\n\n", Variables: vars},
	} {
		if r := g.post(t, req); len(r.Errors) != 0 || string(r.Data) != `{"getUser":{"name":"Alan Turing"}}` {
			t.Errorf("%q with %v: %s", req.Query, req.Extensions, r.raw)
		}
	}
	for _, req := range []request{
		{Query: " " + text, Variables: vars},
		{Query: text + " ", Variables: vars},
		{Query: text + "\n ", Extensions: persisted(sha(text)), Variables: vars},
	} {
		g.calls.reset()
		wantRequestError(t, g, g.post(t, req), resolvers.CodeOperationNotAllowed)
	}
}

// A document without a final line break (a YAML block written |-, or a quoted string) is found by
// the hash of its text and one "\n" too, as sha256sum hashes a .graphql file; one with several (|+)
// by the hash of its text with none and with one. Other hashes are other documents.
func TestPersistedLineBreakForms(t *testing.T) {
	const text = `query User($id: String!) { getUser(id: $id) { name } }`
	for _, doc := range []string{text, text + "\n", text + "\n\n\n", text + "\r\n"} {
		g := startGateway(t, setup{opts: resolvers.Options{PersistedOnly: true, PersistedOperations: map[string]string{sha(doc): doc}}})
		vars := map[string]any{"id": "2"}
		for _, hash := range []string{sha(doc), sha(text), sha(text + "\n")} {
			if r := g.post(t, request{Extensions: persisted(hash), Variables: vars}); len(r.Errors) != 0 || string(r.Data) != `{"getUser":{"name":"Alan Turing"}}` {
				t.Errorf("document %q by the hash %s: %s", doc, hash, r.raw)
			}
		}
		for _, hash := range []string{sha(text + "\n\n"), sha(text + "\r\n\r\n")} {
			if hash == sha(doc) {
				continue
			}
			g.calls.reset()
			wantRequestError(t, g, g.post(t, request{Extensions: persisted(hash), Variables: vars}), "PERSISTED_QUERY_NOT_FOUND")
		}
	}
}

func TestNewHandlerRefusesBadOptions(t *testing.T) {
	g := startGateway(t, setup{})
	doc := `{ getUser(id: "1") { name } }`
	for name, opts := range map[string]resolvers.Options{
		"apq with persisted only": {APQ: true, PersistedOnly: true, PersistedOperations: map[string]string{sha(doc): doc}},
		"persisted only, none":    {PersistedOnly: true},
		"wrong hash":              {PersistedOperations: map[string]string{sha("x"): doc}},
	} {
		if _, err := resolvers.NewHandler(g.schema, nopCaller{}, opts); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := resolvers.NewHandler(g.schema, nil, resolvers.Options{}); err == nil {
		t.Errorf("no caller: no error")
	}
}

type nopCaller struct{}

func (nopCaller) Route(context.Context, string, metadata.MD) (routing.Upstream, error) {
	return routing.Upstream{}, status.Error(codes.Unavailable, "nothing here")
}

func (nopCaller) CallOptions() []grpc.CallOption { return nil }

func (nopCaller) Admit(context.Context, string, metadata.MD, int) (func(), error) {
	return func() {}, nil
}

func (nopCaller) CallUnary(context.Context, string, metadata.MD, any, any, ...grpc.CallOption) error {
	return status.Error(codes.Unavailable, "nothing here")
}

// A document whose fragments spread each other twice over is measured in linear time, not 2^n.
func TestLimitsMeasureFragmentsOnce(t *testing.T) {
	g := startGateway(t, setup{opts: resolvers.Options{MaxAliases: 5}})
	var doc strings.Builder
	doc.WriteString(`{ getUser(id: "1") { ...f0 } }`)
	const n = 40
	for i := range n {
		fmt.Fprintf(&doc, " fragment f%d on User { ...f%d ...f%d }", i, i+1, i+1)
	}
	fmt.Fprintf(&doc, " fragment f%d on User { nick: name }", n)
	start := time.Now()
	r := g.query(t, doc.String())
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	// 2^40 aliased fields once expanded: far over the limit, and counted without expanding.
	if len(r.Errors) != 1 || r.Errors[0].code() != resolvers.CodeAliasLimit {
		t.Errorf("%s", r.raw)
	}
}

// Deprecated arguments, input fields and enum values have the directive's default reason in
// introspection, as fields do: graphql-js tells deprecation by the reason.
func TestIntrospectionDeprecationReasons(t *testing.T) {
	files, err := registry.FilesFromProtos(context.Background(), map[string]string{"old/v1/old.proto": `syntax = "proto3";
package old.v1;
service Old { rpc GetThing(GetRequest) returns (Thing); }
enum Kind { KIND_UNSPECIFIED = 0; KIND_GONE = 1 [deprecated = true]; }
message GetRequest { string id = 1; string legacy = 2 [deprecated = true]; Kind kind = 3; }
message Thing { string id = 1; string was = 2 [deprecated = true]; }
`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName("old.v1.Old")
	if err != nil {
		t.Fatal(err)
	}
	sch, err := schema.Build([]protoreflect.ServiceDescriptor{d.(protoreflect.ServiceDescriptor)}, schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := resolvers.NewHandler(sch, &fixedCaller{}, resolvers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body(`{
		kind: __type(name: "Kind") { enumValues(includeDeprecated: true) { name deprecationReason } }
		thing: __type(name: "Thing") { fields(includeDeprecated: true) { name deprecationReason } }
		mutation: __type(name: "Mutation") { fields { name args(includeDeprecated: true) { name deprecationReason } } }
	}`)))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	out := w.Body.String()
	for _, want := range []string{
		`{"name":"KIND_GONE","deprecationReason":"No longer supported"}`,
		`{"name":"was","deprecationReason":"No longer supported"}`,
		`{"name":"legacy","deprecationReason":"No longer supported"}`,
		`{"name":"id","deprecationReason":null}`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("introspection lacks %s:\n%s", want, out)
		}
	}
}

// A limit refuses the request before it runs: with application/graphql-response+json that is a 400
// without data, as for a document that does not validate.
func TestLimitRefusalStatus(t *testing.T) {
	g := startGateway(t, setup{opts: resolvers.Options{MaxRootFields: 2}})
	r := g.postBody(t, []byte(`{"query":"{ a: getUser(id: \"1\") { name } b: getUser(id: \"2\") { name } c: getUser(id: \"3\") { name } }"}`),
		"Accept", "application/graphql-response+json")
	if r.status != http.StatusBadRequest || bytes.Contains(r.raw, []byte(`"data"`)) || len(r.Errors) != 1 || r.Errors[0].code() != resolvers.CodeRootFieldLimit {
		t.Errorf("status %d: %s, want 400 with one %s error and no data", r.status, r.raw, resolvers.CodeRootFieldLimit)
	}
}

// Introspection lists only the directive locations of the GraphQL specification (October 2021):
// gqlparser's prelude puts @deprecated on DIRECTIVE_DEFINITION too, and graphql-core's
// build_client_schema refuses a schema that says so.
func TestIntrospectionDirectiveLocations(t *testing.T) {
	spec := map[string]bool{}
	for _, loc := range strings.Fields(`QUERY MUTATION SUBSCRIPTION FIELD FRAGMENT_DEFINITION FRAGMENT_SPREAD
		INLINE_FRAGMENT VARIABLE_DEFINITION SCHEMA SCALAR OBJECT FIELD_DEFINITION ARGUMENT_DEFINITION
		INTERFACE UNION ENUM ENUM_VALUE INPUT_OBJECT INPUT_FIELD_DEFINITION`) {
		spec[loc] = true
	}
	g := startGateway(t, setup{})
	r := g.query(t, introspection.NewQuery(introspection.QueryOptions{})).ok(t)
	var got struct {
		Schema struct {
			Directives []struct {
				Name      string
				Locations []string
			}
		} `json:"__schema"`
	}
	if err := json.Unmarshal(r.Data, &got); err != nil {
		t.Fatal(err)
	}
	found := map[string][]string{}
	for _, d := range got.Schema.Directives {
		found[d.Name] = d.Locations
		for _, loc := range d.Locations {
			if !spec[loc] {
				t.Errorf("@%s lists %s, which is not a location of the specification", d.Name, loc)
			}
		}
	}
	// The specification's own stay as it declares them.
	if want := "[FIELD_DEFINITION ARGUMENT_DEFINITION INPUT_FIELD_DEFINITION ENUM_VALUE]"; fmt.Sprint(found["deprecated"]) != want {
		t.Errorf("@deprecated on %v, want %s", found["deprecated"], want)
	}
	if want := "[FIELD FRAGMENT_SPREAD INLINE_FRAGMENT]"; fmt.Sprint(found["skip"]) != want || fmt.Sprint(found["include"]) != want {
		t.Errorf("@skip on %v, @include on %v, want %s", found["skip"], found["include"], want)
	}
}
