package transcoder_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/protogate/gateway/transcoder"
	"github.com/protogate/gateway/transcoder/textvalue"
)

// fuzzHandler is a REST handler over the synthetic service that never calls an upstream.
func fuzzHandler(t testing.TB) (*transcoder.Handler, protoreflect.MessageDescriptor) {
	t.Helper()
	services := synthServices(t)
	rt, err := transcoder.NewRouter(services)
	if err != nil {
		t.Fatal(err)
	}
	h, err := transcoder.NewHandler(func() *transcoder.Router { return rt }, fakeUpstreams{})
	if err != nil {
		t.Fatal(err)
	}
	kitchen := services[0].ParentFile().Messages().ByName("Kitchen")
	return h, kitchen
}

// checkBuilt requires a built request to decode as md, or an error to be an InvalidArgument (413/415
// allowed) in the error model.
func checkBuilt(t *testing.T, md protoreflect.MessageDescriptor, data []byte, err error, input string) {
	t.Helper()
	if err != nil {
		var e *transcoder.Error
		if !errors.As(err, &e) {
			t.Fatalf("%q: error %v is not a *transcoder.Error", input, err)
		}
		if e.Code() != codes.InvalidArgument && e.HTTPStatus() != http.StatusRequestEntityTooLarge {
			t.Fatalf("%q: error %v has code %v, want InvalidArgument", input, err, e.Code())
		}
		return
	}
	if md == nil {
		return
	}
	if err := proto.Unmarshal(data, dynamicpb.NewMessage(md)); err != nil {
		t.Fatalf("%q: built request does not decode: %v", input, err)
	}
}

func FuzzQuery(f *testing.F) {
	for _, q := range []string{
		"id=k&big=1&small=-3&flag=true&ratio=0.5&blob=AAEC&color=2&tags=a&tags=b&labels[x]=y",
		"inner.id=i&inner.nums=1&inner.nums=2&customName=c&renamed=d",
		"at=2024-01-02T03:04:05Z&wait=1.5s&mask=a.b,cD&nick=n&maybe=7&extra=%7B%7D&left=l",
		"child.child.child.id=x&child.inner.color=RED", "a=%zz", "%=1", "labels[=x", "labels[a]]=b", "=&&=",
		"small=1&small=2", "left=a&right=b", "inner=x", "wait=-0.5s", "wait=315576000001s", "fratio=NaN",
		"colors=9&colors=RED", "any=x", "mask=", "extra=[1]", "small=0&small=1", "labels[a]=&labels[a]=b",
	} {
		f.Add(q)
	}
	h, kitchen := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, query string) {
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/v1/kitchen", RawQuery: query}, Header: http.Header{}}
		data, err := transcoder.BuildRequest(h, httptest.NewRecorder(), r)
		checkBuilt(t, kitchen, data, err, query)
	})
}

func FuzzBody(f *testing.F) {
	for _, b := range []string{
		`{"id":"k","big":12,"ubig":"3","color":2,"customName":"a","tags":["x"],"labels":{"a":"b"}}`,
		`{"at":"2024-01-02T03:04:05Z","wait":"2s","mask":"inner.id","nick":"n","maybe":"-1","extra":{"a":[1,"x"]}}`,
		`{"any":{"@type":"type.googleapis.com/synth.v1.Thing","name":"x"}}`, `{"inner":{"id":"i","nums":[1,2]}}`,
		`["a","b"]`, `"x"`, `{`, `{"bogus":1}`, ``, `null`, `{"child":{"child":{"extra":{"a":{"b":{}}}}}}`,
		`{"small":1,"inner":{"id":"i"}}`, `{"any":{}}`, `{"left":"a","right":"b"}`,
	} {
		for target := range byte(4) {
			f.Add(target, b)
		}
	}
	h, kitchen := fuzzHandler(f)
	targets := []struct {
		method, path string
		input        bool // the built request is a Kitchen
	}{
		{"POST", "/v1/kitchen", true},                      // body "*"
		{"PUT", "/v1/kitchen/k/inner", true},               // body field, a message
		{"POST", "/v1/kitchen/k/tags", true},               // body field, repeated
		{"PATCH", "/v1/kitchens/k", false},                 // body field, update_mask from its keys
		{"POST", "/synth.v1.Things/NoRule", false},         // default route
		{"POST", "/v1/projects/p/things/t:publish", false}, // body "*" and a path variable
	}
	f.Fuzz(func(t *testing.T, target byte, body string) {
		tg := targets[int(target)%len(targets)]
		r := httptest.NewRequest(tg.method, tg.path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		data, err := transcoder.BuildRequest(h, httptest.NewRecorder(), r)
		md := kitchen
		if !tg.input {
			md = nil
		}
		checkBuilt(t, md, data, err, body)
	})
}

// FuzzProtobufBodyJSON checks that a protobuf body either fails to decode or reads as a JSON body
// the front takes, which holds every string and bytes value the body's known fields hold: what
// the WAF inspects of a protobuf body is what the upstream reads of it.
func FuzzProtobufBodyJSON(f *testing.F) {
	_, kitchen := fuzzHandler(f)
	for _, js := range []string{
		`{"id":"k","big":"12","blob":"AAEA","color":"GREEN","customName":"a","tags":["x",""],"labels":{"a":""}}`,
		`{"at":"2024-01-02T03:04:05Z","wait":"2s","mask":"inner.id","nick":"","maybe":"-1","extra":{"a":[1,"x"]}}`,
		`{"inner":{"id":"i","nums":[0,2]},"byNum":{"1":{}},"val":null,"ds":[0.5]}`,
		`{"any":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"1s"}}`,
	} {
		m := dynamicpb.NewMessage(kitchen)
		if err := protojson.Unmarshal([]byte(js), m); err != nil {
			f.Fatal(err)
		}
		data, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("\x0a\x05k"))
	rt, err := transcoder.NewRouter(synthServices(f))
	if err != nil {
		f.Fatal(err)
	}
	var p transcoder.Params
	b, err := rt.Lookup("POST", "/v1/kitchen", false, &p)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, ok, err := b.ProtobufBodyJSON(data)
		if !ok {
			t.Fatal("the body of POST /v1/kitchen is the request: ok false")
		}
		if err != nil {
			return
		}
		want := dynamicpb.NewMessage(kitchen)
		if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, want); err != nil {
			t.Fatalf("%x rendered as %s, but does not decode: %v", data, out, err)
		}
		got := dynamicpb.NewMessage(kitchen)
		if err := protojson.Unmarshal(out, got); err != nil {
			t.Fatalf("%x rendered as %s, which the front refuses: %v", data, out, err)
		}
		if g, w := stringsOf(got), stringsOf(want); !slices.Equal(g, w) {
			t.Fatalf("%x rendered as %s, which holds the strings %q, not %q", data, out, g, w)
		}
	})
}

// FuzzRequestBodyKind checks the reading of a Content-Type: only the type before the first ";"
// counts, in any case, so no parameter (well formed or not) changes what a body is; and where
// mime.ParseMediaType reads the header, the type it reads is classified the same.
func FuzzRequestBodyKind(f *testing.F) {
	for _, tc := range contentTypes {
		f.Add(tc.ct, "charset=utf-8")
	}
	f.Add("application/json", `charset="utf-8`)
	f.Add("application/x-jsonlines", "=")
	f.Fuzz(func(t *testing.T, ct, params string) {
		kind := transcoder.RequestBodyKind(ct)
		if kind > transcoder.BodyProto {
			t.Fatalf("RequestBodyKind(%q) = %d, not a kind", ct, kind)
		}
		typ, _, _ := strings.Cut(ct, ";")
		if got := transcoder.RequestBodyKind(typ + ";" + params); got != kind {
			t.Fatalf("RequestBodyKind(%q) = %d but %d with parameters %q", ct, kind, got, params)
		}
		if got := transcoder.RequestBodyKind(strings.ToUpper(typ)); isASCII(typ) && got != kind {
			t.Fatalf("RequestBodyKind(%q) = %d but %d in upper case", ct, kind, got)
		}
		if mt, _, err := mime.ParseMediaType(ct); err == nil {
			if got := transcoder.RequestBodyKind(mt); got != kind {
				t.Fatalf("RequestBodyKind(%q) = %d but %d for the type mime.ParseMediaType reads, %q", ct, kind, got, mt)
			}
		}
	})
}

// stringsOf lists, sorted, the string and bytes values of m and of the messages in it, map keys
// included; an Any's content is left out (its value is bytes of another type).
func stringsOf(m protoreflect.Message) []string {
	var out []string
	var walk func(m protoreflect.Message)
	value := func(fd protoreflect.FieldDescriptor, v protoreflect.Value) {
		switch {
		case fd.Kind() == protoreflect.StringKind:
			out = append(out, v.String())
		case fd.Kind() == protoreflect.BytesKind:
			out = append(out, string(v.Bytes()))
		case fd.Message() != nil:
			walk(v.Message())
		}
	}
	walk = func(m protoreflect.Message) {
		if m.Descriptor().FullName() == "google.protobuf.Any" {
			return
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList():
				for i := range v.List().Len() {
					value(fd, v.List().Get(i))
				}
			case fd.IsMap():
				v.Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
					if fd.MapKey().Kind() == protoreflect.StringKind {
						out = append(out, k.String())
					}
					value(fd.MapValue(), v)
					return true
				})
			default:
				value(fd, v)
			}
			return true
		})
	}
	walk(m)
	slices.Sort(out)
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// FuzzQueryValue checks that a query parameter's text reads as the README says: as the field's
// JSON form reads from a string in a body, so that ?field=text builds the request {"field": "text"}
// builds, but where the README says otherwise. An integer is read in decimal as grpc-gateway reads
// it (strconv: "+1" and "007" too, "1e3" not), a float or a double as textvalue.Float reads it
// (every value a body takes, and "+1", ".5", "007" too), a Duration also in Go's form ("1m30s").
// A map key's text reads as the key of a JSON object: ?byZig[text]=RED builds what
// {"byZig": {"text": "RED"}} does.
func FuzzQueryValue(f *testing.F) {
	for _, s := range []string{"0", "-0", "1", "+1", "007", "1e3", "1.0", "-1", "2147483648", "-9223372036854775809",
		"18446744073709551615", "0.5", ".5", "5.", "-.5", "1e400", "1e-400", "1e39", "NaN", "Infinity", "-Infinity",
		"inf", "0x1p3", "1_0", " 1", "1s", "1.5s", "-0.000000001s", ".5s", "1m30s", "2024-01-02T03:04:05Z", "AAEC", "AAE",
		"-_8="} {
		for field := range byte(len(queryValueFields)) {
			f.Add(field, s)
		}
	}
	h, kitchen := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, field byte, text string) {
		if !utf8.ValidString(text) {
			return // no JSON string holds it
		}
		fd := queryValueFields[int(field)%len(queryValueFields)]
		param := fd.name + "=" + url.QueryEscape(text)
		var fields any = map[string]string{fd.name: text}
		if m, ok := strings.CutSuffix(fd.name, "[]"); ok {
			if strings.ContainsAny(text, "[]") {
				return // not a key a query can name
			}
			param = m + "[" + url.QueryEscape(text) + "]=RED"
			fields = map[string]map[string]string{m: {text: "RED"}}
		}
		query := &http.Request{Method: "GET", URL: &url.URL{Path: "/v1/kitchen", RawQuery: param}, Header: http.Header{}}
		fromQuery, qerr := transcoder.BuildRequest(h, httptest.NewRecorder(), query)
		js, _ := json.Marshal(fields)
		body := httptest.NewRequest("POST", "/v1/kitchen", bytes.NewReader(js))
		body.Header.Set("Content-Type", "application/json")
		fromBody, berr := transcoder.BuildRequest(h, httptest.NewRecorder(), body)
		want := berr == nil
		switch fd.kind {
		case 'i':
			_, err := strconv.ParseInt(text, 10, fd.bits)
			want = err == nil
		case 'u':
			_, err := strconv.ParseUint(text, 10, fd.bits)
			want = err == nil
		case 'f':
			_, ok := textvalue.Float(text, fd.bits)
			if !ok && berr == nil {
				t.Fatalf("%s: the body %s builds, but textvalue.Float refuses %q", param, js, text)
			}
			want = ok
		case 'd':
			_, err := time.ParseDuration(text)
			want = want || err == nil
		}
		switch {
		case (qerr == nil) != want:
			t.Fatalf("%s: query error %v, want accepted %v (body %s error %v)", param, qerr, want, js, berr)
		case qerr == nil && berr == nil:
			q, b := dynamicpb.NewMessage(kitchen), dynamicpb.NewMessage(kitchen)
			if err := errors.Join(proto.Unmarshal(fromQuery, q), proto.Unmarshal(fromBody, b)); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(q, b) {
				t.Fatalf("%s: the query builds %v, the body %s builds %v", param, q, js, b)
			}
		}
	})
}

// queryValueFields are the fields of Kitchen FuzzQueryValue sets, each with how its query value
// may read otherwise than its JSON string: 'i', 'u' an integer of bits bits, 'f' a float, 'd' a
// Duration; 0 not at all. A name ending in "[]" is a map's, whose keys it sets.
var queryValueFields = []struct {
	name string
	kind byte
	bits int
}{
	{"big", 'i', 64}, {"small", 'i', 32}, {"zig", 'i', 32}, {"opt", 'i', 32}, {"maybe", 'i', 64},
	{"ubig", 'u', 64}, {"fix", 'u', 64}, {"u32", 'u', 32},
	{"ratio", 'f', 64}, {"fratio", 'f', 32}, {"f32", 'f', 32},
	{"wait", 'd', 0}, {"at", 0, 0}, {"blob", 0, 0}, {"bval", 0, 0}, {"nick", 0, 0}, {"byZig[]", 0, 0}, {"labels[]", 0, 0},
}
