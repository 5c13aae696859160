package resolvers_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/protogate/gateway/resolvers"
)

// A literal of one of the gateway's scalars that its coercion refuses refuses the whole request
// before anything runs, as a wrong variable does: gqlparser takes any literal for a custom scalar.
func TestLiteralsRefused(t *testing.T) {
	sh, ev := startGateway(t, setup{}), startEvery(t, resolvers.Options{})
	const eve = `name: "Eve", email: "eve@example.com"`
	for _, tc := range []struct {
		name string
		g    *gateway
		doc  string
		msg  string
		loc  string
	}{
		{"Int64 in a mutation's second field", sh,
			`mutation { a: createUser(user: {` + eve + `}) { id } b: createUser(user: {` + eve + `, loyaltyPoints: "12x"}) { id } }`,
			`argument user of b: invalid Int64: "12x" is not an integer`, "[map[column:156 line:1]]"}, // the literal's
		{"Int64 with a fraction", sh, `mutation { createUser(user: {` + eve + `, loyaltyPoints: 1.5}) { id } }`, "invalid Int64", ""},
		{"Int64 from a Boolean", sh, `mutation { createUser(user: {` + eve + `, loyaltyPoints: true}) { id } }`, "invalid Int64: want an integer, got a Boolean", ""},
		{"Int beyond 32 bits", sh, `mutation { a: createUser(user: {` + eve + `}) { id } b: createOrder(userId: "1", items: [{productId: "p1", quantity: 2147483648}]) { id } }`,
			"argument items of b: want an Int, got the number 2147483648, outside the 32-bit range", ""},
		{"Int below 32 bits", sh, `{ listProducts(pageSize: -2147483649) { products { id } } }`, "outside the 32-bit range", ""},
		{"Int64 argument", ev.gateway, `{ echo(i64: "notanumber") { s } }`, `argument i64 of echo: invalid Int64`, ""},
		{"UInt64 negative", ev.gateway, `{ echo(u64: -1) { s } }`, "invalid UInt64", ""},
		{"UInt32 beyond 32 bits", ev.gateway, `{ echo(u32: 4294967296) { s } }`, "argument u32 of echo: invalid UInt32: 4294967296 is out of range", ""},
		{"UInt32 negative in a string", ev.gateway, `{ echoWrappers(u32: "-1") { u32 } }`, "invalid UInt32", ""},
		{"Bytes", ev.gateway, `{ echo(by: "not base64!") { s } }`, "invalid Bytes", ""},
		{"DateTime", ev.gateway, `{ echoKnown(at: "yesterday") { at } }`, "invalid DateTime", ""},
		{"DateTime in a list", ev.gateway, `{ echoKnown(times: ["2024-05-01T12:30:00Z", "2024-13-01T00:00:00Z"]) { at } }`, "invalid DateTime", ""},
		{"Duration", ev.gateway, `{ echoKnown(took: "5 minutes") { took } }`, "invalid Duration", ""},
		{"in a list of input objects", ev.gateway, `{ echoHolder(items: [{list: ["1"]}, {list: ["1", "x"]}]) { name } }`, "invalid Int64", ""},
		{"in a fragment", ev.gateway, `query { ...F } fragment F on Query { echo(i64: "x") { s } }`, "argument i64 of echo: invalid Int64", ""},
		{"in an inline fragment", ev.gateway, `query { ... on Query { echo(i64: "x") { s } } }`, "invalid Int64", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.g.calls.reset()
			r := tc.g.query(t, tc.doc)
			r.wantVariableRefusal(t, nil, tc.msg)
			if n := tc.g.calls.count(); len(n) != 0 {
				t.Errorf("upstream calls were made: %v", n)
			}
			if tc.loc != "" {
				if got := fmt.Sprint(r.Errors[0].Locations); got != tc.loc {
					t.Errorf("locations = %s, want %s", got, tc.loc)
				}
			}
		})
	}
	// A variable's default must be valid even when the variable is given (when it is not, the
	// default is checked as the variable's value).
	postVariables(t, ev.gateway, `query ($v: Int64 = "x") { echo(i64: $v) { s } }`, `{"v": "5"}`).
		wantVariableRefusal(t, nil, `variable $v default: invalid Int64`)
	postVariables(t, ev.gateway, `query ($v: Int64 = "x") { echo(i64: $v) { s } }`, `{}`).
		wantVariableRefusal(t, varPath("variable", "v"), `variable $v: invalid Int64`)
	// Literals the scalars take run.
	ev.query(t, `{ echo(i64: "-5", u64: 18446744073709551615, by: "AQ==") { s } echoKnown(at: "2024-05-01T12:30:00Z", took: "1.5s") { at } }`).ok(t)
	sh.query(t, `mutation { createUser(user: {`+eve+`, loyaltyPoints: 12}) { loyaltyPoints } }`).ok(t).
		wantData(t, `{"createUser":{"loyaltyPoints":"12"}}`)
}

// A null written in a JSON literal is kept, as in the same value given as a variable.
func TestJSONLiteralNulls(t *testing.T) {
	g := startEvery(t, resolvers.Options{})
	want := `{"echoKnown":{"st":{"a":null,"b":{"c":null},"d":[null]}}}`
	g.query(t, `{ echoKnown(st: {a: null, b: {c: null}, d: [null]}) { st } }`).ok(t).wantRawData(t, want)
	postVariables(t, g.gateway, `query ($st: JSON) { echoKnown(st: $st) { st } }`, `{"st": {"a": null, "b": {"c": null}, "d": [null]}}`).
		ok(t).wantRawData(t, want)
}

// A UInt64 literal of 2^63 or more, beyond gqlparser's int64 reading of integers, is taken inside
// an input object or a list as it is alone; the gateway's check of literals still refuses one
// beyond 64 bits, and gqlparser's other complaints about the object stay.
func TestWideUInt64Literals(t *testing.T) {
	g := startEvery(t, resolvers.Options{})
	g.query(t, `{ echoHolder(one: {u64: 18446744073709551615, f64: 9223372036854775808}, items: [{u64: 18446744073709551615}]) {
		one { u64 f64 } items { u64 } } }`).ok(t).
		wantRawData(t, `{"echoHolder":{"one":{"u64":"18446744073709551615","f64":"9223372036854775808"},"items":[{"u64":"18446744073709551615"}]}}`)
	postVariables(t, g.gateway, `query ($h: [ScalarsInput!] = [{u64: 18446744073709551615}]) { echoHolder(items: $h) { items { u64 } } }`,
		`{"h": [{"u64": "1"}]}`).ok(t).wantRawData(t, `{"echoHolder":{"items":[{"u64":"1"}]}}`)
	// As a default that is used, gqlparser reads it before the gateway can: the refusal says so.
	postVariables(t, g.gateway, `query ($u: UInt64 = 18446744073709551615) { echo(u64: $u) { u64 } }`, `{}`).
		wantVariableRefusal(t, varPath("variable", "u"), "variable $u: its default value 18446744073709551615 holds an integer beyond the signed 64-bit range")
	postVariables(t, g.gateway, `query ($u: UInt64 = "18446744073709551615") { echo(u64: $u) { u64 } }`, `{}`).ok(t).
		wantRawData(t, `{"echo":{"u64":"18446744073709551615"}}`)
	for _, tc := range []struct{ name, doc, msg string }{
		{"beyond 64 bits", `{ echoHolder(one: {u64: 18446744073709551616}) { name } }`,
			`argument one of echoHolder: invalid UInt64: "18446744073709551616" is not an unsigned integer in range`},
		{"Int64 beyond 64 bits", `{ echoHolder(one: {i64: 9223372036854775808}) { name } }`, "argument one of echoHolder: invalid Int64"},
		{"an Int beyond 64 bits beside it", `{ echoHolder(one: {u64: 18446744073709551615, i32: 9223372036854775808}) { name } }`,
			`Expected value of type "ScalarsInput"`},
		{"an unknown field beside it", `{ echoHolder(one: {u64: 18446744073709551615, nope: 1}) { name } }`,
			`Field "nope" is not defined by type "ScalarsInput"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := g.query(t, tc.doc)
			found := false
			for _, e := range r.Errors {
				found = found || e.code() == "GRAPHQL_VALIDATION_FAILED" && strings.Contains(e.Message, tc.msg)
			}
			if !found || r.Data != nil {
				t.Errorf("%s\nwant GRAPHQL_VALIDATION_FAILED with %q", r.raw, tc.msg)
			}
		})
	}
}
