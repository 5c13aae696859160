package transcoder_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/protogate/gateway/transcoder"
)

// A protobuf body reads, through ProtobufBodyJSON, as the JSON body the front decodes to the same
// message: the body's message, by its JSON names. Bindings on which the front reads no protobuf body
// say so, and a body that does not decode is an error.
func TestProtobufBodyJSON(t *testing.T) {
	rt := testRouter(t)
	binding := func(t *testing.T, method, path string) *transcoder.Binding {
		t.Helper()
		var p transcoder.Params
		b, err := rt.Lookup(method, path, false, &p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// wire encodes a JSON text as the message md, as a client would send it in protobuf.
	wire := func(t *testing.T, md protoreflect.MessageDescriptor, text string) []byte {
		t.Helper()
		m := dynamicpb.NewMessage(md)
		if err := protojson.Unmarshal([]byte(text), m); err != nil {
			t.Fatal(err)
		}
		out, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	jsonOf := func(t *testing.T, text []byte) any {
		t.Helper()
		var v any
		if err := json.Unmarshal(text, &v); err != nil {
			t.Fatalf("%v: %s", err, text)
		}
		return v
	}

	for _, tc := range []struct {
		name, method, path string
		body               string // the JSON the body is encoded from, and what it reads as
	}{
		// The whole request, json_name, bytes holding 0x00 and a nested message.
		{"whole request", "POST", "/v1/kitchen",
			`{"id": "k1", "blob": "AAEA", "customName": "x", "inner": {"id": "i1", "nums": [0, 2]}, "tags": ["a", ""]}`},
		// A body field: the field's message.
		{"body field", "PUT", "/v1/kitchen/k1/inner", `{"id": "i1", "color": "GREEN"}`},
		{"shop order", "POST", "/v1/orders", `{"userId": "1' OR 1=1 --", "items": [{"productId": "p1", "quantity": 2}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := binding(t, tc.method, tc.path)
			md := b.Method().Input()
			if fields := b.Body(); fields != "*" {
				md = md.Fields().ByName(protoreflect.Name(fields)).Message()
			}
			out, ok, err := b.ProtobufBodyJSON(wire(t, md, tc.body))
			if err != nil || !ok {
				t.Fatalf("got ok %v, err %v", ok, err)
			}
			if got, want := jsonOf(t, out), jsonOf(t, []byte(tc.body)); !reflect.DeepEqual(got, want) {
				t.Errorf("got %s, want %s", out, tc.body)
			}
		})
	}

	t.Run("no protobuf body", func(t *testing.T) {
		for _, tc := range []struct{ method, path string }{
			{"GET", "/v1/kitchen"},              // no body
			{"POST", "/v1/kitchen/k1/tags"},     // a repeated body field: JSON only
			{"POST", "/v1/upload"},              // google.api.HttpBody: bytes passed on as they are
			{"POST", "/v1/orders:import"},       // client streaming: newline-delimited JSON
			{"POST", "/v1/inventory:adjust"},    // bidi streaming
			{"POST", "/synth.v1.Things/NoRule"}, // the default route's body is the request
		} {
			out, ok, err := binding(t, tc.method, tc.path).ProtobufBodyJSON([]byte("\x0a\x02k1"))
			if want := tc.path == "/synth.v1.Things/NoRule"; ok != want || err != nil {
				t.Errorf("%s %s: got %s, ok %v, err %v; want ok %v", tc.method, tc.path, out, ok, err, want)
			}
		}
	})

	t.Run("undecodable", func(t *testing.T) {
		b := binding(t, "POST", "/v1/kitchen")
		for _, data := range []string{
			"\x0a\x05k1",       // a string longer than the body
			"\x0a\x02\xff\xfe", // a string that is not UTF-8
			"\x42\x01",         // bytes (field 8) declared one long, none there
		} {
			if out, ok, err := b.ProtobufBodyJSON([]byte(data)); !ok || err == nil {
				t.Errorf("%q: got %s, ok %v, err %v; want an error", data, out, ok, err)
			}
		}
	})
}
