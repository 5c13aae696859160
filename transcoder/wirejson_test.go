package transcoder_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/transcoder"
)

// wireSeeds are messages in JSON form, each encoded as a seed of FuzzWireJSON for its type.
var wireSeeds = map[string][]string{
	"synth.v1.Kitchen": {
		`{}`,
		`{"id":"k","big":"-9007199254740993","ubig":"18446744073709551615","small":-3,"flag":true,"ratio":0.5,"fratio":1.5,
		 "blob":"AAEC","color":"GREEN","tags":["a","","b"],"colors":["RED",7,"COLOR_UNSPECIFIED"],"labels":{"z":"1","a":"","é":"\u0001"},
		 "inner":{"id":"i","nums":[1,-2,2147483647]},"customName":"c\"\\\n<>&\u2028","at":"2024-01-02T03:04:05.5Z","wait":"-1.000001s",
		 "nick":"","maybe":"0","extra":{"k":[1,null,{"x":true}],"s":"t"},"left":"","zig":-5,"fix":"7","opt":0,
		 "byNum":{"-1":{},"10":{"id":"x"},"2":{"color":"RED"}},"byFlag":{"true":"t","false":"f"},"val":3.25,
		 "vals":[1,"a",null,[],{}],"ats":["1970-01-01T00:00:00Z","0001-01-01T00:00:00Z","9999-12-31T23:59:59.999999999Z"],
		 "nothing":{},"bval":"","byZig":{"-3":"RED","3":1},"nul":null,"ds":[0,-0,1e21,1e-7,123456789.125,"NaN","-Infinity"],
		 "dyn":{"18446744073709551615":"big","0":false},"sf":[-1,0,1],"f32":3.4028235e38,"inners":[{},{"id":"x"}],"u32":0}`,
		`{"right":"r","val":{"a":{"b":[]}},"child":{"child":{"right":"deep","ats":["2000-02-29T12:00:00.120Z"]}}}`,
		`{"any":{"@type":"type.googleapis.com/synth.v1.Thing","name":"x"}}`,
		`{"mask":"a.b,cD"}`,
		`{"val":"s"}`, `{"val":true}`, `{"val":null}`, `{"val":[]}`, `{"wait":"0s","at":"1970-01-01T00:00:00Z"}`,
	},
	"shop.users.v1.User": {
		`{"id":"1","name":"Ada Lovelace","email":"ada@example.com","role":"ROLE_CUSTOMER","createdAt":"2023-01-02T09:30:00Z",
		 "address":{"street":"12 St James's Square","city":"London","postalCode":"SW1Y 4JH","country":"GB"},"tags":["vip","early-adopter"],
		 "labels":{"region":"eu","segment":"new"},"nickname":"Enchantress of Numbers","preferences":{"font_scale":1.25,"language":"fr"},
		 "loyaltyPoints":"1815","avatar":"iVBORw0KGgoB","chatHandle":"@ada"}`,
	},
	"synth.v1.Legacy": {
		`{"a":0,"b":"","mood":"CALM","moods":["GRUMPY","CALM"],"byName":{"x":"HIGH","y":"LOW"},"s":"dflt"}`,
		`{"b":"x","blob":{"x":1}}`,
		`{"b":"x","[synth.v1.ext]":5}`,
	},
}

// wireTypes are the message types FuzzWireJSON renders, by the first byte of its input.
func wireTypes(t testing.TB) []protoreflect.MessageDescriptor {
	t.Helper()
	files, err := synthFiles()
	if err != nil {
		t.Fatal(err)
	}
	var out []protoreflect.MessageDescriptor
	for _, name := range []string{"synth.v1.Kitchen", "shop.users.v1.User", "synth.v1.Legacy"} {
		if name == "shop.users.v1.User" {
			out = append(out, (*usersv1.User)(nil).ProtoReflect().Descriptor())
			continue
		}
		d, err := files.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d.(protoreflect.MessageDescriptor))
	}
	return out
}

// synthTypes resolves the synthetic types (Any, extensions).
func synthTypes(t testing.TB) *dynamicpb.Types {
	t.Helper()
	types, err := synthTypesOnce()
	if err != nil {
		t.Fatal(err)
	}
	return types
}

var synthTypesOnce = sync.OnceValues(func() (*dynamicpb.Types, error) {
	files, err := synthFiles()
	if err != nil {
		return nil, err
	}
	return dynamicpb.NewTypes(files), nil
})

// slowJSON renders data as the slow path does: dynamicpb, then protojson.
func slowJSON(md protoreflect.MessageDescriptor, data []byte, types *dynamicpb.Types) (_ []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("proto.Unmarshal panics: %v", r) // the transcoder recovers it the same way
		}
	}()
	m := dynamicpb.NewMessage(md)
	in, out := proto.UnmarshalOptions{AllowPartial: true}, protojson.MarshalOptions{AllowPartial: true}
	if types != nil {
		in.Resolver, out.Resolver = types, types
	}
	if err := in.Unmarshal(data, m); err != nil {
		return nil, err
	}
	return out.Marshal(m)
}

func compact(t testing.TB, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	return out.String()
}

// checkWireJSON holds the fast encoder to protojson: when it renders, the output is protojson's
// byte for byte (whitespace aside); when it declines, it says so with ErrSlowPath.
func checkWireJSON(t *testing.T, md protoreflect.MessageDescriptor, data []byte) (rendered bool) {
	t.Helper()
	fast, err := transcoder.WireJSON(md, data)
	if err != nil {
		if !errors.Is(err, transcoder.ErrSlowPath) {
			t.Fatalf("%s %x: fast encoder error %v", md.FullName(), data, err)
		}
		return false
	}
	slow, err := slowJSON(md, data, synthTypes(t))
	if err != nil {
		t.Fatalf("%s %x: fast encoder rendered %s, the slow path fails: %v", md.FullName(), data, fast, err)
	}
	if got, want := compact(t, fast), compact(t, slow); got != want {
		t.Fatalf("%s %x:\nfast %s\nslow %s", md.FullName(), data, got, want)
	}
	return true
}

func TestWireJSON(t *testing.T) {
	types := wireTypes(t)
	for _, md := range types {
		for _, js := range wireSeeds[string(md.FullName())] {
			m := dynamicpb.NewMessage(md)
			if err := (protojson.UnmarshalOptions{AllowPartial: true, Resolver: synthTypes(t)}).Unmarshal([]byte(js), m); err != nil {
				t.Fatalf("seed %s: %v", js, err)
			}
			data, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if !checkWireJSON(t, md, data) {
				t.Logf("%s: slow path for %.60s", md.Name(), js)
			}
		}
	}
	// Wire forms a marshaller does not produce: repeated singular fields, oneof members that replace
	// each other, packed and unpacked mixed, wrong wire types, unknown fields, map entries without
	// key or value, duplicate map keys.
	kitchen := types[0]
	tag := func(b []byte, n protowire.Number, t protowire.Type) []byte { return protowire.AppendTag(b, n, t) }
	var b []byte
	b = protowire.AppendString(tag(b, 1, protowire.BytesType), "first")
	b = protowire.AppendString(tag(b, 1, protowire.BytesType), "last")
	b = protowire.AppendString(tag(b, 22, protowire.BytesType), "left")
	b = protowire.AppendString(tag(b, 23, protowire.BytesType), "right")
	b = protowire.AppendFixed64(tag(b, 4, protowire.Fixed64Type), 9) // wrong wire type: unknown
	b = protowire.AppendBytes(tag(b, 37, protowire.BytesType), protowire.AppendFixed64(protowire.AppendFixed64(nil, 1), 2))
	b = protowire.AppendFixed64(tag(b, 37, protowire.Fixed64Type), 3)
	b = protowire.AppendVarint(tag(b, 2, protowire.BytesType), 0)    // wrong wire type: unknown
	b = protowire.AppendVarint(tag(b, 999, protowire.VarintType), 5) // unknown field
	b = protowire.AppendBytes(tag(b, 12, protowire.BytesType), nil)  // map entry without key or value
	b = protowire.AppendBytes(tag(b, 12, protowire.BytesType), entry("k", "1"))
	b = protowire.AppendBytes(tag(b, 12, protowire.BytesType), entry("k", "2"))
	b = protowire.AppendVarint(tag(b, 22, protowire.VarintType), 1) // wrong type for a oneof member
	if !checkWireJSON(t, kitchen, b) {
		t.Error("the fast encoder declined a message it handles")
	}
	// Declined: Any, FieldMask, a singular message twice, extensions, groups.
	for _, js := range []string{`{"any":{"@type":"type.googleapis.com/synth.v1.Thing"}}`, `{"mask":"a"}`} {
		m := dynamicpb.NewMessage(kitchen)
		if err := (protojson.UnmarshalOptions{Resolver: synthTypes(t)}).Unmarshal([]byte(js), m); err != nil {
			t.Fatal(err)
		}
		if _, err := transcoder.WireJSON(kitchen, marshal(t, m)); !errors.Is(err, transcoder.ErrSlowPath) {
			t.Errorf("%s: %v, want the slow path", js, err)
		}
	}
	twice := protowire.AppendBytes(tag(nil, 13, protowire.BytesType), nil)
	twice = protowire.AppendBytes(tag(twice, 13, protowire.BytesType), nil)
	if _, err := transcoder.WireJSON(kitchen, twice); !errors.Is(err, transcoder.ErrSlowPath) {
		t.Errorf("a singular message twice: %v, want the slow path", err)
	}
}

func entry(k, v string) []byte {
	b := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), k)
	return protowire.AppendString(protowire.AppendTag(b, 2, protowire.BytesType), v)
}

func FuzzWireJSON(f *testing.F) {
	types := wireTypes(f)
	for i, md := range types {
		for _, js := range wireSeeds[string(md.FullName())] {
			m := dynamicpb.NewMessage(md)
			if err := (protojson.UnmarshalOptions{AllowPartial: true, Resolver: synthTypes(f)}).Unmarshal([]byte(js), m); err != nil {
				f.Fatalf("seed %s: %v", js, err)
			}
			data, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(byte(i), data)
		}
	}
	f.Fuzz(func(t *testing.T, which byte, data []byte) {
		checkWireJSON(t, types[int(which)%len(types)], data)
	})
}

func BenchmarkWireJSON(b *testing.B) {
	user := ada(b)
	md := (*usersv1.User)(nil).ProtoReflect().Descriptor()
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := transcoder.WireJSON(md, user); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("dynamicpb+protojson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := slowJSON(md, user, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("generated+protojson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var u usersv1.User
			if err := proto.Unmarshal(user, &u); err != nil {
				b.Fatal(err)
			}
			if _, err := protojson.Marshal(&u); err != nil {
				b.Fatal(err)
			}
		}
	})
}
