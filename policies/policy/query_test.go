package policy_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/protogate/gateway/policies/policy"
)

// A query string is parsed once per request: later calls, on the request or on one derived from
// it, get the same values. One that does not parse gives its error to every caller, with the
// values that parse, and r.Form as r.ParseForm fills it is not taken for a parse of Query's.
func TestQuery(t *testing.T) {
	r := httptest.NewRequest("GET", "/graphql?query=%7B+a+%7D&variables=%7B%7D&query=second", nil)
	q, err := policy.Query(r)
	if err != nil || q.Get("query") != "{ a }" || q.Get("variables") != "{}" || len(q["query"]) != 2 {
		t.Fatalf("Query = %v, %v", q, err)
	}
	r.URL.RawQuery = "query=changed" // a second parse would see this
	derived := r.WithContext(t.Context())
	for name, req := range map[string]*http.Request{"the request": r, "a derived request": derived} {
		again, err := policy.Query(req)
		if err != nil || reflect.ValueOf(again).Pointer() != reflect.ValueOf(q).Pointer() {
			t.Errorf("%s: Query parsed again: %v, %v", name, again, err)
		}
	}

	bad := httptest.NewRequest("GET", "/graphql?query=a&variables=%zz&x=1", nil)
	for range 2 {
		q, err := policy.Query(bad)
		if err == nil || err.Error() != `invalid URL escape "%zz"` || q.Get("query") != "a" || q.Get("x") != "1" || q.Has("variables") {
			t.Errorf("Query of a malformed query string = %v, %v", q, err)
		}
	}
	if bad.Form != nil {
		t.Errorf("a malformed query string was kept: %v", bad.Form)
	}

	parsed := httptest.NewRequest("GET", "/graphql?query=a", nil)
	_ = parsed.ParseForm()
	parsed.Form.Set("query", "b") // as a form body's value would be
	if q, err := policy.Query(parsed); err != nil || q.Get("query") != "a" {
		t.Errorf("Query after ParseForm = %v, %v, want the query string's own", q, err)
	}
}
