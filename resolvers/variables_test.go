package resolvers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/protogate/gateway/internal/testlog"
	"github.com/protogate/gateway/resolvers"
)

// postVariables posts doc with its variables as raw JSON, so that numbers keep their text as they
// would from any client; headers are name, value pairs.
func postVariables(t testing.TB, g *gateway, doc, vars string, headers ...string) response {
	t.Helper()
	q, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return g.postBody(t, []byte(`{"query":`+string(q)+`,"variables":`+vars+`}`), headers...)
}

// wantVariableRefusal checks that r is a refused request: status 200 (application/json), no data
// entry, and one error at path with a validation code and a message holding msg.
func (r response) wantVariableRefusal(t testing.TB, path []any, msg string) {
	t.Helper()
	if r.status != http.StatusOK || r.Data != nil || len(r.Errors) != 1 {
		t.Fatalf("status %d, want 200 without data and one error: %s", r.status, r.raw)
	}
	e := r.Errors[0]
	if e.code() != "GRAPHQL_VALIDATION_FAILED" || !reflect.DeepEqual(e.Path, path) || !strings.Contains(e.Message, msg) {
		t.Errorf("error = %s\nwant GRAPHQL_VALIDATION_FAILED at %v with %q", r.raw, path, msg)
	}
}

// varPath is a response path: strings and indexes, as JSON decodes them.
func varPath(elems ...any) []any {
	out := make([]any, len(elems))
	for i, e := range elems {
		if n, ok := e.(int); ok {
			out[i] = float64(n)
			continue
		}
		out[i] = e
	}
	return out
}

// A variable that cannot be coerced to its declared type refuses the request, before any root
// field runs: the error names the variable and where in its value the fault is.
func TestVariablesRefused(t *testing.T) {
	sh, ev := startGateway(t, setup{}), startEvery(t, resolvers.Options{})
	const (
		createUser = `mutation ($u: UserInput!) { createUser(user: $u) { id } }`
		cancel     = `mutation ($x: String!) { a: createUser(user: {name: "Eve", email: "eve@example.com"}) { id name } b: cancelOrder(id: $x) { id } }`
		pageSize   = `query ($n: Int) { listUsers(pageSize: $n) { users { id } } }`
		ids        = `query ($ids: [String!]) { batchGetUsers(ids: $ids) { users { id } } }`
		items      = `mutation ($items: [LineItemInput!]) { createOrder(userId: "1", items: $items) { id } }`
	)
	for _, tc := range []struct {
		name      string
		g         *gateway
		doc, vars string
		path      []any
		msg       string
	}{
		// String
		{"String from a number, the mutation's other field not run", sh, cancel, `{"x": 5}`, varPath("variable", "x"), "variable $x: want a String, got the number 5"},
		{"String from a Boolean, as gqlparser says", sh, cancel, `{"x": true}`, varPath("variable", "x"), "cannot use bool as String"},
		{"String from an object, as gqlparser says", sh, cancel, `{"x": {"id": "1"}}`, varPath("variable", "x"), "cannot use map as String"},
		{"missing, as gqlparser says", sh, cancel, `{}`, varPath("variable", "x"), "must be defined"},
		{"null for non-null, as gqlparser says", sh, cancel, `{"x": null}`, varPath("variable", "x"), "cannot be null"},
		// Int
		{"Int from a numeric string", sh, pageSize, `{"n": "5"}`, varPath("variable", "n"), `variable $n: want an Int, got the string "5"`},
		{"Int beyond 32 bits", sh, pageSize, `{"n": 2147483648}`, varPath("variable", "n"), "got the number 2147483648, outside the 32-bit range"},
		{"Int below 32 bits", sh, pageSize, `{"n": -2147483649}`, varPath("variable", "n"), "outside the 32-bit range"},
		{"Int beyond 64 bits", sh, pageSize, `{"n": 9223372036854775808}`, varPath("variable", "n"), "variable $n: want an Int, got the number 9223372036854775808, outside the 32-bit range"},
		{"Int with a fraction", sh, pageSize, `{"n": 5.5}`, varPath("variable", "n"), "variable $n: want an Int, got the number 5.5, not an integer"},
		{"Int with an exponent", sh, pageSize, `{"n": 1e3}`, varPath("variable", "n"), "got the number 1e3, not written as an integer"},
		{"Int in a list from a string", ev.gateway, `query ($z: [Int!]) { echo(zigzags: $z) { s } }`, `{"z": [1, "2"]}`, varPath("variable", "z", 1), `variable $z[1]: want an Int, got the string "2"`},
		{"Int in a list beyond 32 bits", ev.gateway, `query ($z: [Int!]) { echo(zigzags: $z) { s } }`, `{"z": [2147483648]}`, varPath("variable", "z", 0), "outside the 32-bit range"},
		// Float
		{"Float from a string", ev.gateway, `query ($d: Float) { echo(d: $d) { d } }`, `{"d": "1.5"}`, varPath("variable", "d"), `want a Float, got the string "1.5"`},
		{"Float beyond float64", ev.gateway, `query ($d: Float) { echo(d: $d) { d } }`, `{"d": 1e400}`, varPath("variable", "d"), "variable $d: want a Float, got the number 1e400, not a finite number"},
		{"Float in a list from a string", ev.gateway, `query ($ds: [Float!]) { echo(doubles: $ds) { d } }`, `{"ds": [0.5, "NaN"]}`, varPath("variable", "ds", 1), `want a Float, got the string "NaN"`},
		// Boolean
		{"Boolean from a string, as gqlparser says", ev.gateway, `query ($b: Boolean) { echo(b: $b) { b } }`, `{"b": "true"}`, varPath("variable", "b"), "Boolean"},
		// Enums
		{"enum from a number", sh, `query ($c: Category) { listProducts(category: $c) { products { id } } }`, `{"c": 1}`, varPath("variable", "c"), "variable $c: want a value of enum Category by name (CATEGORY_UNSPECIFIED, CATEGORY_BOOKS, "},
		{"enum from a number in an input field", ev.gateway, `query ($h: ScalarsInput) { echoHolder(one: $h) { name } }`, `{"h": {"color": 1}}`, varPath("variable", "h", "color"), "variable $h.color: want a value of enum Color by name (COLOR_UNSPECIFIED, COLOR_RED, COLOR_BLUE), got 1"},
		{"enum in another case", sh, `query ($c: Category) { listProducts(category: $c) { products { id } } }`, `{"c": "category_books"}`, varPath("variable", "c"), "case-sensitive"},
		{"enum unknown", sh, `query ($c: Category) { listProducts(category: $c) { products { id } } }`, `{"c": "CATEGORY_FOOD"}`, varPath("variable", "c"), "variable $c: want a value of enum Category by name (CATEGORY_UNSPECIFIED, "},
		{"enum in a list", ev.gateway, `query ($c: [Color!]) { echo(colors: $c) { colors } }`, `{"c": ["COLOR_RED", true]}`, varPath("variable", "c", 1), "enums must be ints or strings"},
		// The gateway's scalars
		{"Int64 not a number", sh, createUser, `{"u": {"name": "Eve", "email": "eve@example.com", "loyaltyPoints": "12x"}}`, varPath("variable", "u", "loyaltyPoints"), `variable $u.loyaltyPoints: invalid Int64: "12x" is not an integer`},
		{"Int64 from a Boolean", sh, createUser, `{"u": {"name": "Eve", "email": "eve@example.com", "loyaltyPoints": false}}`, varPath("variable", "u", "loyaltyPoints"), "invalid Int64: want an integer, got a Boolean"},
		{"Int64 with a fraction", sh, createUser, `{"u": {"name": "Eve", "email": "eve@example.com", "loyaltyPoints": 1.5}}`, varPath("variable", "u", "loyaltyPoints"), "invalid Int64"},
		{"UInt32 negative", ev.gateway, `query ($u: UInt32) { echo(u32: $u) { u32 } }`, `{"u": -1}`, varPath("variable", "u"), `variable $u: invalid UInt32: "-1" is not an unsigned integer in range`},
		{"UInt32 beyond 32 bits", ev.gateway, `query ($u: UInt32) { echo(u32: $u) { u32 } }`, `{"u": 4294967296}`, varPath("variable", "u"), "invalid UInt32: 4294967296 is out of range [0, 4294967295]"},
		{"UInt32 in a string beyond 32 bits", ev.gateway, `query ($u: UInt32) { echo(f32: $u) { u32 } }`, `{"u": "4294967296"}`, varPath("variable", "u"), "invalid UInt32"},
		{"UInt32 not a number", ev.gateway, `query ($u: [ScalarsInput!]) { echoHolder(items: $u) { name } }`, `{"u": [{"u32": 1}, {"f32": "x"}]}`, varPath("variable", "u", 1, "f32"), `invalid UInt32: "x" is not an unsigned integer`},
		{"UInt64 negative", ev.gateway, `query ($u: UInt64) { echo(u64: $u) { u64 } }`, `{"u": -1}`, varPath("variable", "u"), "invalid UInt64"},
		{"UInt64 beyond 64 bits", ev.gateway, `query ($u: UInt64) { echo(u64: $u) { u64 } }`, `{"u": "18446744073709551616"}`, varPath("variable", "u"), "invalid UInt64"},
		{"Bytes not base64", sh, createUser, `{"u": {"name": "Eve", "email": "eve@example.com", "avatar": "not base64!"}}`, varPath("variable", "u", "avatar"), "invalid Bytes: invalid base64"},
		{"Bytes from a number", sh, createUser, `{"u": {"name": "Eve", "email": "eve@example.com", "avatar": 5}}`, varPath("variable", "u", "avatar"), "invalid Bytes: want base64 in a string, got the number 5"},
		{"DateTime not RFC 3339", ev.gateway, `query ($at: DateTime) { echoKnown(at: $at) { at } }`, `{"at": "yesterday"}`, varPath("variable", "at"), "invalid DateTime: want RFC 3339"},
		{"DateTime from a number", ev.gateway, `query ($at: DateTime) { echoKnown(at: $at) { at } }`, `{"at": 1700000000}`, varPath("variable", "at"), "invalid DateTime: want a string, got the number 1700000000"},
		{"DateTime in a list", ev.gateway, `query ($ts: [DateTime!]) { echoKnown(times: $ts) { times } }`, `{"ts": ["2024-05-01T12:30:00Z", "2024-13-01T00:00:00Z"]}`, varPath("variable", "ts", 1), "invalid DateTime"},
		{"Duration", ev.gateway, `query ($d: Duration) { echoKnown(took: $d) { took } }`, `{"d": "5 minutes"}`, varPath("variable", "d"), "invalid Duration"},
		// Input objects and lists, nested
		{"input object from a string", sh, createUser, `{"u": "Eve"}`, varPath("variable", "u"), "UserInput"},
		{"input field", sh, createUser, `{"u": {"name": "Eve", "email": 5}}`, varPath("variable", "u", "email"), "variable $u.email: want a String, got the number 5"},
		{"input field of an input field", sh, createUser, `{"u": {"name": "Eve", "email": "eve@example.com", "address": {"city": 7}}}`, varPath("variable", "u", "address", "city"), "variable $u.address.city: want a String"},
		{"unknown input field", sh, createUser, `{"u": {"name": "Eve", "email": "eve@example.com", "age": 30}}`, varPath("variable", "u", "age"), `variable $u.age: UserInput has no field "age"`},
		{"unknown input field, nested", ev.gateway, `query ($h: [ScalarsInput!]) { echoHolder(items: $h) { name } }`, `{"h": [{"s": "a"}, {"inner": {"name": "n", "x": 1}}]}`, varPath("variable", "h", 1, "inner", "x"), `variable $h[1].inner.x: InnerInput has no field "x"`},
		{"list element of an input field", sh, createUser, `{"u": {"name": "Eve", "email": "eve@example.com", "tags": ["a", 2]}}`, varPath("variable", "u", "tags", 1), "variable $u.tags[1]: want a String, got the number 2"},
		{"one value for a list, of the wrong type", sh, createUser, `{"u": {"name": "Eve", "email": "eve@example.com", "tags": 2}}`, varPath("variable", "u", "tags", 0), "want a String, got the number 2"},
		{"list element", sh, ids, `{"ids": ["1", 2]}`, varPath("variable", "ids", 1), "variable $ids[1]: want a String, got the number 2"},
		{"null list element", sh, ids, `{"ids": ["1", null]}`, varPath("variable", "ids", 1), "cannot be null"},
		{"field of a list element", sh, items, `{"items": [{"productId": "p1", "quantity": 1}, {"productId": "p2", "quantity": "2"}]}`, varPath("variable", "items", 1, "quantity"), `variable $items[1].quantity: want an Int, got the string "2"`},
		{"field of a field of a list element", sh, items, `{"items": [{"productId": "p1", "unitPrice": {"units": "ten"}}]}`, varPath("variable", "items", 0, "unitPrice", "units"), "invalid Int64"},
		{"list in a list element", ev.gateway, `query ($h: [ScalarsInput!]) { echoHolder(items: $h) { name } }`, `{"h": [{"strs": ["a"]}, {"strs": ["b", 3]}]}`, varPath("variable", "h", 1, "strs", 1), "variable $h[1].strs[1]: want a String"},
		{"list in one value for a list", ev.gateway, `query ($h: [ScalarsInput!]) { echoHolder(items: $h) { name } }`, `{"h": {"list": ["1", "x"]}}`, varPath("variable", "h", 0, "list", 1), "invalid Int64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.g.calls.reset()
			r := postVariables(t, tc.g, tc.doc, tc.vars)
			r.wantVariableRefusal(t, tc.path, tc.msg)
			if n := tc.g.calls.count(); len(n) != 0 {
				t.Errorf("upstream calls were made: %v", n)
			}
		})
	}
	// Nothing ran: Eve, created by the first field of the refused mutation, does not exist.
	r := sh.query(t, `{ listUsers(pageSize: 100) { users { name } } }`).ok(t)
	for _, u := range r.value(t, "listUsers.users").([]any) {
		if u.(map[string]any)["name"] == "Eve" {
			t.Fatalf("a refused mutation created a user: %s", r.Data)
		}
	}
}

// A refusal has the variable's definition for its location; with the application/graphql-response+json
// media type it is a 4xx without data, like a document that fails validation; over GET it is the same.
func TestVariablesRefusedShape(t *testing.T) {
	g := startGateway(t, setup{})
	r := postVariables(t, g, "query Q(\n  $ids: [String!]\n) { batchGetUsers(ids: $ids) { users { id } } }", `{"ids": [1]}`)
	r.wantVariableRefusal(t, varPath("variable", "ids", 0), "variable $ids[0]: want a String, got the number 1")
	if got, want := fmt.Sprint(r.Errors[0].Locations), "[map[column:3 line:2]]"; got != want {
		t.Errorf("locations = %s, want %s", got, want)
	}
	// So does one gqlparser refuses first, and it is worded as the gateway's own.
	r = postVariables(t, g, "mutation M(\n  $u: UserInput!\n) { createUser(user: $u) { id } }", `{"u": {"nope": 1}}`)
	r.wantVariableRefusal(t, varPath("variable", "u", "nope"), `variable $u.nope: UserInput has no field "nope"`)
	if got, want := fmt.Sprint(r.Errors[0].Locations), "[map[column:3 line:2]]"; got != want {
		t.Errorf("locations = %s, want %s", got, want)
	}
	r = postVariables(t, g, `query ($n: Int) { listUsers(pageSize: $n) { users { id } } }`, `{"n": "5"}`,
		"Accept", "application/graphql-response+json")
	if r.status != http.StatusBadRequest || bytes.Contains(r.raw, []byte(`"data"`)) || len(r.Errors) != 1 || r.Errors[0].code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("status %d: %s, want 400 with one error and no data", r.status, r.raw)
	}
	// Over GET the variables are read the same way.
	q := url.Values{"query": {`query ($id: String!) { getUser(id: $id) { name } }`}, "variables": {`{"id": 1}`}}
	hr, _ := http.NewRequest(http.MethodGet, g.url+"?"+q.Encode(), nil)
	do(t, hr).wantVariableRefusal(t, varPath("variable", "id"), "want a String, got the number 1")
	if n := g.calls.count(); len(n) != 0 {
		t.Errorf("upstream calls were made: %v", n)
	}
}

// Values of the right type are coerced as GraphQL says: one value for a list is a list of it, at
// any depth; numbers keep their precision; null is null.
func TestVariablesCoerced(t *testing.T) {
	sh, ev := startGateway(t, setup{}), startEvery(t, resolvers.Options{})
	for _, tc := range []struct {
		name      string
		g         *gateway
		doc, vars string
		want      string
	}{
		{"one String for [String!]", sh, `query ($ids: [String!]) { batchGetUsers(ids: $ids) { users { id } } }`, `{"ids": "1"}`,
			`{"batchGetUsers":{"users":[{"id":"1"}]}}`},
		{"a list for [String!]", sh, `query ($ids: [String!]) { batchGetUsers(ids: $ids) { users { id } } }`, `{"ids": ["1", "2"]}`,
			`{"batchGetUsers":{"users":[{"id":"1"},{"id":"2"}]}}`},
		{"null for [String!]", sh, `query ($ids: [String!]) { batchGetUsers(ids: $ids) { users { id } } }`, `{"ids": null}`,
			`{"batchGetUsers":{"users":[]}}`},
		{"a default for [String!]", sh, `query ($ids: [String!] = "3") { batchGetUsers(ids: $ids) { users { id } } }`, `{}`,
			`{"batchGetUsers":{"users":[{"id":"3"}]}}`},
		{"Int", sh, `query ($n: Int) { listUsers(pageSize: $n) { users { id } } }`, `{"n": 2}`,
			`{"listUsers":{"users":[{"id":"1"},{"id":"2"}]}}`},
		{"enum in an input object", sh, `query ($f: ListUsersRequest_FilterInput) { listUsers(pageSize: 1, filter: $f) { users { role } } }`, `{"f": {"role": "ROLE_ADMIN"}}`,
			`{"listUsers":{"users":[{"role":"ROLE_ADMIN"}]}}`},
		{"scalars", ev.gateway, `query ($b: Boolean, $i: Int, $f: Float, $d: Float, $s: String, $c: Color, $by: Bytes) { echo(b: $b, i32: $i, fl: $f, d: $d, s: $s, color: $c, by: $by) { b i32 fl d s color by } }`,
			`{"b": true, "i": -2147483648, "f": 2, "d": 0.1, "s": "5", "c": "COLOR_BLUE", "by": "AQ=="}`,
			`{"echo":{"b":true,"i32":-2147483648,"fl":2,"d":0.1,"s":"5","color":"COLOR_BLUE","by":"AQ=="}}`},
		{"nulls", ev.gateway, `query ($i: Int, $s: String, $u: InnerInput) { echo(i32: $i, s: $s, inner: $u) { i32 s inner { name } } }`, `{"i": null, "s": null, "u": null}`,
			`{"echo":{"i32":0,"s":"","inner":null}}`},
		{"Int64 and UInt64 from numbers and strings", ev.gateway, `query ($i: Int64, $u: UInt64, $l: [Int64!]) { echo(i64: $i, u64: $u, list: $l) { i64 u64 list } }`,
			`{"i": 9007199254740993, "u": 18446744073709551615, "l": [-1, "9223372036854775807"]}`,
			`{"echo":{"i64":"9007199254740993","u64":"18446744073709551615","list":["-1","9223372036854775807"]}}`},
		{"one value for lists of each kind", ev.gateway, `query ($l: [Int64!], $z: [Int!], $ds: [Float!], $c: [Color!], $s: [String!]) { echo(list: $l, zigzags: $z, doubles: $ds, colors: $c, strs: $s) { list zigzags doubles colors strs } }`,
			`{"l": "5", "z": -3, "ds": 1.5, "c": "COLOR_RED", "s": "one"}`,
			`{"echo":{"list":["5"],"zigzags":[-3],"doubles":[1.5],"colors":["COLOR_RED"],"strs":["one"]}}`},
		{"one input object for a list, with one value for a list inside", ev.gateway, `query ($h: [ScalarsInput!]) { echoHolder(items: $h) { items { strs list } } }`,
			`{"h": {"strs": "a", "list": 7}}`,
			`{"echoHolder":{"items":[{"strs":["a"],"list":["7"]}]}}`},
		{"lists in a list of input objects", ev.gateway, `query ($h: [ScalarsInput!]) { echoHolder(items: $h) { items { strs } } }`,
			`{"h": [{"strs": ["a", "b"]}, {"strs": "c"}, {}]}`,
			`{"echoHolder":{"items":[{"strs":["a","b"]},{"strs":["c"]},{"strs":[]}]}}`},
		{"well-known types", ev.gateway, `query ($at: DateTime, $d: Duration, $ts: [DateTime!], $m: [String!], $j: JSON) { echoKnown(at: $at, took: $d, times: $ts, mask: $m, v: $j) { at took times mask v } }`,
			`{"at": "2024-05-01T12:30:00Z", "d": "1.5s", "ts": "1970-01-01T00:00:00Z", "m": "fooBar", "j": [1, "x", {"k": null}]}`,
			`{"echoKnown":{"at":"2024-05-01T12:30:00Z","took":"1.500s","times":["1970-01-01T00:00:00Z"],"mask":["fooBar"],"v":[1,"x",{"k":null}]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			postVariables(t, tc.g, tc.doc, tc.vars).ok(t).wantData(t, tc.want)
		})
	}
}

// A number gqlparser would misreport for an Int is refused with its value, when the operation that
// runs declares the variable an Int, and only then.
func TestVariablesNumbersBeforeGqlparser(t *testing.T) {
	g := startEvery(t, resolvers.Options{})
	const doc = `query A($n: Int = 1) { echo(i32: $n) { i32 } }
		query B($n: Float) { echo(d: $n) { d } }
		query C($n: Int64) { echo(i64: $n) { i64 } }`
	for _, tc := range []struct {
		op, n string
		err   string // the error's message; none when empty
	}{
		{"A", "5.5", "variable $n: want an Int, got the number 5.5, not an integer"},
		{"A", "5.0", "variable $n: want an Int, got the number 5.0, not written as an integer"},
		{"A", "-1e40", "variable $n: want an Int, got the number -1e40, not written as an integer"},
		{"B", "5.5", ""},
		{"B", "1e308", ""},
		{"B", "1e309", "variable $n: want a Float, got the number 1e309, not a finite number"},
		{"C", "1.5e3", ""},
		{"C", "1.5", `variable $n: invalid Int64: "1.5" is not an integer in range`},
	} {
		r := g.post(t, request{Query: doc, OperationName: tc.op, Variables: map[string]any{"n": json.Number(tc.n)}})
		switch {
		case tc.err == "" && len(r.Errors) > 0:
			t.Errorf("%s with %s: %s", tc.op, tc.n, r.raw)
		case tc.err != "" && (len(r.Errors) != 1 || r.Errors[0].Message != tc.err || r.Errors[0].code() != "GRAPHQL_VALIDATION_FAILED" || r.Data != nil):
			t.Errorf("%s with %s: %s\nwant the error %q", tc.op, tc.n, r.raw, tc.err)
		}
	}
}

// The 64-bit integers and UInt32 read numbers and strings as protobuf's JSON does: a whole value
// written with a fraction or an exponent is taken, exactly; Go's literals (hex, '_' between
// digits), which strconv.ParseFloat would read, are refused, as variables and as literals.
func TestVariablesIntegersExact(t *testing.T) {
	g := startEvery(t, resolvers.Options{})
	const doc = `query ($i: Int64, $u: UInt64, $u32: UInt32) { echo(i64: $i, u64: $u, u32: $u32) { i64 u64 u32 } }`
	for _, tc := range []struct{ vars, want string }{
		{`{"i": "12345678901234567.0"}`, `{"echo":{"i64":"12345678901234567","u64":"0","u32":0}}`},
		{`{"i": 12345678901234567.0}`, `{"echo":{"i64":"12345678901234567","u64":"0","u32":0}}`},
		{`{"i": 1.2345678901234567e16, "u": "1.8446744073709551615e19", "u32": 4.294967295e9}`, `{"echo":{"i64":"12345678901234567","u64":"18446744073709551615","u32":4294967295}}`},
	} {
		postVariables(t, g.gateway, doc, tc.vars).ok(t).wantRawData(t, tc.want)
	}
	for _, tc := range []struct{ vars, name, msg string }{
		{`{"i": "0x1p4"}`, "i", `variable $i: invalid Int64: "0x1p4" is not an integer in range`},
		{`{"i": "1_0"}`, "i", `variable $i: invalid Int64: "1_0" is not an integer in range`},
		{`{"i": "0x1.8p1"}`, "i", `variable $i: invalid Int64: "0x1.8p1" is not an integer in range`},
		{`{"i": "0x10"}`, "i", `invalid Int64`},
		{`{"u": "0x1p4"}`, "u", `variable $u: invalid UInt64: "0x1p4" is not an unsigned integer in range`},
		{`{"u32": "0x1p4"}`, "u32", `variable $u32: invalid UInt32: "0x1p4" is not an unsigned integer in range`},
		{`{"u32": "1e-1"}`, "u32", `invalid UInt32`},
	} {
		postVariables(t, g.gateway, doc, tc.vars).wantVariableRefusal(t, varPath("variable", tc.name), tc.msg)
	}
	g.query(t, `{ echo(u32: "0x1p4") { u32 } }`).wantVariableRefusal(t, nil, `argument u32 of echo: invalid UInt32: "0x1p4" is not an unsigned integer in range`)
	g.query(t, `{ echo(i64: "1_0") { i64 } }`).wantVariableRefusal(t, nil, `argument i64 of echo: invalid Int64: "1_0" is not an integer in range`)
	g.query(t, `{ echo(i64: 1.2345678901234567e16) { i64 } }`).ok(t).wantRawData(t, `{"echo":{"i64":"12345678901234567"}}`)
}

// A mutation whose variables are right runs: the refusals above are the variables' doing.
func TestVariablesMutationRuns(t *testing.T) {
	g := startGateway(t, setup{})
	r := postVariables(t, g, `mutation ($u: UserInput!) { createUser(user: $u) { name tags loyaltyPoints } }`,
		`{"u": {"name": "Eve", "email": "eve@example.com", "tags": "new", "loyaltyPoints": 5}}`).ok(t)
	r.wantData(t, `{"createUser":{"name":"Eve","tags":["new"],"loyaltyPoints":"5"}}`)
	if n := g.calls.count()["/shop.users.v1.UserService/CreateUser"]; n != 1 {
		t.Errorf("CreateUser called %d times, want 1", n)
	}
	if n := g.calls.count()["/shop.orders.v1.OrderService/CancelOrder"]; n != 0 {
		t.Errorf("CancelOrder called %d times, want 0", n)
	}
}

// A nullable variable with a default may stand where the type is non-null (an argument, an input
// object's field, a list's element), and its default counts when it is not given. Given null, the
// field fails with INVALID_ARGUMENT and its method is not called, as GraphQL's CoerceArgumentValues
// says: a null never reaches the backend where the type is non-null.
func TestNullVariableWhereNonNull(t *testing.T) {
	g := startGateway(t, setup{})
	const mCreateUser = "/shop.users.v1.UserService/CreateUser"
	for _, tc := range []struct{ name, doc, method, field, msg string }{
		{"argument", `query ($v: String = "1") { getUser(id: $v) { name } }`, mGetUser, "getUser",
			"argument id: must not be null: its type is non-null"},
		{"input object's field", `mutation ($v: String = "Eve") { createUser(user: {name: $v, email: "null-1@example.com"}) { name } }`, mCreateUser, "createUser",
			"argument user.name: must not be null: its type is non-null"},
		{"input object", `mutation ($v: UserInput = {name: "Eve", email: "null-2@example.com"}) { createUser(user: $v) { name } }`, mCreateUser, "createUser",
			"argument user: must not be null: its type is non-null"},
		{"list element", `query ($v: String = "1") { batchGetUsers(ids: ["2", $v]) { users { id } } }`, mBatchGetUsers, "batchGetUsers",
			"argument ids: element 1 is null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g.calls.reset()
			postVariables(t, g, tc.doc, `{}`).ok(t)
			if n := g.calls.count()[tc.method]; n != 1 {
				t.Fatalf("with the default: %s called %d times, want 1", tc.method, n)
			}
			g.calls.reset()
			r := postVariables(t, g, tc.doc, `{"v": null}`)
			if r.status != http.StatusOK || len(r.Errors) != 1 || r.Errors[0].code() != "INVALID_ARGUMENT" ||
				r.Errors[0].Message != tc.msg || !reflect.DeepEqual(r.Errors[0].Path, varPath(tc.field)) {
				t.Fatalf("%d %s\nwant one INVALID_ARGUMENT error at %s: %q", r.status, r.raw, tc.field, tc.msg)
			}
			r.wantData(t, `{"`+tc.field+`":null}`)
			if n := g.calls.count(); len(n) != 0 {
				t.Errorf("upstream calls %v, want none", n)
			}
		})
	}
}

// A nullable variable with a default may be @skip's or @include's `if`, a Boolean!; given null it
// refuses the request as a variable of the wrong type does (the directives decide which fields
// run, so none runs), at the variable's use, on every selection a directive may sit on.
func TestNullVariableInDirective(t *testing.T) {
	var logged testlog.Buffer // panics the handler recovered from
	g := startGateway(t, setup{opts: resolvers.Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))}})
	for _, tc := range []struct{ name, doc string }{
		{"root field", `query ($s: Boolean = true) { a: getUser(id: "1") @skip(if: $s) { name } b: __typename }`},
		{"nested field", `query ($s: Boolean = true) { getUser(id: "1") { name orders @include(if: $s) { id } } }`},
		{"fragment spread", `query ($s: Boolean = true) { ...F @include(if: $s) } fragment F on Query { getUser(id: "1") { name } }`},
		{"inline fragment in a fragment", `query ($s: Boolean = true) { ...F } fragment F on Query { getUser(id: "1") { ... @skip(if: $s) { name } } }`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g.calls.reset()
			postVariables(t, g, tc.doc, `{}`).ok(t)
			postVariables(t, g, tc.doc, `{"s": false}`).ok(t)
			g.calls.reset()
			r := postVariables(t, g, tc.doc, `{"s": null}`)
			r.wantVariableRefusal(t, varPath("variable", "s"), "variable $s: must not be null")
			if got, want := fmt.Sprint(r.Errors[0].Locations), fmt.Sprintf("[map[column:%d line:1]]", strings.Index(tc.doc, "$s)")+1); got != want {
				t.Errorf("locations = %s, want %s (the variable's use)", got, want)
			}
			if n := g.calls.count(); len(n) != 0 {
				t.Errorf("upstream calls %v, want none", n)
			}
			r = postVariables(t, g, tc.doc, `{"s": null}`, "Accept", "application/graphql-response+json")
			if r.status != http.StatusBadRequest || len(r.Errors) != 1 || r.Errors[0].code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Errorf("application/graphql-response+json: %d %s, want 400 and the error", r.status, r.raw)
			}
		})
	}
	if s := logged.String(); s != "" {
		t.Errorf("the handler logged: %s", s)
	}
}

// FuzzVariables sends arbitrary variables to an operation whose arguments are all variables: a
// request is either refused before anything runs (one GRAPHQL_VALIDATION_FAILED error, no data) or
// runs without an error, so whatever passes coercion, the arguments' encoding takes.
func FuzzVariables(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"b": true, "i": -5, "d": 0.5, "s": "x", "c": "COLOR_RED", "i64": "-9007199254740993", "u64": 18446744073709551615, "by": "AQ=="}`,
		`{"strs": "a", "z": [1, -2147483648], "cs": ["COLOR_BLUE"], "l": [1, "2", 3e2], "inner": {"name": "n", "n": 5}}`,
		`{"at": "2024-05-01T12:30:00Z", "took": "-1.5s", "ts": ["1970-01-01T00:00:00Z"], "m": "fooBar"}`,
		`{"i": "5", "s": 5, "d": "1", "z": [2147483648], "l": [1.5], "inner": {"n": "x"}}`,
		`{"i": 5.5, "d": 1e400, "i64": 1e3, "u64": -1, "by": "%%", "at": "yesterday", "took": "1m"}`,
		`{"strs": [null], "cs": [1], "inner": [{"name": "a"}, {"name": 1}], "b": "true"}`,
	} {
		f.Add(seed)
	}
	g := startEvery(f, resolvers.Options{})
	const doc = `query ($b: Boolean, $i: Int, $d: Float, $s: String, $c: Color, $i64: Int64, $u64: UInt64, $by: Bytes,
		$strs: [String!], $z: [Int!], $cs: [Color!], $l: [Int64!], $inner: InnerInput,
		$at: DateTime, $took: Duration, $ts: [DateTime!], $m: [String!]) {
		echo(b: $b, i32: $i, d: $d, s: $s, color: $c, i64: $i64, u64: $u64, by: $by, strs: $strs, zigzags: $z, colors: $cs, list: $l, inner: $inner) { s }
		echoKnown(at: $at, took: $took, times: $ts, mask: $m) { at }
	}`
	f.Fuzz(func(t *testing.T, vars string) {
		var obj map[string]json.RawMessage
		if json.Unmarshal([]byte(vars), &obj) != nil {
			return
		}
		r := postVariables(t, g.gateway, doc, vars)
		refused := r.Data == nil && len(r.Errors) == 1 && r.Errors[0].code() == "GRAPHQL_VALIDATION_FAILED"
		if !refused && len(r.Errors) > 0 {
			t.Fatalf("variables %s: neither refused nor run cleanly: %s", vars, r.raw)
		}
	})
}

// The cost of checking variables, through the whole handler over an upstream that answers at once:
// an operation without variables, the same arguments as variables, and a list of 1000 numbers.
func BenchmarkVariables(b *testing.B) {
	sch := startEvery(b, resolvers.Options{}).schema
	upstream := &fixedCaller{}
	empty := []byte{}
	upstream.answer.Store(&empty)
	h, err := resolvers.NewHandler(sch, upstream, resolvers.Options{})
	if err != nil {
		b.Fatal(err)
	}
	list := make([]string, 1000)
	for i := range list {
		list[i] = fmt.Sprint(i * 7919)
	}
	for _, bc := range []struct{ name, body string }{
		{"Literals", body(`{ echo(i32: 5, d: 1.5, s: "x", color: COLOR_RED, strs: ["a", "b"], inner: {name: "n", n: "5"}) { s } }`)},
		{"Variables", fmt.Sprintf(`{"query":%q,"variables":{"i":5,"d":1.5,"s":"x","c":"COLOR_RED","strs":["a","b"],"inner":{"name":"n","n":"5"}}}`,
			`query ($i: Int, $d: Float, $s: String, $c: Color, $strs: [String!], $inner: InnerInput) { echo(i32: $i, d: $d, s: $s, color: $c, strs: $strs, inner: $inner) { s } }`)},
		{"List1000", fmt.Sprintf(`{"query":%q,"variables":{"l":[%s]}}`, `query ($l: [Int64!]) { echo(list: $l) { s } }`, strings.Join(list, ","))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			serve(b, h, bc.body)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				serve(b, h, bc.body)
			}
		})
	}
}
