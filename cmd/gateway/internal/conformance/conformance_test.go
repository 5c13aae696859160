package conformance_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
)

// testCase is one request of the corpus.
type testCase struct {
	name   string
	env    env // the backends' state; envUp when zero
	method string
	path   string   // with the query
	header []string // "Name: value"; a body is sent as application/json unless one says otherwise
	body   string
	// diff is the key in differences of how the answers may differ; "" when they must agree.
	diff string
	// field is the field a BadRequest detail of the gateway's own 400 must name (diffUnknownField,
	// diffOwnMessage); "" for the whole body.
	field string
	// resp is the response message type, for diffProtobuf.
	resp proto.Message
}

// minCorpus is the least number of cases the corpus must hold.
const minCorpus = 60

// corpus runs in order: the stateful cases (creates, updates, cancels) change each front's own
// copy of the shop the same way, and later cases read the result.
var corpus = []testCase{
	// Path variables, and their decoding.
	{name: "path var", method: "GET", path: "/v1/users/1"},
	{name: "path var int64 beyond 2^53, oneof, Struct", method: "GET", path: "/v1/users/5"},
	{name: "path var int64 max, map, wrapper", method: "GET", path: "/v1/users/12"},
	{name: "path var no avatar phone contact", method: "GET", path: "/v1/users/24"},
	{name: "path var percent-encoded", method: "GET", path: "/v1/users/%31"},
	{name: "path var with a space", method: "GET", path: "/v1/users/a%20b"},
	{name: "path var with a colon", method: "GET", path: "/v1/users/1:x"},
	{name: "path var uint64 beyond 2^53, double, float, Timestamp", method: "GET", path: "/v1/products/p4"},
	{name: "path var bytes, DoubleValue", method: "GET", path: "/v1/products/p12"},
	{name: "path var order Duration oneof card", method: "GET", path: "/v1/orders/o2"},
	{name: "path var order voucher gift message", method: "GET", path: "/v1/orders/o6"},
	{name: "path var in the middle", method: "GET", path: "/v1/users/1/orders"},
	{name: "path var non-ASCII", method: "GET", path: "/v1/users/%C3%A9"},
	{name: "path var encoded slash", method: "GET", path: "/v1/users/a%2Fb", diff: diffEncodedSlash, field: "path"},
	{name: "path var empty", method: "GET", path: "/v1/users/", diff: diffEmptySegment},
	{name: "path trailing slash", method: "GET", path: "/v1/users/1/", diff: diffOwnMessage},

	// Query parameters: scalars, nested, repeated, enums by name and number, camelCase names,
	// well-known types, parameters that name no field or a bound one.
	{name: "query scalar", method: "GET", path: "/v1/users?page_size=2"},
	{name: "query camelCase name", method: "GET", path: "/v1/users?pageSize=2"},
	{name: "query nested enum by name", method: "GET", path: "/v1/users?filter.role=ROLE_ADMIN"},
	{name: "query nested enum by number", method: "GET", path: "/v1/users?filter.role=2"},
	{name: "query nested two fields", method: "GET", path: "/v1/users?filter.role=ROLE_CUSTOMER&filter.country=gb&page_size=3"},
	{name: "query nested camelCase", method: "GET", path: "/v1/users?filter.country=DE&pageSize=1"},
	{name: "query escaped value", method: "GET", path: "/v1/users?filter.country=%47%42&page_size=1"},
	{name: "query enum by name", method: "GET", path: "/v1/users/1/orders?status=ORDER_STATUS_PAID"},
	{name: "query enum by number", method: "GET", path: "/v1/users/3/orders?status=3"},
	{name: "query enum top level", method: "GET", path: "/v1/products?category=CATEGORY_BOOKS&page_size=2"},
	{name: "query enum top level by number", method: "GET", path: "/v1/products?category=2"},
	{name: "query repeated", method: "GET", path: "/v1/users:batchGet?ids=1&ids=5&ids=99&ids=12"},
	{name: "query repeated one", method: "GET", path: "/v1/products:batchGet?ids=p3"},
	{name: "query repeated none", method: "GET", path: "/v1/products:batchGet"},
	{name: "query FieldMask", method: "GET", path: "/v1/products/p1?read_mask=name,price"},
	{name: "query FieldMask nested path", method: "GET", path: "/v1/products/p2?read_mask=dimensions.width_cm,tags"},
	{name: "query names no field", method: "GET", path: "/v1/users/2?utm_source=mail&_=1"},
	{name: "query names a path-bound field", method: "GET", path: "/v1/users/2?id=3"},
	{name: "query empty value", method: "GET", path: "/v1/users?filter.country=&page_token="},
	{name: "query empty number", method: "GET", path: "/v1/users?page_size=", diff: diffOwnMessage, field: "page_size"},
	{name: "query singular field twice", method: "GET", path: "/v1/users?page_size=1&page_size=2", diff: diffOwnMessage, field: "page_size"},
	{name: "query singular field twice, zero first", method: "GET", path: "/v1/users?page_size=0&page_size=2", diff: diffOwnMessage, field: "page_size"},
	{name: "query nested enum twice, zero first", method: "GET", path: "/v1/users?filter.role=ROLE_UNSPECIFIED&filter.role=2", diff: diffOwnMessage, field: "filter.role"},
	{name: "query path-bound field twice", method: "GET", path: "/v1/users/2?id=3&id=4"},
	{name: "query FieldMask camelCase", method: "GET", path: "/v1/products/p1?read_mask=updatedAt,name", diff: diffFieldMaskJSON},
	{name: "query repeated with a comma", method: "GET", path: "/v1/users:batchGet?ids=1,2&ids=3"},
	{name: "query escaped plus", method: "GET", path: "/v1/users?page_size=%2B2"},
	{name: "query hex number", method: "GET", path: "/v1/users?page_size=0x10", diff: diffOwnMessage, field: "page_size"},
	{name: "query enum number not in the enum", method: "GET", path: "/v1/users?filter.role=99", diff: diffEnumNumber},
	{name: "body enum number not in the enum", method: "POST", path: "/v1/users", body: `{"name": "Role Less", "email": "ada@example.com", "role": 99}`},
	{name: "query value for a message", method: "GET", path: "/v1/users?filter=x", diff: diffOwnMessage, field: "filter"},
	{name: "query map syntax on a message", method: "GET", path: "/v1/users?filter[role]=1", diff: diffOwnMessage, field: "filter[role]"},
	{name: "query page token", method: "GET", path: "/v1/products?page_size=2&page_token=bm9wZQ"},

	// Bodies: "*" and one field, proto and JSON names, well-known types.
	{name: "body field create", method: "POST", path: "/v1/users", body: `{"name": "Hedy Lamarr", "email": "hedy@example.com", "role": "ROLE_SUPPORT",
		"address": {"city": "Vienna", "country": "AT"}, "tags": ["inventor"], "labels": {"team": "radio"}, "nickname": "Hedy",
		"preferences": {"theme": "dark", "font_scale": 1.5, "beta": [true, null, {"x": 1}]}, "loyaltyPoints": "9007199254740993",
		"avatar": "iVBORw0KGgo=", "chatHandle": "@hedy", "createdAt": "2001-02-03T04:05:06Z"}`},
	{name: "body field proto names enum number", method: "POST", path: "/v1/users", body: `{"name": "Mary Somerville", "email": "mary@example.com",
		"role": 1, "loyalty_points": 42, "chat_handle": "@mary"}`},
	{name: "body field read back", method: "GET", path: "/v1/users/25"},
	{name: "body field upstream ALREADY_EXISTS", method: "POST", path: "/v1/users", body: `{"name": "Ada Again", "email": "ada@example.com"}`},
	{name: "body field upstream INVALID_ARGUMENT details", method: "POST", path: "/v1/users", body: `{"name": " ", "email": "not-an-address"}`},
	{name: "body field empty", method: "POST", path: "/v1/users"},
	{name: "body star create", method: "POST", path: "/v1/orders", body: `{"userId": "1", "items": [{"productId": "p1", "quantity": 2}, {"product_id": "p12", "quantity": 1}],
		"card": {"brand": "visa", "last4": "4242", "expMonth": 12, "expYear": 2030}, "giftMessage": "", "notes": {"door": "blue"}}`},
	{name: "body star create voucher", method: "POST", path: "/v1/orders", body: `{"user_id": "2", "items": [{"productId": "p3", "quantity": 1}], "voucher_code": "SPRING"}`},
	{name: "body star read back", method: "GET", path: "/v1/orders/o85"},
	{name: "body star upstream INVALID_ARGUMENT details", method: "POST", path: "/v1/orders", body: `{"userId": "1", "items": [{"productId": "p99", "quantity": 0}]}`},
	{name: "body star query ignored", method: "POST", path: "/v1/orders?user_id=9", body: `{"items": [{"productId": "p1", "quantity": 1}]}`},
	{name: "body star with path var", method: "POST", path: "/v1/orders/o1:cancel", body: `{"reason": "changed my mind"}`},
	{name: "body star path wins over body", method: "POST", path: "/v1/orders/o4:cancel", body: `{"id": "o2", "reason": "path wins"}`},
	{name: "body star upstream FAILED_PRECONDITION details", method: "POST", path: "/v1/orders/o3:cancel", body: `{}`},
	{name: "body star upstream NOT_FOUND", method: "POST", path: "/v1/orders/o999:cancel", body: `{"reason": "x"}`},
	{name: "body star charset", method: "POST", path: "/v1/orders/o1:cancel", header: []string{"Content-Type: application/json; charset=utf-8"}, body: `{"reason": "again"}`},
	{name: "body star no content type", method: "POST", path: "/v1/orders/o1:cancel", header: []string{"Content-Type: "}, body: `{"reason": "x"}`},
	{name: "body star JSON null", method: "POST", path: "/v1/orders/o1:cancel", body: `null`, diff: diffOwnMessage},
	{name: "body star trailing data", method: "POST", path: "/v1/orders/o1:cancel", body: `{"reason": "x"} {"reason": "y"}`, diff: diffTrailingData},
	{name: "body star duplicate field", method: "POST", path: "/v1/orders/o1:cancel", body: `{"reason": "x", "reason": "y"}`, diff: diffOwnMessage, field: "reason"},
	{name: "body star +json media type", method: "POST", path: "/v1/orders/o1:cancel", header: []string{"Content-Type: application/merge-patch+json"}, body: `{}`},

	// PATCH: update_mask from the body's keys, or from the query; the path's user.id wins.
	{name: "patch mask from body wrapper", method: "PATCH", path: "/v1/users/1", body: `{"nickname": "Countess"}`},
	{name: "patch mask from body nested", method: "PATCH", path: "/v1/users/3", body: `{"address": {"city": "Washington"}, "tags": ["admiral"]}`},
	{name: "patch mask from body Struct and map", method: "PATCH", path: "/v1/users/4", body: `{"preferences": {"theme": "light", "n": [1, 2]}, "labels": {"k": "v"}}`},
	{name: "patch mask from body null wrapper", method: "PATCH", path: "/v1/users/2", body: `{"nickname": null}`},
	{name: "patch mask from query", method: "PATCH", path: "/v1/users/6?update_mask=tags", body: `{"tags": ["apple"], "name": "not applied"}`},
	{name: "patch mask from query two paths", method: "PATCH", path: "/v1/users/7?update_mask=loyalty_points,address.city", body: `{"loyaltyPoints": "7", "address": {"city": "Cambridge"}}`},
	{name: "patch empty body", method: "PATCH", path: "/v1/users/9?update_mask=nickname"},
	{name: "patch query cannot set the body field", method: "PATCH", path: "/v1/users/11?user.name=Q&update_mask=name", body: `{"name": "Emmy"}`},
	{name: "patch path wins", method: "PATCH", path: "/v1/users/8", body: `{"id": "9", "name": "Nikola T."}`},
	{name: "patch Timestamp in body", method: "PATCH", path: "/v1/users/10", body: `{"createdAt": "1999-12-31T23:59:59.5Z", "email": "dick@example.com"}`},
	{name: "patch upstream NOT_FOUND details", method: "PATCH", path: "/v1/users/99", body: `{"name": "Nobody"}`},
	{name: "patch read back", method: "GET", path: "/v1/users:batchGet?ids=1&ids=2&ids=3&ids=4&ids=6&ids=7&ids=8&ids=10"},

	// Metadata both ways, deadlines.
	{name: "metadata echoed", method: "GET", path: "/v1/users/2", header: []string{"Grpc-Metadata-X-Request-Id: conformance-1"}, diff: diffMetadataHeaders},
	{name: "plain header not forwarded", method: "GET", path: "/v1/users/2", header: []string{"X-Request-Id: conformance-2"}},
	{name: "grpc-timeout generous", method: "GET", path: "/v1/users/2", header: []string{"Grpc-Timeout: 10S"}},
	{name: "grpc-timeout expired DEADLINE_EXCEEDED", method: "GET", path: "/v1/users/2", header: []string{"Grpc-Timeout: 1n"}},
	{name: "grpc-timeout slow upstream DEADLINE_EXCEEDED", env: envSlow, method: "GET", path: "/v1/users/2", header: []string{"Grpc-Timeout: 20m"}, diff: diffTransport},
	{name: "upstream down UNAVAILABLE", env: envDown, method: "GET", path: "/v1/users/2", diff: diffTransport},
	{name: "upstream down UNAVAILABLE with body", env: envDown, method: "POST", path: "/v1/orders", body: `{"userId": "1"}`, diff: diffTransport},

	// Upstream errors pass through with their details.
	{name: "upstream NOT_FOUND details", method: "GET", path: "/v1/users/99"},
	{name: "upstream NOT_FOUND order", method: "GET", path: "/v1/orders/o0"},
	{name: "upstream INVALID_ARGUMENT details", method: "GET", path: "/v1/users?page_size=-1"},
	{name: "upstream INVALID_ARGUMENT page token", method: "GET", path: "/v1/users/1/orders?page_token=garbage"},
	{name: "upstream INVALID_ARGUMENT read mask", method: "GET", path: "/v1/products/p1?read_mask=nope"},

	// The gateway's own errors.
	{name: "no route", method: "GET", path: "/v1/nope", diff: diffOwnMessage},
	{name: "no route root", method: "GET", path: "/", diff: diffOwnMessage},
	{name: "no route unknown verb", method: "GET", path: "/v1/users:nope", diff: diffOwnMessage},
	{name: "no route extra segment", method: "GET", path: "/v1/users/1/orders/o1", diff: diffOwnMessage},
	{name: "wrong method on a path var route", method: "DELETE", path: "/v1/users/1", diff: diffMethodNotAllowed},
	{name: "wrong method on a collection", method: "PUT", path: "/v1/orders", diff: diffMethodNotAllowed},
	{name: "wrong method on a custom verb", method: "GET", path: "/v1/orders:import", diff: diffMethodNotAllowed},
	{name: "wrong method, two allowed", method: "POST", path: "/v1/users/1", diff: diffMethodNotAllowed},
	{name: "custom verb of another method is a path value", method: "GET", path: "/v1/orders/o1:cancel"},
	{name: "bad JSON body field", method: "POST", path: "/v1/users", body: `{"name": `, diff: diffOwnMessage, field: "user"},
	{name: "bad JSON body star", method: "POST", path: "/v1/orders", body: `{"userId": "1",}`, diff: diffOwnMessage},
	{name: "wrong JSON type in body", method: "POST", path: "/v1/orders", body: `{"userId": 1}`, diff: diffOwnMessage, field: "userId"},
	{name: "two oneof members in body", method: "POST", path: "/v1/orders", body: `{"userId": "1", "card": {}, "voucherCode": "X"}`, diff: diffOwnMessage, field: "voucherCode"},
	{name: "body is an array", method: "PATCH", path: "/v1/users/1", body: `[]`, diff: diffOwnMessage, field: "user"},
	{name: "wrong type in query", method: "GET", path: "/v1/users?page_size=abc", diff: diffOwnMessage, field: "page_size"},
	{name: "int32 overflow in query", method: "GET", path: "/v1/products?page_size=3000000000", diff: diffOwnMessage, field: "page_size"},
	{name: "unknown enum name in query", method: "GET", path: "/v1/users?filter.role=ROLE_KING", diff: diffOwnMessage, field: "filter.role"},
	{name: "bad grpc-timeout", method: "GET", path: "/v1/users/1", header: []string{"Grpc-Timeout: soon"}, diff: diffOwnMessage, field: "Grpc-Timeout"},
	{name: "unknown field in body star", method: "POST", path: "/v1/orders/o1:cancel", body: `{"reason": "x", "reasn": "y"}`, diff: diffUnknownField, field: "reasn"},
	{name: "unknown field in body field", method: "POST", path: "/v1/users", body: `{"name": "Ada", "email": "ada@example.com", "mail": "x"}`, diff: diffUnknownField, field: "user.mail"},
	{name: "unsupported content type", method: "POST", path: "/v1/orders/o1:cancel", header: []string{"Content-Type: text/plain"}, body: `{}`, diff: diffContentType},
	{name: "form content type", method: "POST", path: "/v1/orders/o1:cancel", header: []string{"Content-Type: application/x-www-form-urlencoded"}, body: `{}`, diff: diffContentType},
	{name: "body over the limit", method: "POST", path: "/v1/orders", body: `{"userId": "1", "notes": {"big": "` + strings.Repeat("x", 5<<20) + `"}}`, diff: diffBodyLimit},
	{name: "protobuf response", method: "GET", path: "/v1/users/1", header: []string{"Accept: application/x-protobuf"}, diff: diffProtobuf, resp: (*usersv1.User)(nil)},
	{name: "form POST on a GET path", method: "POST", path: "/v1/users/1", header: []string{"Content-Type: application/x-www-form-urlencoded"}, body: "utm=1", diff: diffFormFallback},

	// Streams.
	{name: "stream failure before the first message", method: "GET", path: "/v1/products/p99/inventory:watch", diff: diffStreamError},
	{name: "bidi stream over POST", method: "POST", path: "/v1/inventory:adjust", header: []string{"Content-Type: application/x-ndjson"},
		body: `{"productId": "p2", "delta": 1}` + "\n" + `{"productId": "p2", "delta": -1}` + "\n", diff: diffStreamType},
}

// TestConformance sends the corpus to the gateway and to grpc-gateway, each in front of its own
// copy of the shop, and compares the answers: status, Content-Type, Grpc-Metadata-* headers and the
// JSON bodies, compared structurally after the normalizations of comparedHeaders and dropZero.
// Answers that differ must differ as the case's entry in differences says.
func TestConformance(t *testing.T) {
	if len(corpus) < minCorpus {
		t.Fatalf("the corpus has %d cases, want at least %d", len(corpus), minCorpus)
	}
	names := make(map[string]bool, len(corpus))
	used := make(map[string]bool, len(differences))
	for _, c := range corpus {
		if names[c.name] {
			t.Fatalf("two cases are named %q", c.name)
		}
		names[c.name] = true
		if _, ok := differences[c.diff]; c.diff != "" && !ok {
			t.Fatalf("case %q: no difference %q", c.name, c.diff)
		}
		used[c.diff] = true
	}
	for key := range differences {
		if !used[key] {
			t.Errorf("difference %q is in no case: remove it, or add the case that shows it", key)
		}
	}

	envs := map[env]fronts{}
	for _, c := range corpus {
		if _, ok := envs[c.env]; !ok {
			envs[c.env] = startFronts(t, c.env)
		}
	}
	for i := range corpus {
		c := &corpus[i]
		t.Run(c.name, func(t *testing.T) {
			f := envs[c.env]
			ours := send(t, f.gateway, c)
			theirs := send(t, f.grpcGateway, c)
			if c.diff == "" {
				if err := agree(ours, theirs); err != nil {
					t.Errorf("%s %s: the fronts differ, and the case lists no difference:\n%v", c.method, c.path, err)
				}
				return
			}
			d := differences[c.diff]
			if err := d.check(c, ours, theirs); err != nil {
				t.Errorf("%s %s: not the documented difference %q (%s):\n%v\n  gateway:      %d %s\n  grpc-gateway: %d %s",
					c.method, clipPath(c.path), c.diff, d.reason, err, ours.status, clip(ours.body), theirs.status, clip(theirs.body))
			}
		})
	}
}

func clipPath(p string) string {
	if len(p) > 100 {
		return p[:100] + "..."
	}
	return p
}
