package resolvers_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/protogate/gateway/resolvers"
)

// wantLimit checks that a request was refused for a limit measured before validation, naming it.
func wantLimit(t *testing.T, g *gateway, r response, code, limit string, max, actual int) {
	t.Helper()
	wantRequestError(t, g, r, code)
	if x := r.Errors[0].Extensions; x["limit"] != limit || x["max"] != float64(max) || x["actual"] != float64(actual) {
		t.Errorf("extensions = %v, want limit %s, max %d, actual %d", x, limit, max, actual)
	}
}

// wantFieldLimit checks that a request was refused for its number of fields, naming the limit.
func wantFieldLimit(t *testing.T, g *gateway, r response, max, actual int) {
	t.Helper()
	wantLimit(t, g, r, resolvers.CodeFieldLimit, "fields", max, actual)
}

// Validation compares the fields sharing a response name pairwise, so a document repeating one
// field took a core for a minute before any limit saw it; the number of fields is counted first.
func TestFieldLimitRefusesRepeatedFields(t *testing.T) {
	g := startGateway(t, setup{})
	// 64 KB of one unknown field, under max_document_bytes.
	r := g.query(t, "{"+strings.Repeat(" x", 32000)+" }")
	wantFieldLimit(t, g, r, resolvers.DefaultMaxFields, 32000)
	if !strings.Contains(r.Errors[0].Message, "32000 exceeds the limit of 2000 (graphql.max_fields)") {
		t.Errorf("message %q does not say the limit", r.Errors[0].Message)
	}
	// A valid document whose complexity was refused only after validating it.
	r = g.query(t, `{ getUser(id: "1") {`+strings.Repeat(" id", 16000)+" } }")
	wantFieldLimit(t, g, r, resolvers.DefaultMaxFields, 16001)
}

// Validation compares every two fragment spreads of a selection set, as it compares fields: one
// fragment spread 12,800 times in 64 KB took a second before any limit saw it. Spreads count as
// fields.
func TestFieldLimitCountsFragmentSpreads(t *testing.T) {
	g := startGateway(t, setup{})
	r := g.query(t, "{"+strings.Repeat(" ...f", 12800)+" } fragment f on Query { __typename }")
	wantFieldLimit(t, g, r, resolvers.DefaultMaxFields, 12801)
}

// Every field and fragment spread of the document counts once: those of every operation, and a
// fragment's however often it is spread.
func TestFieldLimitCountsTheDocument(t *testing.T) {
	g := startGateway(t, setup{opts: resolvers.Options{MaxFields: 5}})
	g.query(t, `{ getUser(id: "1") { id name email role } }`).ok(t)
	g.calls.reset()
	wantFieldLimit(t, g, g.query(t, `{ getUser(id: "1") { id name email role nick: name } }`), 5, 6)

	g.query(t, `{ getUser(id: "1") { ...f ...f } } fragment f on User { id name }`).ok(t)
	g.calls.reset()
	wantFieldLimit(t, g, g.query(t, `{ getUser(id: "1") { ...f ...f ...f } } fragment f on User { id name }`), 5, 6)

	g.calls.reset()
	r := g.post(t, request{Query: `query A { getUser(id: "1") { id name } } query B { getUser(id: "2") { id name } }`, OperationName: "A"})
	wantFieldLimit(t, g, r, 5, 6)
}

// Where validation checks fields again, they count again: a fragment's for each operation that
// spreads it, and those inside inline fragments for each inline fragment around them, in each
// operation and fragment that reaches them.
func TestFieldLimitCountsRepeatedChecks(t *testing.T) {
	g := startGateway(t, setup{opts: resolvers.Options{MaxFields: 10}})
	const g4 = ` fragment g on Query { getUser(id: "1") { id name email } }` // 4 fields
	for _, tc := range []struct {
		name, doc string
		actual    int // over 10, or 0 for within the limit
	}{
		// Each operation counts its spread and the fragment's 4 fields.
		{"operations", `query A { ...g } query B { ...g }` + g4, 0},
		{"operations over", `query A { ...g } query B { ...g } query C { ...g }` + g4, 15},
		// And the spreads on the way to it.
		{"operations through fragments", `query A { ...h } query B { __typename } fragment h on Query { ...g }` + g4, 0},
		{"operations through fragments over", `query A { ...h } query B { ...h } fragment h on Query { ...g }` + g4, 12},
		// Fields inside an inline fragment count twice; inside two, three times.
		{"inline", `query A { getUser(id: "1") { ... on User { id name } ...{ email } } }`, 0},
		{"inline nested", `query A { getUser(id: "1") { ... on User { id ... on User { name ...{ email } } } } }`, 0},
		{"inline nested over", `query A { getUser(id: "1") { ... on User { id ... on User { name ...{ email role } } } } }`, 14},
		// The fragments a and b check b's inline fragment again: 2 + 1 + 4, then 2 and 2.
		{"inline in fragments", `query A { getUser(id: "1") { ...a } } fragment a on User { ...b }` +
			` fragment b on User { ... on User { id name } }`, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g.calls.reset()
			r := g.post(t, request{Query: tc.doc, OperationName: "A"})
			if tc.actual == 0 {
				r.ok(t)
				return
			}
			wantFieldLimit(t, g, r, 10, tc.actual)
		})
	}
}

// repeatedChecks are documents that validation checked over and over, under every limit, in a
// few kilobytes: they took seconds of CPU before validation answered. Each has the count that
// refuses it at the default max_fields.
func repeatedChecks() []struct {
	name, doc string
	actual    int
} {
	ids := func(n int) string { return strings.Repeat(" id", n) }
	var ops, defs strings.Builder
	for i := range 100 {
		fmt.Fprintf(&ops, " query Q%d { ...g }", i)
		fmt.Fprintf(&defs, " fragment f%d on Query { ...g }", i)
	}
	return []struct {
		name, doc string
		actual    int
	}{
		// 100 operations spreading a fragment of 1001 fields: 3s. Refused at the second.
		{"operations", ops.String() + ` fragment g on Query { getUser(id: "1") {` + ids(1000) + " } }", 2004},
		// 1000 fields inside 20 inline fragments nested: 0.6s, each level 0.03s more, up to the
		// parser's 1000.
		{"inline", `{ getUser(id: "1") {` + strings.Repeat(" ...{", 20) + ids(1000) + strings.Repeat(" }", 20) + " } }", 21001},
		// 100 fragments reaching an inline fragment of 600 fields: 1.6s. The operation counts 1203
		// (600 inside the inline fragment), the other 99 fragments 1 each, then each fragment 600.
		{"inline-in-fragments", "{ ...f0 }" + defs.String() + ` fragment g on Query { getUser(id: "1") { ... on User {` + ids(600) + " } } }", 2502},
	}
}

func TestFieldLimitRefusesRepeatedChecks(t *testing.T) {
	g := startGateway(t, setup{})
	for _, tc := range repeatedChecks() {
		t.Run(tc.name, func(t *testing.T) {
			g.calls.reset()
			wantFieldLimit(t, g, g.query(t, tc.doc), resolvers.DefaultMaxFields, tc.actual)
		})
	}
}

// sharedNames are documents under every limit counted before validation whose fields share
// response names by the thousand, in a selection set, merged below others, or gathered from
// fragments: validation compared every two, kept a message for each that conflicted, and took
// 1.5s and a gigabyte to answer the first. Each has the count that refuses it.
func sharedNames() []struct {
	name, doc string
	actual    int
} {
	aliased := func(n int, fields ...string) string {
		var doc strings.Builder
		for i := range n {
			fmt.Fprintf(&doc, " a: %s", fields[i%len(fields)])
		}
		return doc.String()
	}
	var orders, spreads, defs strings.Builder
	for range 60 {
		orders.WriteString(" o: orders {" + strings.Replace(aliased(30, "id", "status"), "a:", "s:", -1) + " }")
	}
	for i := range 400 {
		fmt.Fprintf(&spreads, " ...f%d", i)
		fmt.Fprintf(&defs, " fragment f%d on User {%s }", i, aliased(1, []string{"id", "name"}[i%2]))
	}
	pairs := func(k int) int { return k * (k - 1) / 2 }
	// cost is the cost of k fields sharing a response name, made of groups of the same field: a
	// pair within a group costs 1, a pair across two ConflictingPairCost.
	cost := func(groups ...int) int {
		k, same := 0, 0
		for _, g := range groups {
			k, same = k+g, same+pairs(g)
		}
		return same + (pairs(k)-same)*resolvers.ConflictingPairCost
	}
	return []struct {
		name, doc string
		actual    int
	}{
		{"two-aliases", `{ getUser(id: "1") {` + aliased(1998, "id", "name") + " } }", cost(999, 999)},
		{"three-aliases", `{ getUser(id: "1") {` + aliased(1998, "id", "name", "email") + " } }", cost(666, 666, 666)},
		// 60 orders, each of 30 fields aliased alike: validation compares the fields of every two.
		{"merged-below", `{ getUser(id: "1") {` + orders.String() + " } }", pairs(60) + cost(900, 900)},
		{"fragments", `{ getUser(id: "1") {` + spreads.String() + " } }" + defs.String(), cost(200, 200)},
	}
}

// Validation compares every two fields sharing a response name where the response merges them,
// and the fields of every two of their selection sets; the pairs are counted first.
func TestFieldLimitRefusesSharedNames(t *testing.T) {
	g := startGateway(t, setup{})
	for _, tc := range sharedNames() {
		t.Run(tc.name, func(t *testing.T) {
			g.calls.reset()
			r := g.query(t, tc.doc)
			wantFieldPairLimit(t, g, r, defaultFieldPairs, tc.actual)
			if want := fmt.Sprintf("(a pair 1, a conflicting pair 50) %d exceeds the limit of 200000", tc.actual); !strings.Contains(r.Errors[0].Message, want) {
				t.Errorf("message %q does not say %q", r.Errors[0].Message, want)
			}
		})
	}
}

// A Relay-style query, whose fragments each select the id of the object they are spread on,
// compares a few hundred pairs; one selection set may repeat a field 632 times at the default.
func TestFieldLimitPassesRelayStyleFragments(t *testing.T) {
	g := startGateway(t, setup{})
	var spreads, defs strings.Builder
	for i := range 30 {
		fmt.Fprintf(&spreads, " ...f%d", i)
		fmt.Fprintf(&defs, " fragment f%d on User { id name }", i)
	}
	r := g.query(t, `{ getUser(id: "1") { id`+spreads.String()+" } }"+defs.String()).ok(t)
	r.wantRawData(t, `{"getUser":{"id":"1","name":"Ada Lovelace"}}`)

	g.query(t, `{ getUser(id: "1") {`+strings.Repeat(" id", 632)+" } }").ok(t)
	g.calls.reset()
	r = g.query(t, `{ getUser(id: "1") {`+strings.Repeat(" id", 633)+" } }")
	wantFieldPairLimit(t, g, r, defaultFieldPairs, 633*632/2)
}

// A fragment that spreads itself is validation's to refuse, however many pairs it would make.
func TestFieldLimitLeavesFragmentCyclesToValidation(t *testing.T) {
	g := startGateway(t, setup{})
	for _, doc := range []string{
		`{ getUser(id: "1") { ...a } } fragment a on User { ...b } fragment b on User { id ...a }`,
		`{ getUser(id: "1") { ...a ...a } } fragment a on User { o: orders { user { ...a } } o: orders { user { ...a } } }`,
	} {
		r := g.query(t, doc)
		if len(r.Errors) == 0 || r.Errors[0].code() != "GRAPHQL_VALIDATION_FAILED" || !strings.Contains(r.Errors[0].Message, "Cannot spread fragment") {
			t.Errorf("%s: %s, want the cycle refused by validation", doc, r.raw)
		}
	}
}

// The pairs are bounded in proportion to max_fields: raising it for large documents raises both.
func TestFieldLimitScalesFieldPairs(t *testing.T) {
	g := startGateway(t, setup{opts: resolvers.Options{MaxFields: 30}})
	g.query(t, `{ getUser(id: "1") {`+strings.Repeat(" id", 29)+" } }").ok(t) // 406 pairs of the same field
	g.calls.reset()
	// 12 fields aliased alike, 6 id and 6 name: 30 pairs alike and 36 conflicting, 1830 of 3000.
	r := g.query(t, `{ getUser(id: "1") {`+strings.Repeat(" a: id a: name", 6)+" } }")
	if len(r.Errors) == 0 || r.Errors[0].code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("12 fields aliased alike under the bound: %s, want validation's conflict errors", r.raw)
	}
	g.calls.reset()
	// 14: 42 alike and 49 conflicting, 2492; 16: 56 and 64, 3256.
	r = g.query(t, `{ getUser(id: "1") {`+strings.Repeat(" a: id a: name", 8)+" } }")
	wantFieldPairLimit(t, g, r, 30*resolvers.FieldPairsPerField, 56+64*resolvers.ConflictingPairCost)

	g = startGateway(t, setup{opts: resolvers.Options{MaxFields: -1}})
	g.query(t, `{ getUser(id: "1") {`+strings.Repeat(" id", 400)+" } }").ok(t)
}

const defaultFieldPairs = resolvers.DefaultMaxFields * resolvers.FieldPairsPerField

// wantFieldPairLimit checks that a request was refused for its pairs of fields sharing a response
// name, naming the limit.
func wantFieldPairLimit(t *testing.T, g *gateway, r response, max, actual int) {
	t.Helper()
	wantLimit(t, g, r, resolvers.CodeFieldLimit, "fieldPairs", max, actual)
}

// fragments is a document spreading n fragments in its selection set, each spreading one more,
// written tightly (names in base 36) to fit many in 64 KB.
func fragments(n int) string {
	var doc strings.Builder
	doc.WriteString("{")
	for i := range n {
		doc.WriteString("...f" + strconv.FormatInt(int64(i), 36))
	}
	doc.WriteString("}")
	for i := range n {
		doc.WriteString("fragment f" + strconv.FormatInt(int64(i), 36) + " on Query{...g}")
	}
	doc.WriteString("fragment g on Query{__typename}")
	return doc.String()
}

// Validation compares every two different fragments spread in one selection set: 1800 of them,
// in 64 KB and under every other limit, took seconds of CPU before any limit saw them. Fragment
// definitions are counted first.
func TestFragmentLimitRefusesManyFragments(t *testing.T) {
	g := startGateway(t, setup{})
	r := g.query(t, fragments(1800))
	wantLimit(t, g, r, resolvers.CodeFragmentLimit, "fragments", resolvers.DefaultMaxFragments, 1801)
	if !strings.Contains(r.Errors[0].Message, "number of fragments 1801 exceeds the limit of 500 (graphql.max_fragments)") {
		t.Errorf("message %q does not say the limit", r.Errors[0].Message)
	}

	g.calls.reset()
	wantRequestError(t, g, g.query(t, fragments(resolvers.DefaultMaxFragments-1)), resolvers.CodeRootFieldLimit) // validated
}

// Every definition counts, spread or not, and each once however often it is spread.
func TestFragmentLimitCountsDefinitions(t *testing.T) {
	g := startGateway(t, setup{opts: resolvers.Options{MaxFragments: 2}})
	g.query(t, `{ getUser(id: "1") { ...a ...b ...a ...b } } fragment a on User { id } fragment b on User { name }`).ok(t)
	g.calls.reset()
	r := g.query(t, `{ getUser(id: "1") { ...a ...b } } fragment a on User { id } fragment b on User { name } fragment c on User { email }`)
	wantLimit(t, g, r, resolvers.CodeFragmentLimit, "fragments", 2, 3)
}

// limitOnEveryPath checks that a limit holds wherever a document comes in: GET, Server-Sent
// Events, automatic persisted queries (registering one, and sending its hash), persisted
// operations, their REST routes and WebSockets. opts set the limit; big, a query named Big, and
// apq are over it, small within it; want checks a refusal, whose message says message.
func limitOnEveryPath(t *testing.T, opts resolvers.Options, big, apq, small, message string, want func(*testing.T, *gateway, response)) {
	t.Helper()
	opts.APQ = true
	opts.PersistedOperations = map[string]string{sha(big): big}
	opts.Routes = []resolvers.Route{{Path: "/v1/big", Operation: sha(big)}}
	g := startGateway(t, setup{opts: opts})

	want(t, g, do(t, mustRequest(t, http.MethodGet, g.url+"?query="+url.QueryEscape(big))))

	events, _ := g.sse(t, big)
	if ev := next(t, events); ev.name != "next" {
		t.Errorf("SSE: event %q, want next", ev.name)
	} else {
		ev.resp.Data = nil // gqlgen's SSE transport writes "data": null for a request error too
		want(t, g, ev.resp)
	}

	want(t, g, g.post(t, request{Query: apq, Extensions: persisted(sha(apq))}))
	want(t, g, g.post(t, request{Extensions: persisted(sha(apq))}))
	g.post(t, request{Query: small, Extensions: persisted(sha(small))}).ok(t)

	g.calls.reset()
	want(t, g, g.post(t, request{Extensions: persisted(sha(big))}))

	w := httptest.NewRecorder()
	if !g.handler.(*resolvers.Handler).ServeRoute(w, httptest.NewRequest(http.MethodGet, "/v1/big", nil)) {
		t.Fatal("the route is not served")
	}
	if b, _ := io.ReadAll(w.Result().Body); w.Code != http.StatusBadRequest || !strings.Contains(string(b), message) {
		t.Errorf("route: %d %s, want 400 saying %q", w.Code, b, message)
	}

	ws := dialWS(t, g, "graphql-transport-ws")
	ws.subscribe("1", big)
	var errs []gqlError
	if err := json.Unmarshal(ws.want("error", "1").Payload, &errs); err != nil || len(errs) != 1 || !strings.Contains(errs[0].Message, message) {
		t.Errorf("WebSocket: %v %+v, want one error saying %q", err, errs, message)
	}
	if n := len(g.calls.count()); n != 0 {
		t.Errorf("upstream calls were made: %v", g.calls.count())
	}
}

func TestFieldLimitOnEveryPath(t *testing.T) {
	limitOnEveryPath(t, resolvers.Options{MaxFields: 3},
		`query Big { getUser(id: "1") { id name email } }`, // 4 fields
		`{ getUser(id: "2") { id name email } }`,
		`query Small { getUser(id: "1") { name } }`,
		"4 exceeds the limit of 3",
		func(t *testing.T, g *gateway, r response) { t.Helper(); wantFieldLimit(t, g, r, 3, 4) })
}

func TestFragmentLimitOnEveryPath(t *testing.T) {
	limitOnEveryPath(t, resolvers.Options{MaxFragments: 1},
		`query Big { getUser(id: "1") { ...a ...b } } fragment a on User { id } fragment b on User { name }`,
		`{ getUser(id: "2") { ...a ...b } } fragment a on User { id } fragment b on User { name }`,
		`query Small { getUser(id: "1") { ...a } } fragment a on User { name }`,
		"number of fragments 2 exceeds the limit of 1",
		func(t *testing.T, g *gateway, r response) {
			t.Helper()
			wantLimit(t, g, r, resolvers.CodeFragmentLimit, "fragments", 1, 2)
		})
}

func mustRequest(t *testing.T, method, target string) *http.Request {
	t.Helper()
	hr, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return hr
}

// A document of many mistakes is answered with the first 100 errors and one saying the list was
// cut, as graphql-js answers; 100 are answered as they are.
func TestValidationErrorsLimited(t *testing.T) {
	g := startGateway(t, setup{})
	unknown := func(n int) string {
		var doc strings.Builder
		doc.WriteString("{")
		for i := range n {
			fmt.Fprintf(&doc, " f%d", i)
		}
		return doc.String() + " }"
	}
	r := g.query(t, unknown(100))
	if len(r.Errors) != 100 || !strings.Contains(r.Errors[99].Message, `"f99"`) {
		t.Errorf("100 unknown fields: %d errors, want 100", len(r.Errors))
	}

	r = g.query(t, unknown(1500))
	if len(r.Errors) != 101 || r.Data != nil {
		t.Fatalf("1500 unknown fields: %d errors and data %s, want 101 and no data", len(r.Errors), r.Data)
	}
	for i, e := range r.Errors[:100] {
		if !strings.Contains(e.Message, fmt.Sprintf(`"f%d"`, i)) || e.code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Fatalf("error %d: %+v", i, e)
		}
	}
	if last := r.Errors[100]; last.Message != "Too many validation errors, error limit reached. Validation aborted." || last.code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("last error: %+v", last)
	}

	ws := dialWS(t, g, "graphql-transport-ws")
	ws.subscribe("1", unknown(150))
	var errs []gqlError
	if err := json.Unmarshal(ws.want("error", "1").Payload, &errs); err != nil || len(errs) != 101 {
		t.Errorf("WebSocket: %v, %d errors, want 101", err, len(errs))
	}
}
