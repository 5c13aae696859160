package transcoder_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/registry"
)

// bodiesProto has body fields the shop and the synthetic service lack: repeated and map fields of
// messages, one of them nested, which the transcoder decodes wrapped into their parent.
const bodiesProto = `syntax = "proto3";
package bodies.v1;

import "google/api/annotations.proto";

service Bodies {
  rpc Put(Req) returns (Req) {
    option (google.api.http) = {
      post: "/v1/list" body: "items"
      additional_bindings { post: "/v1/map" body: "by_name" }
      additional_bindings { post: "/v1/nested" body: "outer.items" }
    };
  }
}

message Item {
  string id = 1;
  Item child = 2;
}

message Outer {
  repeated Item items = 1;
}

message Req {
  repeated Item items = 1;
  map<string, Item> by_name = 2;
  Outer outer = 3;
}
`

// TestUnknownFieldPath checks that an unknown key in a JSON body is named, in the BadRequest field
// violation, by its place in the body: keys as written, [i] for list elements, [k] for map values,
// after the body's field.
func TestUnknownFieldPath(t *testing.T) {
	handlers := bodyHandlers(t)
	const thing = `"@type":"type.googleapis.com/synth.v1.Thing"`
	cases := []struct {
		name, handler, method, target, body string
		field                               string
	}{
		// The shop's routes, as QA reported them.
		{"body field, nested message", "shop", "POST", "/v1/users", `{"name":"x","email":"x@example.com","address":{"nope":1}}`, "user.address.nope"},
		{"body field, top level", "shop", "POST", "/v1/users", `{"name":"x","nope":1}`, "user.nope"},
		{"body *, list element", "shop", "POST", "/v1/orders", `{"userId":"1","items":[{"productId":"p1","quantity":1,"nope":2}]}`, "items[0].nope"},
		{"body *, top level", "shop", "POST", "/v1/orders", `{"userId":"1","colour":"red"}`, "colour"},
		{"body *, proto names", "shop", "POST", "/v1/orders", `{"user_id":"1","items":[{"product_id":"p1"},{"product_id":"p2","unit_price":{"nope":1}}]}`, "items[1].unit_price.nope"},

		// Every shape of field on the way to the key.
		{"nested message", "synth", "POST", "/v1/kitchen", `{"id":"k","inner":{"id":"i","nope":1}}`, "inner.nope"},
		{"deeply nested", "synth", "POST", "/v1/kitchen", `{"child":{"child":{"inner":{"nope":1}}}}`, "child.child.inner.nope"},
		{"list element", "synth", "POST", "/v1/kitchen", `{"inners":[{"id":"a"},{"id":"b","nope":1}]}`, "inners[1].nope"},
		{"map value message", "synth", "POST", "/v1/kitchen", `{"byNum":{"5":{"id":"a"},"7":{"nope":1}}}`, "byNum[7].nope"},
		{"map value by proto name", "synth", "POST", "/v1/kitchen", `{"by_num":{"5":{"nope":1}}}`, "by_num[5].nope"},
		{"json_name and proto name", "synth", "POST", "/v1/kitchen", `{"child":{"customName":"a","child":{"renamed":"b","nope":1}}}`, "child.child.nope"},
		{"body field", "synth", "PUT", "/v1/kitchen/k/inner", `{"id":"x","nope":1}`, "inner.nope"},
		{"known at one level, unknown below", "synth", "POST", "/v1/kitchen", `{"small":1,"inner":{"small":2}}`, "inner.small"},
		{"unknown below, known above after", "synth", "POST", "/v1/kitchen", `{"inner":{"tags":["a"]},"tags":["b"]}`, "inner.tags"},
		{"first of two places", "synth", "POST", "/v1/kitchen", `{"inners":[{"nope":1}],"inner":{"nope":2}}`, "inners[0].nope"},
		{"free-form JSON passed over", "synth", "POST", "/v1/kitchen",
			`{"extra":{"nope":1},"val":{"nope":1},"vals":[{"nope":1}],"dyn":{"1":{"nope":1}},"inner":{"nope":2}}`, "inner.nope"},
		{"scalar-form messages passed over", "synth", "POST", "/v1/kitchen",
			`{"at":"2024-01-02T03:04:05Z","ats":["2024-01-02T03:04:05Z"],"maybe":"1","nothing":{},"inner":{"nope":1}}`, "inner.nope"},
		{"Any without the key passed over", "synth", "POST", "/v1/kitchen", `{"any":{` + thing + `,"name":"x"},"inner":{"nope":1}}`, "inner.nope"},
		// protojson refuses the key inside the Any, where it is not looked for: the key alone, as before.
		{"key inside an Any", "synth", "POST", "/v1/kitchen", `{"any":{` + thing + `,"nope":1},"inner":{"nope":2}}`, "nope"},
		{"Empty", "synth", "POST", "/v1/kitchen", `{"nothing":{"nope":1}}`, "nothing.nope"},

		// Body fields decoded wrapped into their parent.
		{"repeated body field", "bodies", "POST", "/v1/list", `[{"id":"a"},{"id":"b","child":{"nope":1}}]`, "items[1].child.nope"},
		{"map body field", "bodies", "POST", "/v1/map", `{"a":{"id":"a"},"b":{"nope":1}}`, "by_name[b].nope"},
		{"nested repeated body field", "bodies", "POST", "/v1/nested", `[{"nope":1}]`, "outer.items[0].nope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantViolation(t, handlers[tc.handler], tc.method, tc.target, tc.body, tc.field) })
	}
}

// bodyHandlers are the REST handlers the body tests call: the shop's, the synthetic service's, and
// one of bodiesProto's.
func bodyHandlers(t *testing.T) map[string]http.Handler {
	t.Helper()
	files, err := registry.FilesFromProtos(context.Background(), map[string]string{"bodies/v1/bodies.proto": bodiesProto}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]http.Handler{
		"shop":   shopHandler(t, nil),
		"synth":  synthHandler(t, ""),
		"bodies": frontend(t, []*registry.Registration{{Name: "bodies", Endpoints: []string{testnet.Refused(t)}, Files: files}}),
	}
}

// wantViolation checks that the request is refused with 400 INVALID_ARGUMENT and a BadRequest
// naming field.
func wantViolation(t *testing.T, h http.Handler, method, target, body, field string) {
	t.Helper()
	w := call(h, method, target, body)
	st := decodeStatus(t, w)
	if w.Code != http.StatusBadRequest || st.Code != 3 {
		t.Fatalf("HTTP %d code %d, want 400 code 3: %s", w.Code, st.Code, w.Body)
	}
	if got := violationField(st); got != field {
		t.Errorf("field violation names %q, want %q: %s", got, field, w.Body)
	}
}

// violationField is the field of the only violation of st's only detail, a google.rpc.BadRequest.
func violationField(st statusBody) string {
	if len(st.Details) != 1 || st.Details[0]["@type"] != "type.googleapis.com/google.rpc.BadRequest" {
		return "<no BadRequest detail>"
	}
	vs, _ := st.Details[0]["fieldViolations"].([]any)
	if len(vs) != 1 {
		return "<not one violation>"
	}
	v, _ := vs[0].(map[string]any)
	field, _ := v["field"].(string)
	return field
}

// TestBodyValueErrorPath checks that a value protojson refuses (a wrong type, a key given twice) is
// named by its place in the body, as unknown keys are.
func TestBodyValueErrorPath(t *testing.T) {
	handlers := bodyHandlers(t)
	for _, tc := range []struct {
		name, handler, method, target, body string
		field                               string
	}{
		{"top level", "synth", "POST", "/v1/kitchen", `{"id":5}`, "id"},
		{"nested", "synth", "POST", "/v1/kitchen", `{"inner":{"id":5}}`, "inner.id"},
		{"list element", "synth", "POST", "/v1/kitchen", `{"inners":[{"id":"a"},{"id":7}]}`, "inners[1].id"},
		{"map value", "synth", "POST", "/v1/kitchen", `{"byNum":{"5":{"id":"a"},"7":{"id":3}}}`, "byNum[7].id"},
		{"key given twice", "synth", "POST", "/v1/kitchen", `{"id":"a","id":"b"}`, "id"},
		{"over lines", "synth", "POST", "/v1/kitchen", "{\n  \"inner\": {\n    \"id\": 5\n  }\n}", "inner.id"},
		{"after multibyte text", "synth", "POST", "/v1/kitchen", `{"inners":[{"id":"éü€"}],"inner":{"id":false}}`, "inner.id"},
		{"shop list element", "shop", "POST", "/v1/orders", `{"userId":"1","items":[{"productId":"p1","quantity":"many"}]}`, "items[0].quantity"},
		{"body field", "shop", "POST", "/v1/users", `{"name":"x","email":7}`, "user.email"},
		{"repeated body field", "bodies", "POST", "/v1/list", `[{"id":"a"},{"id":5}]`, "items[1].id"},
		{"map body field", "bodies", "POST", "/v1/map", `{"a":{"id":5}}`, "by_name[a].id"},
		{"nested repeated body field", "bodies", "POST", "/v1/nested", `[{"child":{"id":[]}}]`, "outer.items[0].child.id"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantViolation(t, handlers[tc.handler], tc.method, tc.target, tc.body, tc.field) })
	}
}
