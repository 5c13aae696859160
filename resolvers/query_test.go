package resolvers_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/protogate/gateway/resolvers"
)

func TestQueryGetUser(t *testing.T) {
	g := startGateway(t, setup{})
	r := g.query(t, `{ getUser(id: "1") { id name email role } }`).ok(t)
	r.wantRawData(t, `{"getUser":{"id":"1","name":"Ada Lovelace","email":"ada@example.com","role":"ROLE_CUSTOMER"}}`)
	if n := g.calls.count()[mGetUser]; n != 1 {
		t.Errorf("GetUser called %d times, want 1", n)
	}
}

func TestQueryOnlySelectedFieldsInOrder(t *testing.T) {
	g := startGateway(t, setup{})
	// Fields come out in selection order, which is not the message's.
	r := g.query(t, `{ getUser(id: "2") { email __typename name } }`).ok(t)
	r.wantRawData(t, `{"getUser":{"email":"alan@example.com","__typename":"User","name":"Alan Turing"}}`)
}

func TestQueryAliasesAndFragments(t *testing.T) {
	g := startGateway(t, setup{})
	r := g.query(t, `
		query Two {
			ada: getUser(id: "1") { ...person }
			alan: getUser(id: "2") { ... on User { handle: name } address { city } }
			again: getUser(id: "1") { name }
			__typename
		}
		fragment person on User { name address { ...place } }
		fragment place on User_Address { city country }`).ok(t)
	r.wantRawData(t, `{
		"ada":{"name":"Ada Lovelace","address":{"city":"London","country":"GB"}},
		"alan":{"handle":"Alan Turing","address":{"city":"Bletchley"}},
		"again":{"name":"Ada Lovelace"},
		"__typename":"Query"}`)
	// The same call twice in one query is made once.
	if n := g.calls.count()[mGetUser]; n != 2 {
		t.Errorf("GetUser called %d times, want 2 (ada and again are one call)", n)
	}
}

func TestQueryVariablesAndDirectives(t *testing.T) {
	g := startGateway(t, setup{})
	doc := `query ($id: String!, $withMail: Boolean!, $skipName: Boolean = false) {
		getUser(id: $id) { name @skip(if: $skipName) email @include(if: $withMail) }
	}`
	g.query(t, doc, "id", "3", "withMail", true).ok(t).
		wantRawData(t, `{"getUser":{"name":"Grace Hopper","email":"grace@example.com"}}`)
	g.query(t, doc, "id", "3", "withMail", false, "skipName", true).ok(t).
		wantRawData(t, `{"getUser":{}}`)
}

func TestQueryOperationName(t *testing.T) {
	g := startGateway(t, setup{})
	r := g.post(t, request{
		Query:         `query A { getUser(id: "1") { name } } query B { getUser(id: "2") { name } }`,
		OperationName: "B",
	}).ok(t)
	r.wantRawData(t, `{"getUser":{"name":"Alan Turing"}}`)
}

func TestQueryNestedInputAndEnums(t *testing.T) {
	g := startGateway(t, setup{})
	r := g.query(t, `{ listUsers(pageSize: 3, filter: {role: ROLE_CUSTOMER, country: "gb"}) {
		users { id role address { country } } totalSize nextPageToken } }`).ok(t)
	users := r.value(t, "listUsers.users").([]any)
	if len(users) != 3 {
		t.Fatalf("users = %v, want 3", users)
	}
	for _, u := range users {
		u := u.(map[string]any)
		if u["role"] != "ROLE_CUSTOMER" || u["address"].(map[string]any)["country"] != "GB" {
			t.Errorf("user %v does not match the filter", u)
		}
	}
	if r.value(t, "listUsers.totalSize").(float64) < 4 || r.value(t, "listUsers.nextPageToken") == "" {
		t.Errorf("paging: %s", r.Data)
	}
}

func TestMutationCreateUser(t *testing.T) {
	g := startGateway(t, setup{})
	r := g.query(t, `mutation ($u: UserInput!) { createUser(user: $u) { id name email role nickname loyaltyPoints tags } }`,
		"u", map[string]any{"name": "Hedy Lamarr", "email": "hedy@example.com", "nickname": "Hedy", "loyaltyPoints": "9007199254740993", "tags": []string{"inventor"}}).ok(t)
	r.wantData(t, `{"createUser":{"id":"25","name":"Hedy Lamarr","email":"hedy@example.com","role":"ROLE_CUSTOMER",
		"nickname":"Hedy","loyaltyPoints":"9007199254740993","tags":["inventor"]}}`)
	g.query(t, `{ getUser(id: "25") { name } }`).ok(t).wantData(t, `{"getUser":{"name":"Hedy Lamarr"}}`)
}

func TestMutationsRunInOrder(t *testing.T) {
	g := startGateway(t, setup{})
	// The second mutation fails because the first took the email: they ran one after the other.
	r := g.query(t, `mutation {
		a: createUser(user: {name: "A", email: "same@example.com"}) { id }
		b: createUser(user: {name: "B", email: "same@example.com"}) { id }
	}`)
	r.wantData(t, `{"a":{"id":"25"},"b":null}`)
	if len(r.Errors) != 1 || r.Errors[0].code() != "ALREADY_EXISTS" {
		t.Errorf("errors = %s, want one ALREADY_EXISTS", r.raw)
	}
}

func TestGETTransport(t *testing.T) {
	g := startGateway(t, setup{})
	q := url.Values{"query": {`query ($id: String!) { getUser(id: $id) { name } }`}, "variables": {`{"id":"4"}`}}
	hr, _ := http.NewRequest(http.MethodGet, g.url+"?"+q.Encode(), nil)
	do(t, hr).ok(t).wantRawData(t, `{"getUser":{"name":"Marie Curie"}}`)

	// Mutations are not allowed over GET.
	q = url.Values{"query": {`mutation { createUser(user: {name: "X", email: "x@example.com"}) { id } }`}}
	hr, _ = http.NewRequest(http.MethodGet, g.url+"?"+q.Encode(), nil)
	if r := do(t, hr); r.status == http.StatusOK || len(r.Errors) == 0 {
		t.Errorf("mutation over GET: status %d %s", r.status, r.raw)
	}
	if n := g.calls.count()["/shop.users.v1.UserService/CreateUser"]; n != 0 {
		t.Errorf("CreateUser called %d times over GET", n)
	}
}

func TestForwardedHeaders(t *testing.T) {
	g := startGateway(t, setup{opts: resolvers.Options{ForwardHeaders: []string{"X-Tenant"}}})
	g.post(t, request{Query: `{ getUser(id: "1") { name } }`},
		"Authorization", "Bearer abc", "X-Request-Id", "req-7", "X-Tenant", "acme", "Cookie", "secret=1").ok(t)
	md := mdOf(g.calls.last(mGetUser))
	for k, want := range map[string]string{"authorization": "Bearer abc", "x-request-id": "req-7", "x-tenant": "acme"} {
		if got := md.Get(k); len(got) != 1 || got[0] != want {
			t.Errorf("metadata %s = %q, want %q", k, got, want)
		}
	}
	if got := md.Get("cookie"); len(got) != 0 {
		t.Errorf("cookie was forwarded: %q", got)
	}
}

// TestBrowserPage: with Options.Page a browser gets the query page, which loads nothing from
// elsewhere; not while introspection is off (the page shows the schema, then not served).
func TestBrowserPage(t *testing.T) {
	for _, tc := range []struct {
		opts resolvers.Options
		page bool
	}{
		{resolvers.Options{Page: true}, true},
		{resolvers.Options{Page: true, DisableIntrospection: true}, false},
		{resolvers.Options{}, false},
	} {
		g := startGateway(t, setup{opts: tc.opts})
		hr, _ := http.NewRequest(http.MethodGet, g.url, nil)
		hr.Header.Set("Accept", "text/html,application/xhtml+xml")
		res, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		ct := res.Header.Get("Content-Type")
		if got := strings.HasPrefix(ct, "text/html"); got != tc.page {
			t.Errorf("%+v: content type %q %.100s, want the page %v", tc.opts, ct, body, tc.page)
		}
		if tc.page && (strings.Contains(string(body), "://") || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'")) {
			t.Errorf("the page may load from elsewhere: CSP %q", res.Header.Get("Content-Security-Policy"))
		}
	}
}
