package transcoder_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/transcoder"
)

// TestHTTPRuleFeatures runs every HttpRule feature the shop lacks against an echo backend: the
// response is the request message, so it shows exactly what the transcoder built.
func TestHTTPRuleFeatures(t *testing.T) {
	h := synthHandler(t, "")
	const everything = "id=k&big=9007199254740993&ubig=18446744073709551615&small=-3&flag=true&ratio=0.5&fratio=1.5" +
		"&blob=AAEC&color=2&tags=a&tags=b&colors=RED&colors=2&labels[x]=y&inner.id=i&inner.color=GREEN&inner.nums=1" +
		"&inner.nums=2&customName=c&at=2024-01-02T03:04:05.5Z&wait=1.5s&mask=a.b,cD&nick=n&maybe=7" +
		"&extra=%7B%22k%22:1%7D&left=l&zig=-5&fix=7&child.child.id=deep&utm_source=ignored"
	cases := []struct {
		name, method, target, body string
		headers                    []string
		want                       string // a JSON subset of the response
	}{
		{"resource name", "GET", "/v1/projects/p1/things/t1", "", nil, `{"name":"projects/p1/things/t1"}`},
		{"double wildcard keeps %2F", "GET", "/v1/files/a%2Fb/c%20d", "", nil, `{"name":"a%2Fb/c d"}`},
		{"additional binding with verb", "GET", "/v1/projects/p1/things:first", "", nil, `{"name":"projects/p1"}`},
		{"custom verb, body *", "POST", "/v1/projects/p1/things/t1:publish", `{"count":5,"color":"RED"}`, nil,
			`{"name":"projects/p1/things/t1","count":"5","color":"RED"}`},
		{"path wins over body", "POST", "/v1/projects/p1/things/t1:publish", `{"name":"other"}`, nil, `{"name":"projects/p1/things/t1"}`},
		{"every query kind", "GET", "/v1/kitchen?" + everything, "", nil,
			`{"id":"k","big":"9007199254740993","ubig":"18446744073709551615","small":-3,"flag":true,"ratio":0.5,"fratio":1.5,
			"blob":"AAEC","color":"GREEN","tags":["a","b"],"colors":["RED","GREEN"],"labels":{"x":"y"},
			"inner":{"id":"i","color":"GREEN","nums":[1,2]},"customName":"c","at":"2024-01-02T03:04:05.500Z","wait":"1.500s",
			"mask":"a.b,cD","nick":"n","maybe":"7","extra":{"k":1},"left":"l","zig":-5,"fix":"7","child":{"child":{"id":"deep"}}}`},
		{"float specials and exponents in query", "GET", "/v1/kitchen?ratio=-Infinity&fratio=NaN&ds=Infinity&ds=1e3&ds=-2.5E-1", "", nil,
			`{"ratio":"-Infinity","fratio":"NaN","ds":["Infinity",1000,-0.25]}`},
		{"query by proto names", "GET", "/v1/kitchen?renamed=r&inner.nums=3&color=RED", "", nil, `{"customName":"r","inner":{"nums":[3]},"color":"RED"}`},
		{"zero values once each", "GET", "/v1/kitchen?small=0&child.small=0&child.child.small=0&labels[a]=&labels[b]=&tags=&tags=", "", nil,
			`{"child":{"child":{}},"labels":{"a":"","b":""},"tags":["",""]}`},
		{"query naming path fields is ignored", "GET", "/v1/kitchen/k1?inner.id=q&inner.id=r&inner.color=RED", "", nil, `{"inner":{"id":"k1","color":"RED"}}`},
		{"query naming a path field given zero is ignored", "GET", "/v1/counts/0?count=5&count=6", "", nil, `{}`},
		{"escaped query", "GET", "/v1/kitchen?id=a+b%26c&labels%5Bk%201%5D=v", "", nil, `{"id":"a b&c","labels":{"k 1":"v"}}`},
		{"nested path field", "GET", "/v1/kitchen/k1?inner.color=RED", "", nil, `{"inner":{"id":"k1","color":"RED"}}`},
		{"single segment decodes %2F", "GET", "/v1/kitchen/a%2Fb", "", nil, `{"inner":{"id":"a/b"}}`},
		{"literal beats variable", "GET", "/v1/kitchen/mine?id=m", "", nil, `{"id":"m"}`},
		{"body field", "PUT", "/v1/kitchen/k1/inner?small=2", `{"id":"x","color":1}`, nil, `{"id":"k1","small":2,"inner":{"id":"x","color":"RED"}}`},
		{"query cannot set the body field", "PUT", "/v1/kitchen/k1/inner?inner.id=q", `{"id":"x"}`, nil, `{"inner":{"id":"x"}}`},
		{"repeated body field", "POST", "/v1/kitchen/k1/tags", `["a","b"]`, nil, `{"id":"k1","tags":["a","b"]}`},
		{"response_body message", "GET", "/v1/kitchen/k1:inner?inner.id=z", "", nil, `{"id":"z"}`},
		{"response_body repeated", "GET", "/v1/kitchen/k1:tags?tags=x&tags=y", "", nil, `["x","y"]`},
		{"response_body int64", "GET", "/v1/kitchen/k1:big?big=5", "", nil, `"5"`},
		{"response_body unset", "GET", "/v1/kitchen/k1:big", "", nil, `"0"`},
		{"response_body closed enum unset", "GET", "/v1/legacy/x:mood", "", nil, `"CALM"`}, // its default: Mood has no 0
		// An unset proto2 field is its declared default, as protojson and the generated getters read it.
		{"response_body proto2 string default", "GET", "/v1/legacy/x:s", "", nil, `"dflt"`},
		{"response_body proto2 int32 default", "GET", "/v1/legacy/x:n", "", nil, `42`},
		{"response_body proto2 int64 default", "GET", "/v1/legacy/x:big", "", nil, `"-7"`},
		{"response_body proto2 bool default", "GET", "/v1/legacy/x:on", "", nil, `true`},
		{"response_body proto2 bytes default", "GET", "/v1/legacy/x:raw", "", nil, `"aGk="`},
		{"response_body proto2 double default", "GET", "/v1/legacy/x:ratio", "", nil, `"Infinity"`},
		{"response_body proto2 enum default", "GET", "/v1/legacy/x:grumpy", "", nil, `"GRUMPY"`},
		{"response_body proto2 set to zero", "GET", "/v1/legacy/x:n?n=0", "", nil, `0`},
		{"int64 as number, enum by number, json_name", "POST", "/v1/kitchen", `{"big":12,"color":2,"customName":"a","ubig":"3"}`, nil,
			`{"big":"12","color":"GREEN","customName":"a","ubig":"3"}`},
		{"proto names in body", "POST", "/v1/kitchen", `{"renamed":"b","inner":{"nums":[1]}}`, nil, `{"customName":"b","inner":{"nums":[1]}}`},
		{"well-known types in body", "POST", "/v1/kitchen", `{"at":"2024-01-02T03:04:05Z","wait":"2s","mask":"inner.id","nick":"n","maybe":"-1","extra":{"a":[1,"x"]}}`, nil,
			`{"at":"2024-01-02T03:04:05Z","wait":"2s","mask":"inner.id","nick":"n","maybe":"-1","extra":{"a":[1,"x"]}}`},
		{"Any of a registered type", "POST", "/v1/kitchen", `{"any":{"@type":"type.googleapis.com/synth.v1.Thing","name":"x","count":"3"}}`, nil,
			`{"any":{"@type":"type.googleapis.com/synth.v1.Thing","name":"x","count":"3"}}`},
		{"Any of a linked type", "POST", "/v1/kitchen", `{"any":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"3s"}}`, nil,
			`{"any":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"3s"}}`},
		{"merge-patch JSON", "POST", "/v1/kitchen", `{"id":"mp"}`, []string{"Content-Type", "application/merge-patch+json"}, `{"id":"mp"}`},
		{"empty body", "POST", "/v1/kitchen", ``, nil, `{}`},
		{"PATCH fills update_mask", "PATCH", "/v1/kitchens/k1", `{"small":1,"inner":{"id":"i"}}`, nil,
			`{"kitchen":{"id":"k1","small":1,"inner":{"id":"i"}},"updateMask":"inner.id,small"}`},
		{"PATCH keeps a given update_mask", "PATCH", "/v1/kitchens/k1?update_mask=small", `{"small":1,"flag":true}`, nil,
			`{"kitchen":{"id":"k1","small":1,"flag":true},"updateMask":"small"}`},
		{"custom HTTP method", "REPORT", "/v1/reports/r1", "", nil, `{"name":"r1"}`},
		{"int path variable", "GET", "/v1/counts/42", "", nil, `{"count":"42"}`},
		{"default route", "POST", "/synth.v1.Things/NoRule", `{"name":"n"}`, nil, `{"name":"n"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := call(h, tc.method, tc.target, tc.body, tc.headers...)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			wantJSON(t, w.Body.Bytes(), tc.want)
		})
	}
}

func TestHTTPBody(t *testing.T) {
	h := synthHandler(t, "")
	w := call(h, "POST", "/v1/upload", "hello, world", "Content-Type", "", "Content-Type", "text/plain; charset=utf-8")
	if w.Code != http.StatusOK || w.Body.String() != "hello, world" || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("upload: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	w = call(h, "GET", "/v1/download/f?content_type=text/csv&data="+base64.URLEncoding.EncodeToString([]byte("a,b\n")), "")
	if w.Code != http.StatusOK || w.Body.String() != "a,b\n" || w.Header().Get("Content-Type") != "text/csv" {
		t.Errorf("download: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	w = call(h, "GET", "/v1/download/f", "")
	if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Type") != "application/octet-stream" {
		t.Errorf("empty download: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
}

func TestBinaryProtobuf(t *testing.T) {
	h := synthHandler(t, "")
	// Thing{count: 2, color: GREEN}
	body := protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 2)
	body = protowire.AppendVarint(protowire.AppendTag(body, 3, protowire.VarintType), 2)
	for _, ct := range []string{"application/x-protobuf", "application/protobuf"} {
		w := call(h, "POST", "/v1/projects/p/things/t:publish", string(body), "Content-Type", "", "Content-Type", ct, "Accept", ct)
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != ct {
			t.Fatalf("%s: %d %q: %s", ct, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
		got := wireFields(t, w.Body.Bytes())
		if got[1] != "projects/p/things/t" || got[2] != "\x02" || got[3] != "\x02" {
			t.Errorf("%s: response fields %q, want name, count 2, color 2", ct, got)
		}
	}
	// A binary body without path variables passes through as it is; JSON comes back by default.
	w := call(h, "POST", "/v1/kitchen", string(protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "bin")),
		"Content-Type", "", "Content-Type", "application/x-protobuf")
	if w.Code != http.StatusOK {
		t.Fatalf("%d: %s", w.Code, w.Body)
	}
	wantJSON(t, w.Body.Bytes(), `{"id":"bin"}`)
	// Accept by q-value.
	w = call(h, "GET", "/v1/kitchen?id=q", "", "Accept", "application/json;q=0.5, application/x-protobuf")
	if w.Header().Get("Content-Type") != "application/x-protobuf" || w.Body.String() != "\x0a\x01q" {
		t.Errorf("preferred protobuf: %q %q", w.Header().Get("Content-Type"), w.Body)
	}
	w = call(h, "GET", "/v1/kitchen?id=q", "", "Accept", "application/x-protobuf;q=0.1, */*")
	if w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("preferred JSON: %q", w.Header().Get("Content-Type"))
	}
}

func TestHeaders(t *testing.T) {
	h := synthHandler(t, "", transcoder.WithHeaders("X-Request-Id", "X-Hop"))
	w := call(h, "GET", "/v1/kitchen", "",
		"Authorization", "Bearer t0k",
		"Grpc-Metadata-X-Trace", "t1",
		"Grpc-Metadata-Blob-Bin", base64.StdEncoding.EncodeToString([]byte{0, 1, 2}),
		"Grpc-Metadata-Grpc-Timeout", "1n", // reserved: dropped
		"Grpc-Metadata-Connection", "close", // hop-by-hop: dropped
		"X-Forwarded-For", "203.0.113.7",
		"X-Request-Id", "r-1",
		"X-Hop", "dropped", "Connection", "X-Hop",
		"X-Other", "not allowlisted",
		"Grpc-Timeout", "3S",
	)
	if w.Code != http.StatusOK {
		t.Fatalf("%d: %s", w.Code, w.Body)
	}
	got := w.Header()
	for name, want := range map[string]string{
		"Grpc-Metadata-Echo-Authorization":     "Bearer t0k",
		"Grpc-Metadata-Echo-X-Trace":           "t1",
		"Grpc-Metadata-Echo-Blob-Bin":          base64.StdEncoding.EncodeToString([]byte{0, 1, 2}),
		"Grpc-Metadata-Echo-X-Request-Id":      "r-1",
		"Grpc-Metadata-Echo-X-Forwarded-For":   "203.0.113.7, 192.0.2.1",
		"Grpc-Metadata-Echo-X-Forwarded-Host":  "example.com",
		"Grpc-Metadata-Echo-X-Forwarded-Proto": "http",
		"Grpc-Trailer-Echo-Trailer":            "done",
		"Grpc-Trailer-Echo-Bin":                base64.StdEncoding.EncodeToString([]byte{0, 1}),
	} {
		if v := got.Get(name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	for _, name := range []string{"Grpc-Metadata-Echo-X-Other", "Grpc-Metadata-Echo-X-Hop", "Grpc-Metadata-Echo-Connection", "Grpc-Metadata-Echo-Content-Type"} {
		if v := got.Get(name); v != "" {
			t.Errorf("%s = %q, want it absent", name, v)
		}
	}
	ms, err := strconv.Atoi(got.Get("Grpc-Metadata-Echo-Deadline"))
	if err != nil || ms <= 0 || ms > 3000 {
		t.Errorf("upstream deadline %q ms, want within Grpc-Timeout 3S", got.Get("Grpc-Metadata-Echo-Deadline"))
	}
	if _, err := transcoder.NewHandler(func() *transcoder.Router { return nil }, nil); err == nil {
		t.Error("NewHandler without upstreams succeeded")
	}
	for _, bad := range []string{"Connection", "Transfer-Encoding", "Grpc-Timeout", "bad header"} {
		if _, err := transcoder.NewHandler(func() *transcoder.Router { return nil }, fakeUpstreams{}, transcoder.WithHeaders(bad)); err == nil {
			t.Errorf("WithHeaders(%q) accepted", bad)
		}
	}
}

// TestErrors checks that every failure is a google.rpc.Status with the right HTTP status, and that
// bad input names what is wrong.
func TestErrors(t *testing.T) {
	h := synthHandler(t, "", transcoder.WithMaxBodyBytes(256))
	big := `{"id":"` + strings.Repeat("x", 300) + `"}`
	cases := []struct {
		name, method, target, body string
		headers                    []string
		status, code               int
		mention                    string // the message contains it
		field                      string // the BadRequest detail names it
	}{
		{"bad JSON", "POST", "/v1/kitchen", `{"big":`, nil, 400, 3, "invalid JSON body", ""},
		{"JSON of the wrong type", "POST", "/v1/kitchen", `{"small":"many"}`, nil, 400, 3, "small", ""},
		{"unknown field", "POST", "/v1/kitchen", `{"bogus":1}`, nil, 400, 3, `unknown field "bogus"`, "bogus"},
		{"unknown field in a body field", "PUT", "/v1/kitchen/k/inner", `{"nope":1}`, nil, 400, 3, `unknown field "nope"`, "inner.nope"},
		{"Any of an unknown type", "POST", "/v1/kitchen", `{"any":{"@type":"type.googleapis.com/acme.Nope"}}`, nil, 400, 3, "acme.Nope", ""},
		{"two JSON values for a field body", "POST", "/v1/kitchen/k/tags", `["a"],"id":"x"`, nil, 400, 3, "not one JSON value", "tags"},
		// A body of one field that is not a message is decoded wrapped in {"tags": ...}: the error
		// names the field, at its position in the body as sent.
		{"wrong type in a repeated field body", "POST", "/v1/kitchen/k/tags", `["a", 1]`, nil, 400, 3,
			"invalid JSON body for field tags: (line 1:7): invalid value for string field tags: 1", "tags[1]"},
		{"wrong type in a repeated field body, line 2", "POST", "/v1/kitchen/k/tags", "[\"a\",\n 1]", nil, 400, 3,
			"invalid JSON body for field tags: (line 2:2)", "tags[1]"},
		{"object for a repeated field body", "POST", "/v1/kitchen/k/tags", ` {"a": 1}`, nil, 400, 3,
			"invalid JSON body for field tags: syntax error (line 1:2): unexpected token {", "tags"},
		{"bad enum in query", "GET", "/v1/kitchen?color=PURPLE", "", nil, 400, 3, "color", "color"},
		{"bad nested enum in query", "GET", "/v1/kitchen?inner.color=BLUE", "", nil, 400, 3, "inner.color", "inner.color"},
		{"bad int in query", "GET", "/v1/kitchen?small=1.5", "", nil, 400, 3, "small", "small"},
		{"int out of range in query", "GET", "/v1/kitchen?small=4294967296", "", nil, 400, 3, "small", "small"},
		// Go's float literals are no JSON numbers: hex floats, '_' between digits.
		{"hex double in query", "GET", "/v1/kitchen?ratio=0x1p3", "", nil, 400, 3, `"0x1p3" for query parameter ratio: not a double`, "ratio"},
		{"digit separators in query", "GET", "/v1/kitchen?ratio=1_000", "", nil, 400, 3, "ratio", "ratio"},
		{"hex float in query", "GET", "/v1/kitchen?fratio=0X1P-2", "", nil, 400, 3, "not a float", "fratio"},
		{"hex in a repeated double", "GET", "/v1/kitchen?ds=1&ds=0x1p4", "", nil, 400, 3, "ds", "ds"},
		{"bad timestamp in query", "GET", "/v1/kitchen?at=yesterday", "", nil, 400, 3, "at", "at"},
		{"bad bytes in query", "GET", "/v1/kitchen?blob=***", "", nil, 400, 3, "blob", "blob"},
		{"singular field twice", "GET", "/v1/kitchen?small=1&small=2", "", nil, 400, 3, "small", "small"},
		{"oneof twice", "GET", "/v1/kitchen?left=a&right=b", "", nil, 400, 3, "oneof", "right"},
		// A singular field or map key given twice is refused whatever the values and their order:
		// a zero value leaves a field without presence unset, and the second must not pass for the
		// first.
		{"zero, then a value", "GET", "/v1/kitchen?small=0&small=5", "", nil, 400, 3, `"5" for query parameter small: set more than once`, "small"},
		{"a value, then zero", "GET", "/v1/kitchen?small=5&small=0", "", nil, 400, 3, `"0" for query parameter small: set more than once`, "small"},
		{"zero twice", "GET", "/v1/kitchen?flag=false&flag=false", "", nil, 400, 3, "set more than once", "flag"},
		{"zero twice, past the first eight zero values", "GET", "/v1/kitchen?small=0&big=0&ubig=0&ratio=0&fratio=0&color=0&zig=0&fix=0&id=&customName=&flag=false&flag=true", "", nil, 400, 3, "set more than once", "flag"},
		{"zero enum, then a value", "GET", "/v1/kitchen?inner.color=COLOR_UNSPECIFIED&inner.color=RED", "", nil, 400, 3, "set more than once", "inner.color"},
		{"empty string by JSON name, then by proto name", "GET", "/v1/kitchen?customName=&renamed=r", "", nil, 400, 3, "set more than once", "renamed"},
		{"map key twice", "GET", "/v1/kitchen?labels[a]=1&labels[a]=2", "", nil, 400, 3, `"2" for query parameter labels[a]: set more than once`, "labels[a]"},
		{"map key twice, spelt two ways", "GET", "/v1/kitchen?byZig[7]=RED&byZig[07]=RED", "", nil, 400, 3, "set more than once", "byZig[07]"},
		{"message from text", "GET", "/v1/kitchen?inner=x", "", nil, 400, 3, "inner", "inner"},
		{"map without key", "GET", "/v1/kitchen?labels=x", "", nil, 400, 3, "labels", "labels"},
		{"bad int in path", "GET", "/v1/counts/abc", "", nil, 400, 3, "count", "count"},
		{"no route", "GET", "/v1/nothing", "", nil, 404, 5, "no route for GET /v1/nothing", ""},
		{"wrong method", "DELETE", "/v1/kitchen", "", nil, 405, 12, "DELETE", ""},
		{"body too large", "POST", "/v1/kitchen", big, nil, 413, 8, "larger than", ""},
		{"unsupported content type", "POST", "/v1/kitchen", `{}`, []string{"Content-Type", "", "Content-Type", "text/plain"}, 415, 3, "text/plain", ""},
		{"binary body for a repeated field", "POST", "/v1/kitchen/k/tags", "\x0a\x01a", []string{"Content-Type", "", "Content-Type", "application/x-protobuf"}, 415, 3, "not a message", ""},
		{"bad binary body", "POST", "/v1/kitchen", "\xff\xff", []string{"Content-Type", "", "Content-Type", "application/protobuf"}, 400, 3, "invalid protobuf body", ""},
		{"bad Grpc-Timeout", "GET", "/v1/kitchen", "", []string{"Grpc-Timeout", "soon"}, 400, 3, "Grpc-Timeout", "Grpc-Timeout"},
		{"bad binary metadata", "GET", "/v1/kitchen", "", []string{"Grpc-Metadata-X-Bin", "!!"}, 400, 3, "base64", "Grpc-Metadata-X-Bin"},
		{"non-ASCII metadata", "GET", "/v1/kitchen", "", []string{"Grpc-Metadata-X-Name", "Zoë"}, 400, 3, "ASCII", "Grpc-Metadata-X-Name"},
		{"streaming method", "GET", "/v1/watch/w", "", nil, 501, 12, "server-streaming", ""},
		{"upstream deadline", "GET", "/v1/slow", "", []string{"Grpc-Timeout", "50m"}, 504, 4, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := call(h, tc.method, tc.target, tc.body, tc.headers...)
			st := decodeStatus(t, w)
			if w.Code != tc.status || st.Code != tc.code {
				t.Fatalf("HTTP %d code %d, want %d code %d: %s", w.Code, st.Code, tc.status, tc.code, w.Body)
			}
			if !strings.Contains(st.Message, tc.mention) {
				t.Errorf("message %q does not mention %q", st.Message, tc.mention)
			}
			if tc.field != "" {
				if len(st.Details) != 1 || st.Details[0]["@type"] != "type.googleapis.com/google.rpc.BadRequest" ||
					!strings.Contains(w.Body.String(), `"field":"`+tc.field+`"`) {
					t.Errorf("details do not name field %s: %s", tc.field, w.Body)
				}
			}
			if tc.status == http.StatusMethodNotAllowed && w.Header().Get("Allow") != "GET, HEAD, POST" {
				t.Errorf("Allow = %q, want GET, HEAD, POST", w.Header().Get("Allow"))
			}
		})
	}

	t.Run("body too large, length unknown", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/v1/kitchen", io.MultiReader(strings.NewReader(big)))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if st := decodeStatus(t, w); w.Code != http.StatusRequestEntityTooLarge || st.Code != 8 {
			t.Errorf("HTTP %d: %s", w.Code, w.Body)
		}
	})
	t.Run("unknown fields discarded", func(t *testing.T) {
		h := synthHandler(t, "", transcoder.WithDiscardUnknown())
		w := call(h, "POST", "/v1/kitchen", `{"bogus":1,"id":"k"}`)
		if w.Code != http.StatusOK {
			t.Fatalf("%d: %s", w.Code, w.Body)
		}
		wantJSON(t, w.Body.Bytes(), `{"id":"k"}`)
	})
	t.Run("upstream NOT_FOUND keeps its details", func(t *testing.T) {
		w := call(h, "GET", "/v1/fail/x", "")
		st := decodeStatus(t, w)
		if w.Code != http.StatusNotFound || st.Code != 5 || st.Message != "thing not found" || len(st.Details) != 3 {
			t.Fatalf("HTTP %d: %s", w.Code, w.Body)
		}
		wantJSON(t, w.Body.Bytes(), `{"details":[
			{"@type":"type.googleapis.com/google.rpc.ResourceInfo","resourceType":"synth.v1.Thing","resourceName":"x"},
			{"@type":"type.googleapis.com/synth.v1.Thing","name":"x"},
			{"@type":"type.googleapis.com/acme.Mystery","value":"AQI="}]}`)
		if got := w.Header().Get("Grpc-Trailer-Echo-Trailer"); got != "done" {
			t.Errorf("trailer on error = %q", got)
		}
	})
	t.Run("malformed upstream response", func(t *testing.T) {
		// labels entry {key: "a", key: <varint>}: proto.Unmarshal of a dynamic message panics on it.
		// The echo backend answers it back; the gateway must answer 500, not crash.
		body := "\x62\x05\x0a\x01a\x08\x01"
		w := call(h, "POST", "/v1/kitchen", body, "Content-Type", "", "Content-Type", "application/x-protobuf")
		if st := decodeStatus(t, w); w.Code != http.StatusInternalServerError || st.Code != 13 || !strings.Contains(st.Message, "does not decode") {
			t.Errorf("HTTP %d: %s", w.Code, w.Body)
		}
	})
	t.Run("upstream down", func(t *testing.T) {
		h := synthHandler(t, testnet.Refused(t))
		w := call(h, "GET", "/v1/kitchen", "")
		if st := decodeStatus(t, w); w.Code != http.StatusServiceUnavailable || st.Code != 14 {
			t.Errorf("HTTP %d: %s", w.Code, w.Body)
		}
	})
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	transcoder.WriteError(w, io.ErrUnexpectedEOF)
	if st := decodeStatus(t, w); w.Code != http.StatusInternalServerError || st.Code != 13 {
		t.Errorf("plain error: HTTP %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	transcoder.WriteError(w, transcoder.NewError(codes.PermissionDenied, `denied "quoted" <html>`))
	if st := decodeStatus(t, w); w.Code != http.StatusForbidden || st.Message != `denied "quoted" <html>` {
		t.Errorf("HTTP %d %s", w.Code, w.Body)
	}
	for code := range 17 {
		if got := transcoder.HTTPStatus(codes.Code(code)); got < 200 || got > 599 {
			t.Errorf("HTTPStatus(%d) = %d", code, got)
		}
	}
}

// wireFields decodes a flat message: field number -> value bytes (varints as their encoding's payload).
func wireFields(t testing.TB, b []byte) map[protowire.Number]string {
	t.Helper()
	out := make(map[protowire.Number]string)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad wire data %x", b)
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			out[num] = string(protowire.AppendVarint(nil, v))
			n = m
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			out[num] = string(v)
			n = m
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			t.Fatalf("bad wire data %x", b)
		}
		b = b[n:]
	}
	return out
}

// refusingBody is a request body whose reading a policy refuses midway (a JSON limit of a body
// read as it arrives, as the sanitizer does for a chunked upload).
type refusingBody struct{ err error }

func (b refusingBody) Read([]byte) (int, error) { return 0, b.err }

// A policy's refusal met while the body is read reaches the client as the policy worded it, with
// its details, on the unary and the streaming paths alike.
func TestBodyReadRefusalKeepsDetails(t *testing.T) {
	h := synthHandler(t, "")
	st, _ := status.New(codes.InvalidArgument, "JSON string longer than the limit of 8 bytes").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "body", Description: "JSON string longer than the limit of 8 bytes"}},
	})
	for _, target := range []string{"/v1/projects/p/things/t:publish", "/v1/upload"} {
		r := httptest.NewRequest("POST", target, refusingBody{st.Err()})
		r.ContentLength = -1
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		got := decodeStatus(t, w)
		if w.Code != http.StatusBadRequest || got.Message != st.Message() || len(got.Details) != 1 || got.Details[0]["@type"] != "type.googleapis.com/google.rpc.BadRequest" {
			t.Errorf("%s: %d %s, want 400 with the refusal's message and BadRequest", target, w.Code, w.Body)
		}
	}
}
