package resolvers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/resolvers"
)

// TestUnsupportedRequests: what no transport serves gets the status the GraphQL-over-HTTP
// specification names, and an error in the GraphQL shape with an extensions.code: another method
// 405 (Allow: GET, POST) and a mutation over GET 405 (Allow: POST), both UNIMPLEMENTED, and a POST
// body that is not JSON 415; a body that does not parse 400, its error not quoting it back; all
// without data.
func TestUnsupportedRequests(t *testing.T) {
	g := startGateway(t, setup{})
	const q = `{"query": "{ __typename }"}`
	for _, tc := range []struct {
		name, method, target, ct, body string
		status                         int
		allow                          string
		accept                         string
	}{
		{"put", http.MethodPut, g.url, "application/json", q, 405, "GET, POST", ""},
		{"delete", http.MethodDelete, g.url, "", "", 405, "GET, POST", ""},
		{"text body", http.MethodPost, g.url, "text/plain", q, 415, "", ""},
		{"graphql body", http.MethodPost, g.url, "application/graphql", "{ __typename }", 415, "", ""},
		{"no content type", http.MethodPost, g.url, "", q, 415, "", ""},
		{"utf-16", http.MethodPost, g.url, "application/json; charset=utf-16", q, 415, "", ""},
		{"malformed JSON", http.MethodPost, g.url, "application/json", `{"query": "{ __typename }" SECRET}`, 400, "", ""}, // not quoted back
		{"mutation over get", http.MethodGet, g.url + "?query=" + url.QueryEscape(`mutation { createUser(user: {name: "x", email: "x@example.com"}) { id } }`), "", "", 405, "POST", ""},
		{"subscription over get", http.MethodGet, g.url + "?query=" + url.QueryEscape(`subscription { watchInventory(id: "p1") { stock } }`), "", "", 405, "POST", ""},
		{"subscription over get asking for SSE", http.MethodGet, g.url + "?query=" + url.QueryEscape(`subscription { watchInventory(id: "p1") { stock } }`), "", "", 405, "POST", "text/event-stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var r struct {
				Errors []struct {
					Message    string
					Extensions struct{ Code string }
				}
				Data *json.RawMessage
			}
			if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow || json.Unmarshal(body, &r) != nil || len(r.Errors) != 1 {
				t.Fatalf("%d Allow %q %s; want %d Allow %q and one GraphQL error", resp.StatusCode, resp.Header.Get("Allow"), body, tc.status, tc.allow)
			}
			if r.Errors[0].Extensions.Code == "" {
				t.Errorf("%s: want an extensions.code", body)
			}
			if r.Data != nil || strings.Contains(string(body), `"data"`) {
				t.Errorf("%s: refused before anything runs, want no data", body)
			}
			if tc.status == http.StatusMethodNotAllowed && r.Errors[0].Extensions.Code != "UNIMPLEMENTED" {
				t.Errorf("%s: a method refused, want UNIMPLEMENTED", body)
			}
			if strings.Contains(string(body), "SECRET") {
				t.Errorf("the error quotes the request body: %s", body)
			}
		})
	}
	if n := g.calls.count(); len(n) != 0 {
		t.Errorf("upstream calls %v, want none", n)
	}
}

// Bodies of the wrong shape, and a document of several operations without a name, are refused in
// the client's terms, not Go's.
func TestRequestShapeMessages(t *testing.T) {
	g := startGateway(t, setup{})
	for _, tc := range []struct{ body, want string }{
		{`[{"query":"{ __typename }"}]`, "the body must be one JSON object (batched requests are not supported)"},
		{`{"query":"{ __typename }","variables":[1]}`, "variables must be a JSON object"},
		{`{"query":5}`, "query must be a string"},
		{`{"query":"query A { __typename } query B { __typename }"}`, "the document has several operations: name the one to run in operationName"},
	} {
		r := g.postBody(t, []byte(tc.body))
		if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, tc.want) || strings.Contains(string(r.raw), "Go value") {
			t.Errorf("%s: %s, want one error saying %q", tc.body, r.raw, tc.want)
		}
	}
}

// A GET whose variables or extensions are not a JSON object, whose query string does not parse, or
// gives a request parameter twice (the transport would run the first, a reader of the last would
// see another) is refused with 400 and an error with a code, as every request error is.
func TestGETParamsRefused(t *testing.T) {
	g := startGateway(t, setup{})
	q := "query=" + url.QueryEscape(`query($id: ID!) { getUser(id: $id) { name } }`)
	for _, tc := range []struct{ query, want string }{
		{q + "&variables=" + url.QueryEscape(`{"id":`), "variables must be a JSON object"},
		{q + "&variables=" + url.QueryEscape(`[1]`), "variables must be a JSON object"},
		{q + "&variables=" + url.QueryEscape(`{"id":"1"} trailing`), "variables must be a JSON object"},
		{q + "&extensions=" + url.QueryEscape(`"x"`), "extensions must be a JSON object"},
		{q + "&variables=%zz", "the query string does not parse"},
		{q + "&query=" + url.QueryEscape(`{ __typename }`), `the query string must give each parameter once: "query" is given 2 times`},
		{q + "&operationName=A&operationName=B&operationName=", `"operationName" is given 3 times`},
		{q + "&variables=" + url.QueryEscape(`{"id":"1"}`) + "&variables=" + url.QueryEscape(`{"id":"2"}`), `"variables" is given 2 times`},
		{q + "&extensions=%7B%7D&extensions=%7B%7D", `"extensions" is given 2 times`},
	} {
		resp, err := http.Get(g.url + "?" + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var r struct {
			Errors []struct {
				Message    string
				Extensions struct{ Code string }
			}
		}
		if resp.StatusCode != http.StatusBadRequest || json.Unmarshal(body, &r) != nil || len(r.Errors) != 1 ||
			!strings.Contains(r.Errors[0].Message, tc.want) || r.Errors[0].Extensions.Code != "INVALID_ARGUMENT" {
			t.Errorf("%s: %d %s, want 400 and one INVALID_ARGUMENT error saying %q", tc.query, resp.StatusCode, body, tc.want)
		}
	}
	// null variables, as gqlgen reads them, are no variables.
	resp, err := http.Get(g.url + "?query=" + url.QueryEscape(`{ __typename }`) + "&variables=null")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("variables=null: %d, want 200", resp.StatusCode)
	}
	if n := g.calls.count(); len(n) != 0 {
		t.Errorf("upstream calls %v, want none", n)
	}
}

// A POST body is one JSON value: data after it (`{...} garbage`, a second request object) is
// refused with 400 INVALID_ARGUMENT before anything runs, on the POST and the SSE transport alike,
// the data not quoted back; whitespace after it is fine, and a batch (an array) is refused as one
// before. A body over the limit that declared no length is refused with 413 DOCUMENT_TOO_LARGE.
func TestPOSTBodyIsOneJSONValue(t *testing.T) {
	g := startGateway(t, setup{opts: resolvers.Options{MaxDocumentBytes: 256}})
	const first = `{"query":"{ getUser(id: \"1\") { name } }"}`
	for _, tc := range []struct {
		name, body string
		sse        bool
	}{
		{"garbage", first + ` SECRET`, false},
		{"two objects", first + `{"query":"{ getUser(id: \"2\") { name } }"}`, false},
		{"two objects over SSE", first + "\n" + first, true},
		{"after whitespace", first + " \r\n\t SECRET", false},
		{"closing brace", first + `}`, false},
		{"after a batch", `[` + first + `] SECRET`, false},
		{"null", `null`, false},
		{"a string", `"SECRET"`, false},
		{"empty", " \n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := g.postRefused(t, tc.body, tc.sse); !strings.Contains(r.Errors[0].Message, "the body must be one JSON object") ||
				strings.Contains(string(r.raw), "SECRET") {
				t.Errorf("%s; want the error saying the body must be one JSON object, not quoting it", r.raw)
			}
		})
	}
	t.Run("whitespace after", func(t *testing.T) {
		g.postBody(t, []byte(first+" \r\n\t\n")).ok(t).wantData(t, `{"getUser":{"name":"Ada Lovelace"}}`)
	})
	t.Run("batch", func(t *testing.T) {
		r := g.postBody(t, []byte(`[`+first+`]`+"\n"))
		if r.status != http.StatusBadRequest || len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, "batched requests are not supported") {
			t.Errorf("%d %s; want the batch refused as before", r.status, r.raw)
		}
	})
	t.Run("chunked over the limit", func(t *testing.T) {
		body := `{"query":"{ getUser(id: \"1\") { name } }","variables":{"pad":"` + strings.Repeat("x", 2000) + `"}}`
		hr, err := http.NewRequest(http.MethodPost, g.url, io.MultiReader(strings.NewReader(body))) // no length: chunked
		if err != nil {
			t.Fatal(err)
		}
		hr.Header.Set("Content-Type", "application/json")
		r := do(t, hr)
		if r.status != http.StatusRequestEntityTooLarge || len(r.Errors) != 1 || r.Errors[0].code() != resolvers.CodeDocumentTooLarge {
			t.Fatalf("%d %s; want 413 DOCUMENT_TOO_LARGE", r.status, r.raw)
		}
		// Its size is not known: the read stopped at the limit.
		if x := r.Errors[0].Extensions; x["limit"] != "bodyBytes" || x["max"] == nil || x["actual"] != nil {
			t.Errorf("extensions = %v, want limit bodyBytes and max, no actual", x)
		}
	})
}

// A POST body giving a request parameter twice is refused with 400 INVALID_ARGUMENT naming it,
// before anything runs, on the POST and the SSE transport alike: gqlgen would run the last one,
// where an inspector reading the first would pass it. A key names a parameter whatever its case
// or escapes, as gqlgen's decoding matches it; keys gqlgen ignores may repeat.
func TestPOSTBodyRepeatedParams(t *testing.T) {
	g := startGateway(t, setup{})
	const benign, smuggled = `"{ __typename }"`, `"{ getUser(id: \"1\") { name } }"`
	for _, tc := range []struct {
		name, body, param string
		sse               bool
	}{
		{"query", `{"query":` + benign + `,"query":` + smuggled + `}`, "query", false},
		{"query over SSE", `{"query":` + benign + `,"query":` + smuggled + `}`, "query", true},
		{"query in capitals", `{"query":` + benign + `,"QUERY":` + smuggled + `}`, "query", false},
		{"query escaped", `{"query":` + benign + `,"\u0071uery":` + smuggled + `}`, "query", false},
		{"operationName", `{"query":"query A { __typename } query B { getUser(id: \"1\") { name } }","operationName":"A","operationName":"B"}`, "operationName", false},
		{"variables", `{"query":"query($id: String!) { getUser(id: $id) { name } }","variables":{"id":"0"},"variables":{"id":"1"}}`, "variables", false},
		{"extensions", `{"query":` + smuggled + `,"extensions":{},"extensions":{"persistedQuery":{"version":1}}}`, "extensions", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := `the body must be one JSON object with each key once: "` + tc.param + `" is given twice`
			if r := g.postRefused(t, tc.body, tc.sse); !strings.Contains(r.Errors[0].Message, want) {
				t.Errorf("%s; want the error saying %q", r.raw, want)
			}
		})
	}
	t.Run("other keys", func(t *testing.T) {
		g.postBody(t, []byte(`{"query":`+smuggled+`,"x":1,"x":2,"variables":{"a":1,"a":2}}`)).ok(t).
			wantData(t, `{"getUser":{"name":"Ada Lovelace"}}`)
	})
}

// postRefused posts body (asking for SSE when sse is set) and checks that it is refused before
// anything runs: 400 with one INVALID_ARGUMENT error, and no upstream call. It returns the response
// for the caller to check the error's message; a response that is not such a refusal fails the test
// at once.
func (g *gateway) postRefused(t *testing.T, body string, sse bool) response {
	t.Helper()
	g.calls.reset()
	var headers []string
	if sse {
		headers = []string{"Accept", "text/event-stream"}
	}
	r := g.postBody(t, []byte(body), headers...)
	if r.status != http.StatusBadRequest || len(r.Errors) != 1 || r.Errors[0].code() != "INVALID_ARGUMENT" {
		t.Fatalf("%d %s; want 400 and one INVALID_ARGUMENT error", r.status, r.raw)
	}
	if n := g.calls.count(); len(n) != 0 {
		t.Errorf("upstream calls %v, want none", n)
	}
	return r
}

// parseQueryFirst is a policy that parses a GET's query string before the front, as the firewall
// does (policy.Query), and then changes the string to one that does not parse: the front, reading
// the request's one parse, never sees it.
func parseQueryFirst(_ policy.Front, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := policy.Query(r); err == nil {
			r.URL.RawQuery = "variables=%zz"
		}
		next.ServeHTTP(w, r)
	})
}

// A GET's query string is parsed once for the request, and the answers are the same whether the
// front parses it or a policy did first: a query with variables, one operation of several named
// by operationName, an automatic persisted query by its hash, the response type the Accept header
// asks for, a mutation refused with 405, and a query string that does not parse, or whose
// variables are not an object, refused with the same precise 400.
func TestGETRequests(t *testing.T) {
	const user = `query ($id: String!) { getUser(id: $id) { name } }`
	const two = `query A { getUser(id: "1") { name } } query B { getUser(id: "2") { name } }`
	const apq = `{ getUser(id: "3") { name } }`
	hash := url.QueryEscape(`{"persistedQuery":{"version":1,"sha256Hash":"` + sha(apq) + `"}}`)
	for name, mw := range map[string]policy.Middleware{"front parses": nil, "policy parsed": parseQueryFirst} {
		t.Run(name, func(t *testing.T) {
			g := startGateway(t, setup{opts: resolvers.Options{APQ: true}, policy: mw})
			get := func(t *testing.T, query string, headers ...string) response {
				t.Helper()
				hr, _ := http.NewRequest(http.MethodGet, g.url+"?"+query, nil)
				for i := 0; i+1 < len(headers); i += 2 {
					hr.Header.Set(headers[i], headers[i+1])
				}
				return do(t, hr)
			}
			get(t, "query="+url.QueryEscape(user)+"&variables="+url.QueryEscape(`{"id":"4"}`)).ok(t).
				wantRawData(t, `{"getUser":{"name":"Marie Curie"}}`)
			get(t, "query="+url.QueryEscape(two)+"&operationName=B").ok(t).wantRawData(t, `{"getUser":{"name":"Alan Turing"}}`)

			if r := get(t, "extensions="+hash); len(r.Errors) != 1 || r.Errors[0].code() != "PERSISTED_QUERY_NOT_FOUND" {
				t.Errorf("unknown hash: %d %s", r.status, r.raw)
			}
			get(t, "query="+url.QueryEscape(apq)+"&extensions="+hash).ok(t)
			get(t, "extensions="+hash).ok(t).wantRawData(t, `{"getUser":{"name":"Grace Hopper"}}`)

			invalid := "query=" + url.QueryEscape(`{ nope }`)
			if r := get(t, invalid); r.status != http.StatusOK || len(r.Errors) != 1 || r.header.Get("Content-Type") != "application/json" {
				t.Errorf("invalid document, application/json: %d %s %s", r.status, r.header.Get("Content-Type"), r.raw)
			}
			r := get(t, invalid, "Accept", "application/graphql-response+json")
			if r.status != http.StatusBadRequest || len(r.Errors) != 1 || r.Data != nil || r.header.Get("Content-Type") != "application/graphql-response+json" {
				t.Errorf("invalid document, application/graphql-response+json: %d %s %s", r.status, r.header.Get("Content-Type"), r.raw)
			}
			r = get(t, "query="+url.QueryEscape(`mutation { createUser(user: {name: "X", email: "x@example.com"}) { id } }`))
			if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST" || len(r.Errors) != 1 || r.Data != nil ||
				r.Errors[0].Message != "GET requests only allow query operations: send the mutation with POST" || r.Errors[0].code() != "UNIMPLEMENTED" {
				t.Errorf("mutation: %d Allow %q %s", r.status, r.header.Get("Allow"), r.raw)
			}

			for query, want := range map[string]string{
				"query=" + url.QueryEscape(user) + "&variables=%zz":                       `the query string does not parse: invalid URL escape "%zz"`,
				"query=" + url.QueryEscape(user) + "&variables=" + url.QueryEscape(`[1]`): "variables must be a JSON object",
			} {
				r := get(t, query)
				if r.status != http.StatusBadRequest || len(r.Errors) != 1 || r.Errors[0].Message != want || r.Errors[0].code() != "INVALID_ARGUMENT" {
					t.Errorf("%s: %d %s, want 400 INVALID_ARGUMENT %q", query, r.status, r.raw, want)
				}
			}
		})
	}
}

// The response type follows Accept's q-values (RFC 9110), over POST and GET alike: each type takes
// the q-value of the most specific range that matches it, the higher wins, q=0 refuses a type, a
// tie goes to the range listed first, and a wildcard alone to application/json. A document that
// does not validate shows which it was: 200 as application/json, 400 as
// application/graphql-response+json.
func TestResponseTypeNegotiated(t *testing.T) {
	g := startGateway(t, setup{})
	const (
		asJSON    = "application/json"
		asGraphQL = "application/graphql-response+json"
	)
	for _, tc := range []struct {
		accept []string // header lines
		want   string
	}{
		{nil, asJSON},
		{[]string{asJSON}, asJSON},
		{[]string{asGraphQL}, asGraphQL},
		{[]string{"application/json;q=0, application/graphql-response+json"}, asGraphQL},
		{[]string{"application/graphql-response+json;q=0, application/json"}, asJSON},
		{[]string{"application/graphql-response+json;q=0.5, application/json"}, asJSON},
		{[]string{"application/json;q=0.5, application/graphql-response+json;q=0.9"}, asGraphQL},
		{[]string{"application/graphql-response+json, application/json;q=0.9"}, asGraphQL}, // as the specification's clients send
		{[]string{"application/json, application/graphql-response+json"}, asJSON},          // a tie: the first listed
		{[]string{"application/graphql-response+json, application/json"}, asGraphQL},
		{[]string{"*/*"}, asJSON},
		{[]string{"application/*"}, asJSON},
		{[]string{"*/*;q=0.5, application/graphql-response+json"}, asGraphQL},
		{[]string{"*/*, application/json;q=0"}, asGraphQL}, // its own range refuses JSON; the wildcard allows the other
		{[]string{"application/*;q=0.2, application/json;q=0.1"}, asGraphQL},
		{[]string{"APPLICATION/JSON ; q=0.3", "application/graphql-response+json;q=0.2"}, asJSON}, // two header lines
		{[]string{"application/graphql-response+json;q=0", "application/json"}, asJSON},
		{[]string{"text/html"}, asGraphQL},            // neither: the specification's default
		{[]string{"application/json;q=0"}, asGraphQL}, // likewise
	} {
		t.Run(strings.Join(tc.accept, " | "), func(t *testing.T) {
			wantStatus := http.StatusOK
			if tc.want == asGraphQL {
				wantStatus = http.StatusBadRequest
			}
			post, _ := http.NewRequest(http.MethodPost, g.url, strings.NewReader(`{"query":"{ nope }"}`))
			post.Header.Set("Content-Type", "application/json")
			get, _ := http.NewRequest(http.MethodGet, g.url+"?query="+url.QueryEscape("{ nope }"), nil)
			for _, hr := range []*http.Request{post, get} {
				for _, a := range tc.accept {
					hr.Header.Add("Accept", a)
				}
				r := do(t, hr)
				if ct := r.header.Get("Content-Type"); ct != tc.want || r.status != wantStatus || len(r.Errors) != 1 {
					t.Errorf("%s: %d %s %s, want %d %s and the validation error", hr.Method, r.status, ct, r.raw, wantStatus, tc.want)
				}
			}
		})
	}
	// A request that runs is answered in the negotiated type too.
	r := g.postBody(t, []byte(`{"query":"{ getUser(id: \"1\") { name } }"}`), "Accept", "application/json;q=0, application/graphql-response+json").ok(t)
	if ct := r.header.Get("Content-Type"); ct != asGraphQL {
		t.Errorf("Content-Type %s, want %s", ct, asGraphQL)
	}
}

// A request refused before its operation runs is answered with its errors and no "data" entry, as
// the GraphQL specification has it of an error raised before execution begins (section 7.1.2), in
// application/json and application/graphql-response+json alike, over POST and GET: a document that
// does not parse or validate, variables that cannot be coerced, an operation the document does not
// have, several without a name, a body of the wrong shape, a persisted operation that does not
// validate. An operation that ran keeps "data": null when a failure took the whole of it.
func TestRequestErrorsWithoutData(t *testing.T) {
	const broken = `query Broken { nope }`
	g := startGateway(t, setup{opts: resolvers.Options{PersistedOperations: map[string]string{sha(broken): broken}, DisableIntrospection: true}})
	for _, tc := range []struct {
		name, body string
		get        string // the same over GET, when it can be sent so
		code       string
		status     [2]int // as application/json, as application/graphql-response+json
	}{
		{"parse", `{"query":"{ nope"}`, "query=" + url.QueryEscape("{ nope"), "GRAPHQL_PARSE_FAILED", [2]int{200, 400}},
		{"validation", `{"query":"{ nope }"}`, "query=" + url.QueryEscape("{ nope }"), "GRAPHQL_VALIDATION_FAILED", [2]int{200, 400}},
		{"variables", `{"query":"query ($n: Int) { listUsers(pageSize: $n) { users { id } } }","variables":{"n":"5"}}`,
			"query=" + url.QueryEscape("query ($n: Int) { listUsers(pageSize: $n) { users { id } } }") + "&variables=" + url.QueryEscape(`{"n":"5"}`),
			"GRAPHQL_VALIDATION_FAILED", [2]int{200, 400}},
		{"operation not found", `{"query":"query A { __typename }","operationName":"C"}`, "query=" + url.QueryEscape("query A { __typename }") + "&operationName=C",
			"GRAPHQL_VALIDATION_FAILED", [2]int{200, 400}},
		{"several operations", `{"query":"query A { __typename } query B { __typename }"}`, "", "GRAPHQL_VALIDATION_FAILED", [2]int{200, 400}},
		{"body of the wrong shape", `{"query":5}`, "", "INVALID_ARGUMENT", [2]int{400, 400}},
		{"persisted operation that does not validate", `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + sha(broken) + `"}}}`,
			"extensions=" + url.QueryEscape(`{"persistedQuery":{"version":1,"sha256Hash":"`+sha(broken)+`"}}`), "INTERNAL", [2]int{200, 200}},
	} {
		for i, accept := range []string{"application/json", "application/graphql-response+json"} {
			t.Run(tc.name+" as "+accept, func(t *testing.T) {
				post, err := http.NewRequest(http.MethodPost, g.url, strings.NewReader(tc.body))
				if err != nil {
					t.Fatal(err)
				}
				post.Header.Set("Content-Type", "application/json")
				requests := []*http.Request{post}
				if tc.get != "" {
					requests = append(requests, mustRequest(t, http.MethodGet, g.url+"?"+tc.get))
				}
				for _, hr := range requests {
					hr.Header.Set("Accept", accept)
					r := do(t, hr)
					if r.status != tc.status[i] || len(r.Errors) == 0 || r.Errors[0].code() != tc.code || bytes.Contains(r.raw, []byte(`"data"`)) {
						t.Errorf("%s: %d %s, want %d with %s errors and no data", hr.Method, r.status, r.raw, tc.status[i], tc.code)
					}
				}
			})
		}
	}
	if n := g.calls.count(); len(n) != 0 {
		t.Errorf("upstream calls %v, want none", n)
	}
	// __schema is non-null: refused while the operation runs, it takes the data with it.
	for _, accept := range []string{"application/json", "application/graphql-response+json"} {
		r := g.postBody(t, []byte(`{"query":"{ __schema { queryType { name } } }"}`), "Accept", accept)
		if r.status != http.StatusOK || len(r.Errors) != 1 || r.Errors[0].code() != resolvers.CodeIntrospectionDisabled || string(r.Data) != "null" {
			t.Errorf("%s: %d %s, want 200 with the error and data null", accept, r.status, r.raw)
		}
	}
}

// Over Server-Sent Events, a request refused before its operation runs is one "next" event with its
// errors and no "data" entry, then "complete", as over POST: a document that does not parse or
// validate, variables that cannot be coerced, an operation the document does not have, several
// without a name, a persisted operation that does not validate. A body of the wrong shape is 400,
// in JSON, not quoted back. An operation that ran keeps "data", null when a failure took the whole
// of it; the stream is gqlgen's otherwise: an opening comment, "next", "complete".
func TestSSERequestErrorsWithoutData(t *testing.T) {
	const broken = `query Broken { nope }`
	g := startGateway(t, setup{opts: resolvers.Options{PersistedOperations: map[string]string{sha(broken): broken}, DisableIntrospection: true}})
	for _, tc := range []struct{ name, body, code string }{
		{"parse", `{"query":"{ nope"}`, "GRAPHQL_PARSE_FAILED"},
		{"validation", `{"query":"{ nosuch }"}`, "GRAPHQL_VALIDATION_FAILED"},
		{"variables", `{"query":"query ($n: Int) { listUsers(pageSize: $n) { users { id } } }","variables":{"n":"5"}}`, "GRAPHQL_VALIDATION_FAILED"},
		{"operation not found", `{"query":"query A { __typename }","operationName":"C"}`, "GRAPHQL_VALIDATION_FAILED"},
		{"several operations", `{"query":"query A { __typename } query B { __typename }"}`, "GRAPHQL_VALIDATION_FAILED"},
		{"persisted operation that does not validate", `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + sha(broken) + `"}}}`, "INTERNAL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, raw := g.postSSE(t, tc.body)
			if r.status != http.StatusOK || len(r.Errors) == 0 || r.Errors[0].code() != tc.code || strings.Contains(raw, `"data"`) {
				t.Errorf("%d %q, want 200 with %s errors and no data", r.status, raw, tc.code)
			}
		})
	}
	t.Run("body of the wrong shape", func(t *testing.T) {
		r := g.postBody(t, []byte(`{"query":5,"variables":{"secret":"SECRET"}}`), "Accept", "text/event-stream")
		if r.status != http.StatusBadRequest || len(r.Errors) != 1 || r.Errors[0].code() != "INVALID_ARGUMENT" ||
			r.Errors[0].Message != "json request body could not be decoded: query must be a string" || bytes.Contains(r.raw, []byte(`"data"`)) {
			t.Errorf("%d %s, want 400 INVALID_ARGUMENT, the body not quoted back, and no data", r.status, r.raw)
		}
	})
	if n := g.calls.count(); len(n) != 0 {
		t.Errorf("upstream calls %v, want none", n)
	}
	r, raw := g.postSSE(t, `{"query":"{ __schema { queryType { name } } }"}`)
	if len(r.Errors) != 1 || r.Errors[0].code() != resolvers.CodeIntrospectionDisabled || string(r.Data) != "null" {
		t.Errorf("__schema: %q, want the error and data null", raw)
	}
	r, raw = g.postSSE(t, `{"query":"{ getUser(id: \"1\") { name } }"}`)
	r.ok(t).wantRawData(t, `{"getUser":{"name":"Ada Lovelace"}}`)
	if want := `:` + "\n\n" + `event: next` + "\n" + `data: {"data":{"getUser":{"name":"Ada Lovelace"}}}` + "\n\n" + `event: complete` + "\n\n"; raw != want {
		t.Errorf("stream %q, want %q", raw, want)
	}
}

// postSSE posts body asking for Server-Sent Events, and reads the stream to its end: for an
// operation that is not a subscription, an opening comment, one "next" event, whose response it
// returns, and "complete". A stream of another shape fails the test.
func (g *gateway) postSSE(t *testing.T, body string) (response, string) {
	t.Helper()
	hr, err := http.NewRequest(http.MethodPost, g.url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	raw := string(b)
	data, ok := strings.CutPrefix(raw, ":\n\nevent: next\ndata: ")
	if ok {
		data, ok = strings.CutSuffix(data, "\n\nevent: complete\n\n")
	}
	var r response
	if ct := res.Header.Get("Content-Type"); !ok || ct != "text/event-stream" || json.Unmarshal([]byte(data), &r) != nil {
		t.Fatalf("%d %s %q, want one next event and complete", res.StatusCode, ct, raw)
	}
	r.status, r.header, r.raw = res.StatusCode, res.Header, []byte(data)
	return r, raw
}

// A POST is answered over Server-Sent Events when Accept prefers them by its q-values (RFC 9110),
// as the REST front chooses SSE: text/event-stream named with a q-value above 0 and no lower than
// either JSON type's, the q-value of the most specific range matching it; a tie goes to the event
// stream. Otherwise the answer is JSON, in the type Accept negotiates, and a subscription is
// refused as over any transport that does not stream.
func TestSSENegotiated(t *testing.T) {
	g := startGateway(t, setup{})
	const query = `{"query":"{ getUser(id: \"1\") { name } }"}`
	for _, tc := range []struct {
		accept []string // header lines
		want   string   // the response's Content-Type
	}{
		{[]string{"text/event-stream"}, "text/event-stream"},
		{[]string{"TEXT/Event-Stream"}, "text/event-stream"},
		{[]string{"text/event-stream;q=0, application/json"}, "application/json"},
		{[]string{"text/event-stream;q=0"}, "application/graphql-response+json"}, // neither JSON type: the specification's default
		{[]string{"application/json, text/event-stream;q=0.5"}, "application/json"},
		{[]string{"text/event-stream;q=0.5, */*"}, "application/json"},
		{[]string{"text/event-stream;q=0.5, application/graphql-response+json;q=0.6"}, "application/graphql-response+json"},
		{[]string{"application/json;q=0.9", "text/event-stream;q=0.8"}, "application/json"}, // two header lines
		{[]string{"application/json, text/event-stream"}, "text/event-stream"},              // a tie: the event stream
		{[]string{"text/event-stream, application/json;q=0.9"}, "text/event-stream"},
		{[]string{"text/event-stream;q=0.5, application/json;q=0"}, "text/event-stream"},
		{[]string{"*/*"}, "application/json"},
		{[]string{"text/*"}, "application/graphql-response+json"}, // not named: no event stream
	} {
		t.Run(strings.Join(tc.accept, " | "), func(t *testing.T) {
			hr, _ := http.NewRequest(http.MethodPost, g.url, strings.NewReader(query))
			hr.Header.Set("Content-Type", "application/json")
			for _, a := range tc.accept {
				hr.Header.Add("Accept", a)
			}
			res, err := http.DefaultClient.Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			want := `{"data":{"getUser":{"name":"Ada Lovelace"}}}`
			if tc.want == "text/event-stream" {
				want = ":\n\nevent: next\ndata: " + want + "\n\nevent: complete\n\n"
			}
			if ct := res.Header.Get("Content-Type"); res.StatusCode != http.StatusOK || ct != tc.want || string(raw) != want {
				t.Errorf("%d %s %q, want %s %q", res.StatusCode, ct, raw, tc.want, want)
			}
		})
	}
	hr, _ := http.NewRequest(http.MethodPost, g.url, strings.NewReader(`{"query":"subscription { watchInventory(id: \"p1\") { stock } }"}`))
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "text/event-stream;q=0, application/json")
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	var r response
	if ct := res.Header.Get("Content-Type"); ct != "application/json" || json.NewDecoder(res.Body).Decode(&r) != nil ||
		len(r.Errors) != 1 || r.Errors[0].code() != "INVALID_ARGUMENT" || !strings.Contains(r.Errors[0].Message, "a subscription needs a streaming transport") {
		t.Errorf("subscription refusing SSE: %d %s %+v, want the subscription refused in JSON", res.StatusCode, ct, r)
	}
	res.Body.Close() // not read to its end: a stream would not end
	if n := g.calls.count()[mWatchInventory]; n != 0 {
		t.Errorf("%d WatchInventory calls, want none", n)
	}
}
