package resolvers_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/protogate/gateway/resolvers"
)

// wantFieldLimit checks that a request was refused for its number of fields, naming the limit.
func wantFieldLimit(t *testing.T, g *gateway, r response, max, actual int) {
	t.Helper()
	wantRequestError(t, g, r, resolvers.CodeFieldLimit)
	if x := r.Errors[0].Extensions; x["limit"] != "fields" || x["max"] != float64(max) || x["actual"] != float64(actual) {
		t.Errorf("extensions = %v, want limit fields, max %d, actual %d", x, max, actual)
	}
}

// Validation compares the fields sharing a response name pairwise, so a document repeating one
// field took a core for a minute before any limit saw it; the number of fields is counted first.
func TestFieldLimitRefusesRepeatedFields(t *testing.T) {
	g := startGateway(t, setup{})
	// 64 KB of one unknown field, under max_document_bytes.
	r := g.query(t, "{"+strings.Repeat(" x", 32000)+" }")
	wantFieldLimit(t, g, r, resolvers.DefaultMaxFields, 32000)
	if !strings.Contains(r.Errors[0].Message, "32000 exceeds the limit of 2000") {
		t.Errorf("message %q does not say the limit", r.Errors[0].Message)
	}
	// A valid document whose complexity was refused only after validating it.
	r = g.query(t, `{ getUser(id: "1") {`+strings.Repeat(" id", 16000)+" } }")
	wantFieldLimit(t, g, r, resolvers.DefaultMaxFields, 16001)
}

// Every field of the document counts once: those of every operation, and a fragment's however
// often it is spread.
func TestFieldLimitCountsTheDocument(t *testing.T) {
	g := startGateway(t, setup{opts: resolvers.Options{MaxFields: 5}})
	g.query(t, `{ getUser(id: "1") { id name email role } }`).ok(t)
	g.calls.reset()
	wantFieldLimit(t, g, g.query(t, `{ getUser(id: "1") { id name email role nick: name } }`), 5, 6)

	g.query(t, `{ getUser(id: "1") { ...f ...f ... on User { id } } } fragment f on User { name email }`).ok(t)
	g.calls.reset()
	wantFieldLimit(t, g, g.query(t, `{ getUser(id: "1") { ...f ...f } } fragment f on User { id name email role nick: name }`), 5, 6)

	g.calls.reset()
	r := g.post(t, request{Query: `query A { getUser(id: "1") { id name } } query B { getUser(id: "2") { id name } }`, OperationName: "A"})
	wantFieldLimit(t, g, r, 5, 6)
}

// The limit holds wherever a document comes in: GET, automatic persisted queries (registering one,
// and sending its hash), persisted operations, their REST routes and WebSockets.
func TestFieldLimitOnEveryPath(t *testing.T) {
	const big = `query Big { getUser(id: "1") { id name email } }` // 4 fields
	const small = `query Small { getUser(id: "1") { name } }`
	g := startGateway(t, setup{opts: resolvers.Options{
		MaxFields:           3,
		APQ:                 true,
		PersistedOperations: map[string]string{sha(big): big},
		Routes:              []resolvers.Route{{Path: "/v1/big", Operation: sha(big)}},
	}})

	r := do(t, mustRequest(t, http.MethodGet, g.url+"?query="+url.QueryEscape(big)))
	wantFieldLimit(t, g, r, 3, 4)

	apq := `{ getUser(id: "2") { id name email } }`
	wantFieldLimit(t, g, g.post(t, request{Query: apq, Extensions: persisted(sha(apq))}), 3, 4)
	wantFieldLimit(t, g, g.post(t, request{Extensions: persisted(sha(apq))}), 3, 4)
	g.post(t, request{Query: small, Extensions: persisted(sha(small))}).ok(t)

	g.calls.reset()
	wantFieldLimit(t, g, g.post(t, request{Extensions: persisted(sha(big))}), 3, 4)

	w := httptest.NewRecorder()
	if !g.handler.(*resolvers.Handler).ServeRoute(w, httptest.NewRequest(http.MethodGet, "/v1/big", nil)) {
		t.Fatal("the route is not served")
	}
	if b, _ := io.ReadAll(w.Result().Body); w.Code != http.StatusBadRequest || !strings.Contains(string(b), "number of fields 4 exceeds the limit of 3") {
		t.Errorf("route: %d %s, want 400 naming the limit", w.Code, b)
	}

	ws := dialWS(t, g, "graphql-transport-ws")
	ws.subscribe("1", big)
	var errs []gqlError
	if err := json.Unmarshal(ws.want("error", "1").Payload, &errs); err != nil || len(errs) != 1 || errs[0].code() != resolvers.CodeFieldLimit {
		t.Errorf("WebSocket: %v %+v, want one %s error", err, errs, resolvers.CodeFieldLimit)
	}
	if n := len(g.calls.count()); n != 0 {
		t.Errorf("upstream calls were made: %v", g.calls.count())
	}
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
	if len(r.Errors) != 101 || string(r.Data) != "null" && len(r.Data) > 0 {
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
