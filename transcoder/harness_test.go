package transcoder_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"

	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/transcoder"
)

// synthProto exercises the HttpRule features the shop does not: resource-name patterns, "**",
// custom verbs and methods, response_body, additional_bindings, HttpBody, nested path fields,
// json_name, every scalar kind, well-known types and Any.
const synthProto = `syntax = "proto3";
package synth.v1;

import "google/api/annotations.proto";
import "google/api/httpbody.proto";
import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

service Things {
  rpc GetThing(Thing) returns (Thing) {
    option (google.api.http) = {
      get: "/v1/{name=projects/*/things/*}"
      additional_bindings { get: "/v1/files/{name=**}" }
      additional_bindings { get: "/v1/{name=projects/*}/things:first" }
    };
  }
  rpc PublishThing(Thing) returns (Thing) {
    option (google.api.http) = {post: "/v1/{name=projects/*/things/*}:publish" body: "*"};
  }
  rpc Echo(Kitchen) returns (Kitchen) {
    option (google.api.http) = {
      get: "/v1/kitchen"
      additional_bindings { get: "/v1/kitchen/{inner.id}" }
      additional_bindings { post: "/v1/kitchen" body: "*" }
      additional_bindings { put: "/v1/kitchen/{id}/inner" body: "inner" }
      additional_bindings { post: "/v1/kitchen/{id}/tags" body: "tags" }
      additional_bindings { get: "/v1/kitchen/{id}:inner" response_body: "inner" }
      additional_bindings { get: "/v1/kitchen/{id}:tags" response_body: "tags" }
      additional_bindings { get: "/v1/kitchen/{id}:big" response_body: "big" }
      additional_bindings { get: "/v1/kitchen/mine" }
    };
  }
  rpc Update(UpdateKitchenRequest) returns (UpdateKitchenRequest) {
    option (google.api.http) = {patch: "/v1/kitchens/{kitchen.id}" body: "kitchen"};
  }
  rpc Upload(google.api.HttpBody) returns (google.api.HttpBody) {
    option (google.api.http) = {post: "/v1/upload" body: "*"};
  }
  rpc Download(DownloadRequest) returns (google.api.HttpBody) {
    option (google.api.http) = {get: "/v1/download/{name}"};
  }
  rpc Report(Thing) returns (Thing) {
    option (google.api.http) = {
      custom: {kind: "REPORT" path: "/v1/reports/{name}"}
      additional_bindings { get: "/v1/counts/{count}" }
    };
  }
  rpc Fail(Thing) returns (Thing) {
    option (google.api.http) = {get: "/v1/fail/{name}"};
  }
  rpc Slow(Thing) returns (Thing) {
    option (google.api.http) = {get: "/v1/slow"};
  }
  rpc NoRule(Thing) returns (Thing);
  rpc Watch(Thing) returns (stream Thing) {
    option (google.api.http) = {get: "/v1/watch/{name}"};
  }
  rpc Tail(DownloadRequest) returns (stream google.api.HttpBody) {
    option (google.api.http) = {get: "/v1/tail/{name}"};
  }
}

enum Color {
  COLOR_UNSPECIFIED = 0;
  RED = 1;
  GREEN = 2;
}

message Thing {
  string name = 1;
  int64 count = 2;
  Color color = 3;
}

message Inner {
  string id = 1;
  Color color = 2;
  repeated int32 nums = 3;
}

message Kitchen {
  string id = 1;
  int64 big = 2;
  uint64 ubig = 3;
  int32 small = 4;
  bool flag = 5;
  double ratio = 6;
  float fratio = 7;
  bytes blob = 8;
  Color color = 9;
  repeated string tags = 10;
  repeated Color colors = 11;
  map<string, string> labels = 12;
  Inner inner = 13;
  string renamed = 14 [json_name = "customName"];
  google.protobuf.Timestamp at = 15;
  google.protobuf.Duration wait = 16;
  google.protobuf.FieldMask mask = 17;
  google.protobuf.StringValue nick = 18;
  google.protobuf.Int64Value maybe = 19;
  google.protobuf.Struct extra = 20;
  google.protobuf.Any any = 21;
  oneof choice {
    string left = 22;
    string right = 23;
  }
  Kitchen child = 24;
  sint32 zig = 25;
  fixed64 fix = 26;
  optional int32 opt = 27;
  map<int32, Inner> by_num = 28;
  map<bool, string> by_flag = 29;
  google.protobuf.Value val = 30;
  google.protobuf.ListValue vals = 31;
  repeated google.protobuf.Timestamp ats = 32;
  google.protobuf.Empty nothing = 33;
  google.protobuf.BytesValue bval = 34;
  map<sint64, Color> by_zig = 35;
  google.protobuf.NullValue nul = 36;
  repeated double ds = 37;
  map<uint64, google.protobuf.Value> dyn = 38;
  repeated sfixed32 sf = 39;
  float f32 = 40;
  repeated Inner inners = 41;
  google.protobuf.UInt32Value u32 = 42;
}

message UpdateKitchenRequest {
  Kitchen kitchen = 1;
  google.protobuf.FieldMask update_mask = 2;
}

// Wire-compatible with google.api.HttpBody: the echo server turns it into one.
message DownloadRequest {
  string content_type = 1;
  bytes data = 2;
  string name = 4;
}
`

// legacyProto is proto2: closed enums, required fields, extensions, groups.
const legacyProto = `syntax = "proto2";
package synth.v1;

import "google/api/annotations.proto";

service Legacies {
  rpc Get(Legacy) returns (Legacy) {
    option (google.api.http) = {get: "/v1/legacies/{b}"};
  }
  rpc Mood(Legacy) returns (Legacy) {
    option (google.api.http) = {get: "/v1/legacy/{b}:mood" response_body: "mood"};
  }
  // Defaults renders one field with a declared default each.
  rpc Defaults(Legacy) returns (Legacy) {
    option (google.api.http) = {
      get: "/v1/legacy/{b}:s" response_body: "s"
      additional_bindings { get: "/v1/legacy/{b}:n" response_body: "n" }
      additional_bindings { get: "/v1/legacy/{b}:big" response_body: "big" }
      additional_bindings { get: "/v1/legacy/{b}:on" response_body: "on" }
      additional_bindings { get: "/v1/legacy/{b}:raw" response_body: "raw" }
      additional_bindings { get: "/v1/legacy/{b}:ratio" response_body: "ratio" }
      additional_bindings { get: "/v1/legacy/{b}:grumpy" response_body: "grumpy" }
    };
  }
}

enum Mood {
  CALM = 1;
  GRUMPY = 2;
}

enum Level {
  LOW = 0;
  HIGH = 1;
}

message Legacy {
  optional int32 a = 1;
  required string b = 2;
  optional Mood mood = 3;
  repeated Mood moods = 4;
  optional group Blob = 5 {
    optional int32 x = 6;
  }
  map<string, Level> by_name = 7;
  optional string s = 8 [default = "dflt"];
  optional int32 n = 9 [default = 42];
  optional int64 big = 10 [default = -7];
  optional bool on = 11 [default = true];
  optional bytes raw = 12 [default = "hi"];
  optional double ratio = 13 [default = inf];
  optional Mood grumpy = 14 [default = GRUMPY];
  extensions 100 to 200;
}

extend Legacy {
  optional int32 ext = 100;
}
`

var synthFiles = sync.OnceValues(func() (*protoregistry.Files, error) {
	return registry.FilesFromProtos(context.Background(), map[string]string{
		"synth/v1/synth.proto": synthProto, "synth/v1/legacy.proto": legacyProto,
	}, nil)
})

// synthServices returns the synthetic service descriptors.
func synthServices(t testing.TB) []protoreflect.ServiceDescriptor {
	t.Helper()
	files, err := synthFiles()
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName("synth.v1.Things")
	if err != nil {
		t.Fatal(err)
	}
	return []protoreflect.ServiceDescriptor{d.(protoreflect.ServiceDescriptor)}
}

// shopServices returns the shop's three services, as generated.
func shopServices() []protoreflect.ServiceDescriptor {
	return []protoreflect.ServiceDescriptor{
		catalogv1.File_shop_catalog_v1_catalog_proto.Services().Get(0),
		ordersv1.File_shop_orders_v1_orders_proto.Services().Get(0),
		usersv1.File_shop_users_v1_users_proto.Services().Get(0),
	}
}

// echo is a generic gRPC backend: it answers every call with the request's bytes, sends the request
// metadata back as headers prefixed "echo-" (and the deadline as echo-deadline), and sets trailer
// echo-trailer. Fail answers NotFound with details; Slow waits for the deadline; Tail streams (see
// tail).
func echo(_ any, ss grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(ss)
	ctx := ss.Context()
	md, _ := metadata.FromIncomingContext(ctx)
	header := metadata.MD{}
	for k, v := range md {
		if !strings.HasPrefix(k, ":") && k != "content-type" && k != "user-agent" && !strings.HasPrefix(k, "grpc-") {
			header["echo-"+k] = v
		}
	}
	if d, ok := ctx.Deadline(); ok {
		header.Set("echo-deadline", strconv.FormatInt(time.Until(d).Milliseconds(), 10))
	}
	_ = ss.SetHeader(header)
	ss.SetTrailer(metadata.Pairs("echo-trailer", "done", "echo-bin", "\x00\x01"))
	var f routing.Frame
	defer f.Free()
	if err := ss.RecvMsg(&f); err != nil {
		return err
	}
	switch method {
	case "/synth.v1.Things/Fail":
		st := status.New(codes.NotFound, "thing not found")
		p := st.Proto()
		info, _ := anypb.New(&errdetails.ResourceInfo{ResourceType: "synth.v1.Thing", ResourceName: "x"})
		// A detail of a type only the snapshot knows, and one of a type nobody knows.
		thing := &anypb.Any{TypeUrl: "type.googleapis.com/synth.v1.Thing", Value: protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "x")}
		unknown := &anypb.Any{TypeUrl: "type.googleapis.com/acme.Mystery", Value: []byte{1, 2}}
		p.Details = append(p.Details, info, thing, unknown)
		return status.FromProto(p).Err()
	case "/synth.v1.Things/Slow":
		<-ctx.Done()
		return status.FromContextError(ctx.Err()).Err()
	case "/synth.v1.Things/Tail":
		return tail(ss, f.Bytes(), md)
	}
	return ss.SendMsg(&f)
}

// tail streams a download as google.api.HttpBody messages: the request (a DownloadRequest, which
// reads as one), then "-more" of another content type and "-end" of none. Metadata fail-after: n
// ends the call with DATA_LOSS after n of them; hold: 1 waits, after the first, for the call to end.
func tail(ss grpc.ServerStream, req []byte, md metadata.MD) error {
	pieces := [][]byte{req, httpBody("text/ignored", "-more"), httpBody("", "-end")}
	failAfter := len(pieces) + 1
	if v := md.Get("fail-after"); len(v) > 0 {
		failAfter, _ = strconv.Atoi(v[0])
	}
	for i, piece := range pieces {
		if i == failAfter {
			break
		}
		var f routing.Frame
		f.SetBytes(piece)
		if err := ss.SendMsg(&f); err != nil {
			return err
		}
		if len(md.Get("hold")) > 0 {
			<-ss.Context().Done()
			return status.FromContextError(ss.Context().Err()).Err()
		}
	}
	if failAfter <= len(pieces) {
		return status.Error(codes.DataLoss, "the disk is gone")
	}
	return nil
}

// httpBody encodes a google.api.HttpBody.
func httpBody(contentType, data string) []byte {
	var b []byte
	if contentType != "" {
		b = protowire.AppendString(protowire.AppendTag(b, 1, protowire.BytesType), contentType)
	}
	return protowire.AppendString(protowire.AppendTag(b, 2, protowire.BytesType), data)
}

// backend serves echo on loopback and returns its address.
func startEcho(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(echo), grpc.ForceServerCodecV2(routing.Codec{}))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// frontend compiles a snapshot of one registration and returns a REST handler over it, calling
// upstreams through a real routing.Proxy.
func frontend(t testing.TB, regs []*registry.Registration, opts ...transcoder.HandlerOption) *transcoder.Handler {
	t.Helper()
	pool := routing.NewPool(nil)
	t.Cleanup(func() { _ = pool.Close() })
	snap, err := registry.Compile(registry.Spec{Registrations: regs}, pool, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { snap.Retire(pool) })
	proxy := routing.NewProxy(func() routing.State { return snap })
	h, err := transcoder.NewHandler(snap.REST, proxy, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// synthHandler serves the synthetic service from an echo backend (or from addr when given).
func synthHandler(t testing.TB, addr string, opts ...transcoder.HandlerOption) *transcoder.Handler {
	t.Helper()
	files, err := synthFiles()
	if err != nil {
		t.Fatal(err)
	}
	if addr == "" {
		addr = startEcho(t)
	}
	return frontend(t, []*registry.Registration{{Name: "synth", Endpoints: []string{addr}, Files: files}}, opts...)
}

// call serves one request in memory. headers are name, value pairs.
func call(h http.Handler, method, target, body string, headers ...string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Add(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// wantJSON checks that got holds every member of want, recursively (arrays element by element).
func wantJSON(t testing.TB, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	if !subset(g, w) {
		t.Errorf("response %s\ndoes not contain %s", got, want)
	}
}

func subset(got, want any) bool {
	if wl, ok := want.([]any); ok {
		gl, ok := got.([]any)
		if !ok || len(gl) != len(wl) {
			return false
		}
		for i := range wl {
			if !subset(gl[i], wl[i]) {
				return false
			}
		}
		return true
	}
	wm, ok := want.(map[string]any)
	if !ok {
		return reflect.DeepEqual(got, want)
	}
	gm, ok := got.(map[string]any)
	if !ok {
		return false
	}
	for k, wv := range wm {
		gv, ok := gm[k]
		if !ok || !subset(gv, wv) {
			return false
		}
	}
	return true
}

// statusOf decodes a google.rpc.Status error body.
type statusBody struct {
	Code    int              `json:"code"`
	Message string           `json:"message"`
	Details []map[string]any `json:"details"`
}

func decodeStatus(t testing.TB, w *httptest.ResponseRecorder) statusBody {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("error content type %q, want application/json", ct)
	}
	var st statusBody
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatalf("error body is not a google.rpc.Status: %v: %s", err, w.Body)
	}
	if st.Details == nil && !bytes.Contains(w.Body.Bytes(), []byte(`"details":[]`)) {
		t.Errorf("error body has no details array: %s", w.Body)
	}
	return st
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeUpstreams answers every call in memory with a fixed response: the transcoder's own cost,
// without a network.
type fakeUpstreams struct {
	resp []byte
	err  error
}

func (f fakeUpstreams) Route(ctx context.Context, _ string, _ metadata.MD) (routing.Upstream, error) {
	return routing.Upstream{Ctx: ctx, Conn: fakeConn(f), Kind: routing.KindUnary}, nil
}

func (fakeUpstreams) CallOptions() []grpc.CallOption { return nil }

func (f fakeUpstreams) CallUnary(ctx context.Context, method string, _ metadata.MD, req, resp any, opts ...grpc.CallOption) error {
	return fakeConn(f).Invoke(ctx, method, req, resp, opts...)
}

type fakeConn fakeUpstreams

func (c fakeConn) Invoke(_ context.Context, _ string, args, reply any, _ ...grpc.CallOption) error {
	args.(*routing.Frame).Free()
	reply.(*routing.Frame).SetBytes(slices.Clone(c.resp))
	return c.err
}

func (fakeConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errors.New("fakeConn: no streams")
}
