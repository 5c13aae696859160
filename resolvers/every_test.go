package resolvers_test

import (
	"bytes"
	"context"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/resolvers"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/schema"
)

// echoBackend serves every.v1.Every: each unary method answers its request, untouched.
type echoBackend struct {
	started chan struct{} // receives once per Watch call
}

func (e *echoBackend) handle(_ any, ss grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(ss)
	var f routing.Frame
	defer f.Free()
	if err := ss.RecvMsg(&f); err != nil {
		return err
	}
	switch method {
	case "/every.v1.Every/Broken":
		f.SetBytes([]byte{0x0a, 0xff, 0xff}) // field 1, length far beyond the end
	case "/every.v1.Every/Fail":
		st := status.New(codes.FailedPrecondition, "the echo is tired")
		p := st.Proto()
		info, _ := anypb.New(&errdetails.ErrorInfo{Reason: "TIRED", Domain: "every.v1"})
		p.Details = append(p.Details, info, &anypb.Any{TypeUrl: "type.googleapis.com/acme.Mystery", Value: []byte{1, 2, 3}})
		return status.FromProto(p).Err()
	case "/every.v1.Every/Watch":
		return e.watch(ss, f.Bytes())
	}
	return ss.SendMsg(&f)
}

// watch streams req i32 times, or until cancelled when i32 is 0; with s "fail" it fails after the
// first message.
func (e *echoBackend) watch(ss grpc.ServerStream, req []byte) error {
	select {
	case e.started <- struct{}{}:
	default:
	}
	var n int64
	var fail bool
	for b := req; len(b) > 0; {
		num, typ, m := protowire.ConsumeTag(b)
		b = b[m:]
		m = protowire.ConsumeFieldValue(num, typ, b)
		switch {
		case num == 2 && typ == protowire.VarintType:
			v, _ := protowire.ConsumeVarint(b)
			n = int64(v)
		case num == 14 && typ == protowire.BytesType:
			v, _ := protowire.ConsumeBytes(b)
			fail = string(v) == "fail"
		}
		b = b[m:]
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := int64(0); n == 0 || i < n; i++ {
		var f routing.Frame
		f.SetBytes(append([]byte(nil), req...))
		if err := ss.SendMsg(&f); err != nil {
			return err
		}
		if fail {
			return status.Error(codes.ResourceExhausted, "the watch ran dry")
		}
		select {
		case <-ss.Context().Done():
			return status.FromContextError(ss.Context().Err()).Err()
		case <-tick.C:
		}
	}
	return nil
}

// everyGateway is the GraphQL front over every.v1.Every served by an echo backend.
type everyGateway struct {
	*gateway
	backend *echoBackend
}

func everyServices(t testing.TB) []protoreflect.ServiceDescriptor {
	t.Helper()
	return testdataServices(t, "every.proto")
}

// testdataServices compiles the .proto file name of testdata and returns its first service.
func testdataServices(t testing.TB, name string) []protoreflect.ServiceDescriptor {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	files, err := registry.FilesFromProtos(context.Background(), map[string]string{name: string(src)}, []string{name})
	if err != nil {
		t.Fatal(err)
	}
	fd, err := files.FindFileByPath(name)
	if err != nil {
		t.Fatal(err)
	}
	return []protoreflect.ServiceDescriptor{fd.Services().Get(0)}
}

func startEvery(t testing.TB, opts resolvers.Options) *everyGateway {
	t.Helper()
	return startEveryWith(t, opts, nil)
}

// startEveryWith is startEvery with the proxy wrapped by wrap, when set.
func startEveryWith(t testing.TB, opts resolvers.Options, wrap func(resolvers.Caller) resolvers.Caller) *everyGateway {
	t.Helper()
	return startEcho(t, everyServices(t), schema.Options{Links: []schema.Link{
		{OnType: "every.v1.Holder", Field: "echoed", Method: "every.v1.Every/Echo", Args: map[string]string{"s": "name"}},
		{OnType: "every.v1.Scalars", Field: "again", Method: "every.v1.Every/Echo", Args: map[string]string{"s": "s", "i32": "i32"}},
		{OnType: "every.v1.Scalars", Field: "failing", Method: "every.v1.Every/Fail", Args: map[string]string{"s": "s"}},
	}}, opts, wrap)
}

// startEcho serves the GraphQL front over services (of one file) answered by an echo backend,
// with the proxy wrapped by wrap, when set.
func startEcho(t testing.TB, services []protoreflect.ServiceDescriptor, sopts schema.Options, opts resolvers.Options, wrap func(resolvers.Caller) resolvers.Caller) *everyGateway {
	t.Helper()
	backend := &echoBackend{started: make(chan struct{}, 16)}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(backend.handle), grpc.ForceServerCodecV2(routing.Codec{}))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	files, err := registry.FilesOf(services[0].ParentFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := routing.NewPool(nil)
	t.Cleanup(func() { _ = pool.Close() })
	snap, err := registry.Compile(registry.Spec{Registrations: []*registry.Registration{
		{Name: "every", Endpoints: []string{lis.Addr().String()}, Files: files},
	}}, pool, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { snap.Retire(pool) })
	sch, err := schema.Build(services, sopts)
	if err != nil {
		t.Fatal(err)
	}
	var caller resolvers.Caller = routing.NewProxy(func() routing.State { return snap })
	if wrap != nil {
		caller = wrap(caller)
	}
	h, err := resolvers.NewHandler(sch, caller, opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(http.StripPrefix("", h))
	t.Cleanup(hs.Close)
	return &everyGateway{gateway: &gateway{calls: &observed{}, handler: h, url: hs.URL, schema: sch}, backend: backend}
}

// Every scalar goes in as an argument, through the request message, back in the echoed response,
// and out as its GraphQL value.
func TestScalarsRoundTrip(t *testing.T) {
	g := startEvery(t, resolvers.Options{})
	const fields = `b i32 s32 sf32 u32 f32 i64 s64 sf64 u64 f64 fl d s by color opt list counts colors strs inners text inner { name n } zigzags doubles`
	r := g.query(t, `query ($by: Bytes) { echo(b: true, i32: -5, s32: -7, sf32: -9, u32: 7, f32: 8,
		i64: "-9007199254740993", s64: -12, sf64: "13", u64: "18446744073709551615", f64: 42,
		fl: 1.5, d: 2.25, s: "h\u00e9llo \"q\"\n\t<&>", by: $by, color: COLOR_RED, opt: 0,
		list: ["1", -2, "9223372036854775807"], counts: {a: 1, b: -2}, colors: [COLOR_BLUE, COLOR_RED], strs: "one",
		inners: {_3: {name: "n", n: "5"}}, text: "t", zigzags: [-1, 2, -2147483648], doubles: [0.1, -1e-7, 1e21]) { `+fields+` } }`,
		"by", "AAEC/w==")
	// inners' key "_3" is not an int32.
	if len(r.Errors) != 1 || r.Errors[0].code() != "INVALID_ARGUMENT" || !contains(r.Errors[0].Message, "inners._3") {
		t.Fatalf("errors: %s", r.raw)
	}
	r = g.query(t, `query ($by: Bytes, $inners: JSON) { echo(b: true, i32: -5, s32: -7, sf32: -9, u32: 7, f32: 8,
		i64: "-9007199254740993", s64: -12, sf64: "13", u64: "18446744073709551615", f64: 42,
		fl: 1.5, d: 2.25, s: "h\u00e9llo \"q\"\n\t<&>", by: $by, color: COLOR_RED, opt: 0,
		list: ["1", -2, "9223372036854775807"], counts: {b: -2, a: 1}, colors: [COLOR_BLUE, COLOR_RED], strs: "one",
		inners: $inners, text: "t", zigzags: [-1, 2, -2147483648], doubles: [0.1, -1e-7, 1e21]) { `+fields+` } }`,
		"by", "AAEC/w==", "inners", map[string]any{"3": map[string]any{"name": "n", "n": "5"}, "-1": map[string]any{}}).ok(t)
	r.wantRawData(t, `{"echo":{"b":true,"i32":-5,"s32":-7,"sf32":-9,"u32":7,"f32":8,
		"i64":"-9007199254740993","s64":"-12","sf64":"13","u64":"18446744073709551615","f64":"42",
		"fl":1.5,"d":2.25,"s":"héllo \"q\"\n\t\u003c\u0026\u003e","by":"AAEC/w==","color":"COLOR_RED","opt":0,
		"list":["1","-2","9223372036854775807"],"counts":{"a":1,"b":-2},"colors":["COLOR_BLUE","COLOR_RED"],"strs":["one"],
		"inners":{"-1":{},"3":{"name":"n","n":"5"}},"text":"t","inner":null,"zigzags":[-1,2,-2147483648],"doubles":[0.1,-1e-7,1e+21]}}`)
}

func TestScalarsUnsetAndDefaults(t *testing.T) {
	g := startEvery(t, resolvers.Options{})
	g.query(t, `{ echo { b i32 u64 fl s by color opt list counts text inner { name } } }`).ok(t).
		wantRawData(t, `{"echo":{"b":false,"i32":0,"u64":"0","fl":0,"s":"","by":"","color":"COLOR_UNSPECIFIED","opt":null,"list":[],"counts":{},"text":null,"inner":null}}`)
}

func TestWrappersRoundTrip(t *testing.T) {
	g := startEvery(t, resolvers.Options{})
	g.query(t, `{ echoWrappers(d: 1.25, f: -0.5, i64: "-3", u64: "4", i32: 0, u32: 6, b: false, s: "", by: "AQ==") {
		d f i64 u64 i32 u32 b s by } }`).ok(t).
		wantRawData(t, `{"echoWrappers":{"d":1.25,"f":-0.5,"i64":"-3","u64":"4","i32":0,"u32":6,"b":false,"s":"","by":"AQ=="}}`)
	g.query(t, `{ echoWrappers(d: 1) { d f i64 s } }`).ok(t).
		wantRawData(t, `{"echoWrappers":{"d":1,"f":null,"i64":null,"s":null}}`)
}

func TestWellKnownRoundTrip(t *testing.T) {
	g := startEvery(t, resolvers.Options{})
	r := g.query(t, `query ($any: JSON) { echoKnown(at: "2024-05-01T14:30:00.5+02:00", took: "-1.5s", mask: ["fooBar", "a.bC", "plain_name"],
		st: {a: 1, b: [true, null, "x"], c: {d: 2.5}}, v: "str", lv: [1, "two"], any: $any, nothing: true,
		times: ["1970-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z"]) { at took mask st v lv any nothing times } }`,
		"any", map[string]any{"@type": "type.googleapis.com/google.protobuf.Duration", "value": "2s"}).ok(t)
	r.wantData(t, `{"echoKnown":{"at":"2024-05-01T12:30:00.500Z","took":"-1.500s","mask":["fooBar","a.bC","plainName"],
		"st":{"a":1,"b":[true,null,"x"],"c":{"d":2.5}},"v":"str","lv":[1,"two"],
		"any":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"2s"},"nothing":true,
		"times":["1970-01-01T00:00:00Z","9999-12-31T23:59:59.999999999Z"]}}`)
	g.query(t, `{ echoKnown { at took mask st any nothing times } }`).ok(t).
		wantRawData(t, `{"echoKnown":{"at":null,"took":null,"mask":null,"st":null,"any":null,"nothing":null,"times":[]}}`)
	g.query(t, `{ ping }`).ok(t).wantRawData(t, `{"ping":true}`)
}

// TestInvalidArguments: an argument GraphQL's validation takes but its method's input does not
// fails its field only (literals of the gateway's scalars are refused before anything runs:
// TestLiteralsRefused).
func TestInvalidArguments(t *testing.T) {
	g := startEvery(t, resolvers.Options{})
	for _, tc := range []struct {
		name, doc string
		vars      []any
		want      string // in the message
	}{
		{"float beyond 32 bits", `{ echo(fl: 1e39) { fl } }`, nil, "fl"},
		{"oneof", `{ echo(text: "a", inner: {name: "b"}) { text } }`, nil, "at most one of text, inner"},
		{"struct", `{ echoKnown(st: [1]) { st } }`, nil, "JSON object"},
		{"map value", `{ echo(counts: {a: "x"}) { counts } }`, nil, "counts.a"},
		{"map value in hex", `{ echo(counts: {a: "0x1p4"}) { counts } }`, nil, `argument counts.a: "0x1p4" is not an integer in range`},
		{"map key in hex", `query ($m: JSON) { echo(inners: $m) { s } }`, []any{"m", map[string]any{"0x1p4": map[string]any{"name": "a"}}}, `argument inners.0x1p4: key "0x1p4" is not an integer in range`},
		{"map key with an exponent", `query ($m: JSON) { echo(inners: $m) { s } }`, []any{"m", map[string]any{"1e1": map[string]any{"name": "a"}}}, `key "1e1" is not an integer`},
		{"any type", `query ($a: JSON) { echoKnown(any: $a) { any } }`, []any{"a", map[string]any{"@type": "type.googleapis.com/acme.Nope"}}, "any"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := g.query(t, tc.doc, tc.vars...)
			if len(r.Errors) != 1 {
				t.Fatalf("errors: %s", r.raw)
			}
			e := r.Errors[0]
			if e.code() != "INVALID_ARGUMENT" || !contains(e.Message, tc.want) || len(e.Path) != 1 {
				t.Errorf("error = %+v, want INVALID_ARGUMENT at the root field mentioning %q", e, tc.want)
			}
			if string(r.Data) == "null" || r.value(t, e.Path[0].(string)) != nil {
				t.Errorf("data = %s, want the field null", r.Data)
			}
		})
	}
}

func contains(s, sub string) bool { return len(sub) == 0 || len(s) >= len(sub) && indexOf(s, sub) >= 0 }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// A value that cannot be a GraphQL value fails its field; the null goes up to the nearest nullable
// field, and the rest of the data stays.
func TestNullPropagation(t *testing.T) {
	// GraphQL's Float cannot carry a NaN, nor can a request, so the requests carry a stand-in, 1.5,
	// that the caller swaps for a NaN on the wire: the echo then answers it, and it cannot be
	// written.
	stand := protowire.AppendFixed32(protowire.AppendTag(nil, 12, protowire.Fixed32Type), math.Float32bits(1.5))
	nan := protowire.AppendFixed32(protowire.AppendTag(nil, 12, protowire.Fixed32Type), math.Float32bits(float32(math.NaN())))
	g := startEveryWith(t, resolvers.Options{}, func(c resolvers.Caller) resolvers.Caller {
		return swapCaller{Caller: c, from: stand, to: nan}
	})
	r := g.query(t, `{
		holder: echoHolder(name: "h", one: {fl: 1.5}, items: [{fl: 1}, {fl: 1.5}]) {
			name
			one { fl s }
		}
		list: echoHolder(name: "l", items: [{fl: 1}, {fl: 1.5}]) { name items { fl } }
		fine: echo(s: "ok") { s }
	}`)
	r.wantRawData(t, `{"holder":{"name":"h","one":null},"list":null,"fine":{"s":"ok"}}`)
	if len(r.Errors) != 2 {
		t.Fatalf("errors: %s", r.raw)
	}
	paths := map[string]bool{}
	for _, e := range r.Errors {
		paths[pathString(e.Path)] = true
		if e.code() != "OUT_OF_RANGE" {
			t.Errorf("code %q", e.code())
		}
	}
	if !paths["holder.one.fl"] || !paths["list.items.1.fl"] {
		t.Errorf("paths = %v", paths)
	}
}

// A double that is infinite or NaN in a non-null Float field fails that field with OUT_OF_RANGE, and
// the null goes up to the parent, as GraphQL requires; in a nullable one (a DoubleValue) only the
// field is null.
func TestNullPropagationDouble(t *testing.T) {
	double := func(num protowire.Number, f float64) []byte {
		return protowire.AppendFixed64(protowire.AppendTag(nil, num, protowire.Fixed64Type), math.Float64bits(f))
	}
	for _, bad := range []float64{math.Inf(1), math.Inf(-1), math.NaN()} {
		// Stand-ins the caller swaps for bad on the wire: Scalars.d and Wrappers.d's value.
		g := startEveryWith(t, resolvers.Options{}, func(c resolvers.Caller) resolvers.Caller {
			return swapCaller{Caller: swapCaller{Caller: c, from: double(13, 2.25), to: double(13, bad)}, from: double(1, 3.25), to: double(1, bad)}
		})
		r := g.query(t, `{
			holder: echoHolder(name: "h", one: {d: 2.25}) { name one { d s } }
			root: echo(d: 2.25) { d }
			wrapped: echoWrappers(d: 3.25) { d s }
		}`)
		r.wantRawData(t, `{"holder":{"name":"h","one":null},"root":null,"wrapped":{"d":null,"s":null}}`)
		paths := map[string]bool{}
		for _, e := range r.Errors {
			paths[pathString(e.Path)] = true
			if e.code() != "OUT_OF_RANGE" || e.Message != "Float cannot represent a NaN or infinite value" {
				t.Errorf("%v: error %q %q", bad, e.code(), e.Message)
			}
		}
		if len(r.Errors) != 3 || !paths["holder.one.d"] || !paths["root.d"] || !paths["wrapped.d"] {
			t.Errorf("%v: errors %s", bad, r.raw)
		}
	}
}

// swapCaller replaces the bytes from with to in every unary request.
type swapCaller struct {
	resolvers.Caller
	from, to []byte
}

func (c swapCaller) CallUnary(ctx context.Context, method string, md metadata.MD, req, resp any, opts ...grpc.CallOption) error {
	f := req.(*routing.Frame)
	f.SetBytes(bytes.ReplaceAll(f.Bytes(), c.from, c.to))
	return c.Caller.CallUnary(ctx, method, md, req, resp, opts...)
}

func pathString(p []any) string {
	s := ""
	for i, e := range p {
		if i > 0 {
			s += "."
		}
		switch v := e.(type) {
		case string:
			s += v
		case float64:
			s += itoa(int(v))
		}
	}
	return s
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestUpstreamErrorsCarryCodeAndDetails(t *testing.T) {
	g := startEvery(t, resolvers.Options{})
	r := g.query(t, `{ fail { s } echo(s: "still here") { s } broken { s } }`)
	r.wantRawData(t, `{"fail":null,"echo":{"s":"still here"},"broken":null}`)
	if len(r.Errors) != 2 {
		t.Fatalf("errors: %s", r.raw)
	}
	for _, e := range r.Errors {
		if contains(e.Message, "rpc error") || contains(e.Message, "desc =") {
			t.Errorf("raw gRPC text reached the client: %q", e.Message)
		}
		switch pathString(e.Path) {
		case "fail":
			if e.code() != "FAILED_PRECONDITION" || e.Message != "the echo is tired" {
				t.Errorf("fail: %+v", e)
			}
			details, _ := e.Extensions["details"].([]any)
			if len(details) != 2 {
				t.Fatalf("details = %v", e.Extensions["details"])
			}
			d0, d1 := details[0].(map[string]any), details[1].(map[string]any)
			if d0["@type"] != "type.googleapis.com/google.rpc.ErrorInfo" || d0["reason"] != "TIRED" {
				t.Errorf("known detail = %v", d0)
			}
			if d1["@type"] != "type.googleapis.com/acme.Mystery" || d1["value"] != "AQID" {
				t.Errorf("unknown detail = %v", d1)
			}
			if len(e.Locations) != 1 {
				t.Errorf("locations = %v", e.Locations)
			}
		case "broken":
			if e.code() != "INTERNAL" {
				t.Errorf("broken: %+v", e)
			}
		default:
			t.Errorf("error at %v", e.Path)
		}
	}
}

func TestLinkWithArguments(t *testing.T) {
	g := startEvery(t, resolvers.Options{})
	g.query(t, `{ echoHolder(name: "from the parent") { echoed { s i32 } } }`).ok(t).
		wantRawData(t, `{"echoHolder":{"echoed":{"s":"from the parent","i32":0}}}`)
}

func TestLinkErrorsHaveTheirPath(t *testing.T) {
	g := startEvery(t, resolvers.Options{})
	r := g.query(t, `{ echoHolder(name: "h", items: [{s: "a"}, {s: "b"}]) { items { s failing { s } again { s } } } }`)
	r.wantRawData(t, `{"echoHolder":{"items":[{"s":"a","failing":null,"again":{"s":"a"}},{"s":"b","failing":null,"again":{"s":"b"}}]}}`)
	var paths []string
	for _, e := range r.Errors {
		paths = append(paths, pathString(e.Path))
		if e.code() != "FAILED_PRECONDITION" {
			t.Errorf("code %q", e.code())
		}
	}
	if len(paths) != 2 || paths[0] != "echoHolder.items.0.failing" || paths[1] != "echoHolder.items.1.failing" {
		t.Errorf("paths = %v", paths)
	}
}

// uint32 and fixed32 are UInt32: numbers on output up to 2^32-1, which GraphQL's Int cannot hold;
// numbers or decimal strings on input, as literals and as variables.
func TestUInt32(t *testing.T) {
	g := startEvery(t, resolvers.Options{})
	const want = `{"echo":{"u32":4294967295,"f32":3000000000,"zigzags":[]},"echoWrappers":{"u32":2147483648}}`
	g.query(t, `{ echo(u32: 4294967295, f32: "3000000000") { u32 f32 zigzags } echoWrappers(u32: 2147483648) { u32 } }`).
		ok(t).wantRawData(t, want)
	postVariables(t, g.gateway, `query ($a: UInt32, $b: UInt32!, $c: UInt32) { echo(u32: $a, f32: $b) { u32 f32 zigzags } echoWrappers(u32: $c) { u32 } }`,
		`{"a": "4294967295", "b": 3000000000, "c": 2147483648}`).ok(t).wantRawData(t, want)
	g.query(t, `{ echo { u32 f32 } echoHolder(items: [{u32: "0", f32: 1}]) { items { u32 f32 } } }`).ok(t).
		wantRawData(t, `{"echo":{"u32":0,"f32":0},"echoHolder":{"items":[{"u32":0,"f32":1}]}}`)
}

// An enum number the registered descriptor does not know (the upstream has a newer version) fails
// its field, saying so; its null goes up to the nearest nullable field, as for any field error.
func TestUnknownEnumNumber(t *testing.T) {
	// A request cannot carry the number, so it carries COLOR_RED (1), which the caller swaps for 99
	// on the wire (field 16, a varint): the echo then answers it.
	red := protowire.AppendVarint(protowire.AppendTag(nil, 16, protowire.VarintType), 1)
	unknown := protowire.AppendVarint(protowire.AppendTag(nil, 16, protowire.VarintType), 99)
	g := startEveryWith(t, resolvers.Options{}, func(c resolvers.Caller) resolvers.Caller {
		return swapCaller{Caller: c, from: red, to: unknown}
	})
	r := g.query(t, `{ echoHolder(name: "h", one: {color: COLOR_RED, s: "x"}) { name one { s color } } }`)
	r.wantRawData(t, `{"echoHolder":{"name":"h","one":null}}`)
	if len(r.Errors) != 1 {
		t.Fatalf("errors: %s", r.raw)
	}
	e := r.Errors[0]
	const want = "enum every.v1.Color has no value numbered 99 in the registered descriptors: the upstream knows a newer version; register it again"
	if e.code() != "INTERNAL" || e.Message != want || pathString(e.Path) != "echoHolder.one.color" {
		t.Errorf("error = %+v, want INTERNAL at echoHolder.one.color: %s", e, want)
	}
}

// A float input takes every value that rounds to a finite float32, as protobuf's JSON does: the
// largest, 3.4028235e+38, is what the gateway writes, so it must read it back.
func TestFloat32Range(t *testing.T) {
	g := startEvery(t, resolvers.Options{})
	const want = `{"echo":{"fl":3.4028235e+38,"list":[]},"echoWrappers":{"f":-3.4028235e+38}}`
	g.query(t, `{ echo(fl: 3.4028235e+38) { fl list } echoWrappers(f: -3.4028235e+38) { f } }`).ok(t).wantRawData(t, want)
	postVariables(t, g.gateway, `query ($a: Float, $b: Float) { echo(fl: $a) { fl list } echoWrappers(f: $b) { f } }`,
		`{"a": 3.4028235e+38, "b": -3.40282356e+38}`).ok(t).wantRawData(t, want)
	g.query(t, `{ echo(fl: 1e-50) { fl } }`).ok(t).wantRawData(t, `{"echo":{"fl":0}}`)
	for _, lit := range []string{"3.40282357e+38", "-1e39"} {
		r := g.query(t, `{ echo(fl: `+lit+`) { fl } }`)
		if len(r.Errors) != 1 || r.Errors[0].code() != "INVALID_ARGUMENT" || r.Errors[0].Message != "argument fl: "+lit+" is beyond the range of a 32-bit float" {
			t.Errorf("%s: %s", lit, r.raw)
		}
	}
}
