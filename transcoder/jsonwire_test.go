package transcoder_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/transcoder"
)

// checkJSONWire holds the JSON-to-wire decoder to protojson on one input: when it accepts, protojson
// must accept too and decode the same message. It reports whether the decoder accepted.
func checkJSONWire(t *testing.T, md protoreflect.MessageDescriptor, data []byte) bool {
	t.Helper()
	fast, ok := transcoder.TranscodeJSON(md, data)
	if !ok {
		return false
	}
	want := dynamicpb.NewMessage(md)
	if err := (protojson.UnmarshalOptions{AllowPartial: true}).Unmarshal(data, want); err != nil {
		t.Fatalf("%s %q: the fast path accepted what protojson refuses: %v", md.FullName(), data, err)
	}
	got := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(fast, got); err != nil {
		t.Fatalf("%s %q: the fast path's bytes %x do not decode: %v", md.FullName(), data, fast, err)
	}
	if a, b := canonical(t, want), canonical(t, got); !bytes.Equal(a, b) {
		t.Fatalf("%s %q:\n fast    %x (%v)\n protojson %x (%v)", md.FullName(), data, b, got, a, want)
	}
	return true
}

// canonical is a message's deterministic encoding: equal for equal messages, -0 and NaN included.
func canonical(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{AllowPartial: true, Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func kitchenDesc(t testing.TB) protoreflect.MessageDescriptor {
	return synthServices(t)[0].ParentFile().Messages().ByName("Kitchen")
}

// fastKitchens are bodies the fast path must take (and decode as protojson does).
var fastKitchens = []string{
	`{}`,
	` { } `,
	`{"id":"k","big":"-9223372036854775808","ubig":"18446744073709551615","small":-2147483648,"flag":true}`,
	`{"big":9007199254740993,"ubig":0,"small":"12","flag":false,"ratio":0,"fratio":-0}`,
	`{"ratio":-0,"fratio":0.1,"f32":3.4028234663852886e38,"ds":[1,-0,0,"NaN","Infinity","-Infinity",1e-320,"2.5"]}`,
	`{"ratio":1E+2,"fratio":"NaN","f32":"-Infinity"}`,
	`{"blob":"AAEC","bval":"-_8","nick":"","maybe":"0","u32":4294967295}`,
	`{"blob":"+/8=","bval":"AA","maybe":-1}`,
	`{"blob":"","bval":""}`,
	`{"color":"GREEN","colors":["RED",2,0,-1,"COLOR_UNSPECIFIED"]}`,
	`{"color":0}`, `{"color":7}`, `{"color":"COLOR_UNSPECIFIED"}`,
	`{"tags":["a","","\u00e9\ud83d\ude00\n\t\"\\\/"],"labels":{"a":"b","":"","\u0041":"x"}}`,
	`{"inner":{"id":"i","color":"RED","nums":[1,2,-3]},"inners":[{},{"nums":[]},{"id":"x"}]}`,
	`{"customName":"c"}`, `{"renamed":"r"}`, `{"by_num":{"1":{"id":"a"},"-2":{},"+3":{}}}`, `{"vals":null}`,
	`{"at":"2024-02-29T12:00:00.123456789Z","wait":"-1.5s","ats":["1970-01-01T00:00:00Z","0001-01-01T00:00:00-01:00"]}`,
	`{"wait":".5s"}`, `{"wait":"1.s"}`, `{"wait":"+0s"}`, `{"wait":"315576000000s"}`, `{"wait":"-0.000000001s"}`,
	`{"at":"2024-02-29T12:00:00.1-07:30"}`,
	`{"left":"l"}`, `{"right":""}`, `{"left":null,"right":"r"}`,
	`{"child":{"child":{"id":"deep","child":{}}}}`,
	`{"zig":-5,"fix":"18446744073709551615","opt":0,"sf":[-1,2147483647]}`,
	`{"by_flag":{"true":"t","false":"f"},"by_zig":{"-1":"RED","9223372036854775807":1}}`,
	`{"extra":{"a":1,"b":[true,null,"s",{"c":{}}],"d":null},"val":null,"vals":[1,"a",[],{}]}`,
	`{"val":{"k":[[]]}}`, `{"val":-1.5e-7}`, `{"val":"x"}`, `{"val":false}`,
	`{"dyn":{"0":null,"18446744073709551615":{"a":"b"}}}`,
	`{"nothing":{}}`, `{"nothing":{ }}`,
	`{"id":null,"inner":null,"tags":null,"labels":null,"at":null,"nick":null,"extra":null,"colors":null}`,
	"{\"id\":\"\\u0000\",\n\t\"small\" : 1\r}",
}

// slowKitchens are bodies the fast path leaves to protojson, valid or not.
var slowKitchens = []string{
	``, ` `, `null`, `[]`, `{"id":"a"} x`, `{"id":"a",}`, `{"id" "a"}`, `{,}`, `{"id":"a"`,
	`{"nope":1}`, `{"id":"a","id":"b"}`, `{"renamed":"a","customName":"b"}`,
	`{"left":"l","right":"r"}`, `{"left":"","right":""}`,
	`{"small":1.0}`, `{"small":1e2}`, `{"small":"1.0"}`, `{"small":" 1"}`, `{"small":2147483648}`,
	`{"small":01}`, `{"small":-}`, `{"small":true}`, `{"ubig":-1}`, `{"ubig":"-0"}`, `{"big":"1e3"}`,
	`{"color":"PURPLE"}`, `{"color":1.5}`, `{"color":"1"}`, `{"flag":"true"}`, `{"flag":1}`,
	`{"fratio":1e39}`, `{"ratio":1e309}`, `{"ratio":"1 "}`, `{"ratio":.5}`, `{"ratio":1.}`,
	`{"blob":"A"}`, `{"blob":"!!!!"}`, `{"id":1}`, `{"id":"\x01"}`, "{\"id\":\"\xff\"}", `{"id":"\ud800"}`,
	`{"id":"\udc00\ud800"}`, `{"id":"\u12"}`, `{"id":"\q"}`,
	`{"tags":"a"}`, `{"tags":[null]}`, `{"tags":[1]}`, `{"labels":[]}`, `{"labels":{"a":null}}`,
	`{"labels":{"a":"b","a":"c"}}`, `{"by_num":{"1":{},"01":{}}}`, `{"by_num":{"x":{}}}`, `{"by_flag":{"TRUE":"x"}}`,
	`{"inner":[]}`, `{"inner":{"nope":1}}`, `{"inners":[null]}`,
	`{"at":"2024-02-30T00:00:00Z"}`, `{"at":"2024-02-29T12:00:00.1234567890Z"}`, `{"at":"10000-01-01T00:00:00Z"}`, `{"at":1}`,
	`{"wait":"1"}`, `{"wait":"01s"}`, `{"wait":"1.0000000001s"}`, `{"wait":"315576000001s"}`, `{"wait":"s"}`, `{"wait":"-s"}`,
	`{"mask":"a,b"}`, `{"any":{"@type":"type.googleapis.com/synth.v1.Thing"}}`, `{"nul":null}`, `{"nul":"NULL_VALUE"}`,
	`{"nothing":{"a":1}}`, `{"by_num":{},"byNum":{}}`, `{"at":"0001-01-01T00:00:00+01:00"}`, `{"nothing":null,"nothing":{}}`, `{"val":}`, `{"val":nul}`, `{"vals":[1,]}`,
	`{"extra":{"a":1,"a":2}}`, `{"nick":1}`, `{"maybe":1.5}`, `{"[synth.v1.ext]":1}`,
}

func TestJSONWireMatchesProtojson(t *testing.T) {
	md := kitchenDesc(t)
	for _, in := range fastKitchens {
		if !checkJSONWire(t, md, []byte(in)) {
			t.Errorf("the fast path declined %s", in)
		}
	}
	for _, in := range slowKitchens {
		if checkJSONWire(t, md, []byte(in)) {
			t.Errorf("the fast path took %s, which protojson decides", in)
		}
	}
	// Nesting past the decoder's depth goes to protojson.
	deep := strings.Repeat(`{"child":`, 70) + `{}` + strings.Repeat(`}`, 70)
	if checkJSONWire(t, md, []byte(deep)) {
		t.Error("the fast path took a body nested 70 deep")
	}
	// A long string and a map past the linear duplicate check.
	var b strings.Builder
	b.WriteString(`{"id":"` + strings.Repeat("x", 300) + `","labels":{`)
	for i := range 40 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + strings.Repeat("y", i) + `":"v"`)
	}
	b.WriteString(`},"by_num":{`)
	for i := range 40 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + strconv.Itoa(i*7919-100000) + `":{}`)
	}
	b.WriteString(`}}`)
	if !checkJSONWire(t, md, []byte(b.String())) {
		t.Error("the fast path declined a body with long values and large maps")
	}
	dupLate := strings.Replace(b.String(), `"k":"v"`, `"kyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy":"v"`, 1)
	if checkJSONWire(t, md, []byte(dupLate)) {
		t.Error("the fast path took a map whose 41st key repeats its 1st")
	}
}

// TestJSONWireLegacy covers proto2: closed enums, required fields, groups (left to protojson).
func TestJSONWireLegacy(t *testing.T) {
	files, err := synthFiles()
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName("synth.v1.Legacy")
	if err != nil {
		t.Fatal(err)
	}
	md := d.(protoreflect.MessageDescriptor)
	for _, in := range []string{`{}`, `{"a":0,"b":"","mood":"CALM","moods":["GRUMPY",1,5],"byName":{"x":"LOW"},"s":""}`, `{"mood":9}`} {
		if !checkJSONWire(t, md, []byte(in)) {
			t.Errorf("the fast path declined %s", in)
		}
	}
	for _, in := range []string{`{"Blob":{"x":1}}`, `{"blob":{}}`, `{"[synth.v1.ext]":1}`, `{"mood":"SAD"}`} {
		if checkJSONWire(t, md, []byte(in)) {
			t.Errorf("the fast path took %s", in)
		}
	}
}

// TestJSONWireShopRequests runs the shop's request messages through the fast path.
func TestJSONWireShopRequests(t *testing.T) {
	for _, tc := range []struct {
		md     protoreflect.MessageDescriptor
		bodies []string
	}{
		{(&ordersv1.CreateOrderRequest{}).ProtoReflect().Descriptor(), []string{
			`{"userId":"1","items":[{"productId":"p1","quantity":2},{"productId":"p2","quantity":1}],"voucherCode":"SPRING","notes":{"gift":"yes"}}`,
			`{"user_id":"1","items":[{"product_id":"p1","unitPrice":{"currencyCode":"EUR","units":"12","nanos":500000000}}],"card":{"brand":"visa","last4":"4242","expMonth":12,"expYear":2030},"giftMessage":"hi"}`,
			`{"userId":"1","giftMessage":null,"notes":{}}`,
		}},
		{(&ordersv1.CancelOrderRequest{}).ProtoReflect().Descriptor(), []string{`{"id":"o1"}`, `{}`}},
		{(&usersv1.User{}).ProtoReflect().Descriptor(), []string{
			`{"name":"Ada Lovelace","email":"ada@example.com","role":"ROLE_CUSTOMER","address":{"street":"12 St James's Square","city":"London","postalCode":"SW1Y 4JH","country":"GB"},"tags":["vip"],"labels":{"region":"eu"},"nickname":"Enchantress","preferences":{"theme":"light","newsletter":true,"font_scale":1.25},"loyaltyPoints":"1815","avatar":"iVBORw==","chatHandle":"@ada"}`,
			`{"id":"1","createdAt":"2023-01-02T09:30:00Z","phone":"+44"}`,
		}},
		{(&usersv1.CreateUserRequest{}).ProtoReflect().Descriptor(), []string{`{"user":{"name":"n","email":"e"}}`}},
	} {
		for _, in := range tc.bodies {
			if !checkJSONWire(t, tc.md, []byte(in)) {
				t.Errorf("%s: the fast path declined %s", tc.md.FullName(), in)
			}
		}
	}
	md := (&ordersv1.CreateOrderRequest{}).ProtoReflect().Descriptor()
	for _, in := range []string{`{"card":{},"voucherCode":"x"}`, `{"items":[{"productId":"p","quantity":"x"}]}`, `{"userId":"1","user_id":"2"}`} {
		if checkJSONWire(t, md, []byte(in)) {
			t.Errorf("the fast path took %s", in)
		}
	}
}

// TestFastRequestMatchesDynamic builds requests through the handler with and without the fast path:
// the same message, the path winning over the body; and for bodies it declines, the same error.
func TestFastRequestMatchesDynamic(t *testing.T) {
	h := synthHandler(t, testnet.Refused(t))
	shop := shopHandler(t, nil)
	for _, tc := range []struct {
		h                    *transcoder.Handler
		method, target, body string
		fast                 bool // the binding has a fast path and the body takes it
	}{
		{h, "POST", "/v1/kitchen", `{"id":"k","inner":{"id":"i"},"labels":{"a":"b"}}`, true},
		{h, "POST", "/v1/kitchen?id=ignored", `{"id":"k"}`, true},
		{h, "PUT", "/v1/kitchen/path-id/inner", `{"id":"body-inner","nums":[1,2]}`, true},
		{h, "PUT", "/v1/kitchen/path-id/inner?small=3", `{"id":"x"}`, false}, // a query to bind
		{h, "POST", "/v1/projects/p/things/t:publish", `{"name":"body-name","count":"3","color":"RED"}`, true},
		{h, "POST", "/v1/kitchen/k1/tags", `["a","b"]`, false}, // a repeated body field
		{h, "POST", "/v1/kitchen", `{"mask":"a"}`, false},
		{h, "POST", "/v1/kitchen", `{"nope":1}`, false},
		{h, "POST", "/v1/kitchen", `{"small":"x"}`, false},
		{h, "POST", "/v1/kitchen", `{"id":"a","id":"b"}`, false},
		{h, "POST", "/v1/kitchen", `{"left":"a","right":"b"}`, false},
		{h, "POST", "/v1/kitchen", `{"color":"PURPLE"}`, false},
		{h, "POST", "/v1/kitchen", `{`, false},
		{h, "POST", "/v1/kitchen", ``, false},
		{h, "PUT", "/v1/kitchen/path-id/inner", ``, false},
		{h, "PATCH", "/v1/kitchens/k1", `{"id":"x","small":1}`, false}, // update_mask to fill
		{shop, "POST", "/v1/orders", `{"userId":"1","items":[{"productId":"p1","quantity":2}],"voucherCode":"SPRING"}`, true},
		{shop, "POST", "/v1/orders/o1:cancel", `{"id":"o2","reason":"changed my mind"}`, true},
		{shop, "POST", "/v1/users", `{"name":"n","email":"e","preferences":{"a":[1]}}`, true},
		{shop, "POST", "/v1/orders", `{"items":[{"quantity":1.5}]}`, false},
	} {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		r.Header.Set("Content-Type", "application/json")
		build := func(f func(*transcoder.Handler, http.ResponseWriter, *http.Request) ([]byte, error)) ([]byte, error) {
			r.Body, r.ContentLength = readCloser{strings.NewReader(tc.body)}, int64(len(tc.body))
			return f(tc.h, httptest.NewRecorder(), r)
		}
		got, gotErr := build(transcoder.BuildRequest)
		want, wantErr := build(transcoder.BuildRequestDynamic)
		name := tc.method + " " + tc.target + " " + tc.body
		if (gotErr != nil) != (wantErr != nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Errorf("%s: error %v, the dynamic path's %v", name, gotErr, wantErr)
			continue
		}
		if gotErr != nil {
			var e *transcoder.Error
			if !errors.As(gotErr, &e) || e.HTTPStatus() != http.StatusBadRequest {
				t.Errorf("%s: error %v is not a 400", name, gotErr)
			}
			continue
		}
		fast, md := transcoder.FastRequest(tc.h, r, []byte(tc.body))
		if fast != tc.fast {
			t.Errorf("%s: fast path taken = %v, want %v", name, fast, tc.fast)
		}
		gm, wm := dynamicpb.NewMessage(md), dynamicpb.NewMessage(md)
		if err := proto.Unmarshal(got, gm); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := proto.Unmarshal(want, wm); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(canonical(t, gm), canonical(t, wm)) {
			t.Errorf("%s:\n fast    %v\n dynamic %v", name, gm, wm)
		}
	}
}

// FuzzJSONWire holds the JSON-to-wire decoder to protojson on arbitrary bodies: whatever it accepts,
// protojson accepts and decodes to the same message (what it declines, protojson decides).
func FuzzJSONWire(f *testing.F) {
	for _, s := range fastKitchens {
		f.Add(uint8(0), []byte(s))
	}
	for _, s := range slowKitchens {
		f.Add(uint8(0), []byte(s))
	}
	f.Add(uint8(1), []byte(`{"a":1,"b":"x","mood":"CALM","moods":[1,2],"byName":{"k":"HIGH"}}`))
	f.Add(uint8(2), []byte(`{"userId":"1","items":[{"productId":"p1","quantity":2}],"voucherCode":"SPRING","notes":{"gift":"yes"}}`))
	files, err := synthFiles()
	if err != nil {
		f.Fatal(err)
	}
	legacy, err := files.FindDescriptorByName("synth.v1.Legacy")
	if err != nil {
		f.Fatal(err)
	}
	types := []protoreflect.MessageDescriptor{
		kitchenDesc(f),
		legacy.(protoreflect.MessageDescriptor),
		(&ordersv1.CreateOrderRequest{}).ProtoReflect().Descriptor(),
		(&usersv1.User{}).ProtoReflect().Descriptor(),
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		checkJSONWire(t, types[int(which)%len(types)], data)
	})
}
