package server_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/protogate/gateway/config"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
)

// The methods of the services the gateway answers itself.
const (
	checkMethod     = "/grpc.health.v1.Health/Check"
	watchMethod     = "/grpc.health.v1.Health/Watch"
	listMethod      = "/grpc.health.v1.Health/List"
	reflectV1       = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
	reflectV1alpha  = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
	usersDescriptor = "shop/users/v1/users.proto"
)

// webResult is a whole gRPC-Web response: its messages and its status.
type webResult struct {
	header   http.Header
	messages [][]byte
	status   *status.Status
}

// grpcWebInvoke posts msgs to method over HTTP/1.1 and reads the whole response.
func grpcWebInvoke(t *testing.T, addr, method string, msgs []proto.Message, text bool, header http.Header) webResult {
	t.Helper()
	resp, r := grpcWebPost(t, addr, method, msgs, text, header)
	res := webResult{header: resp.Header}
	trailer := textproto.MIMEHeader(resp.Header)
	if resp.Header.Get("Grpc-Status") == "" { // not trailers-only: messages, then a trailer frame
		for {
			f := readWebFrame(t, r)
			if !f.trailer {
				res.messages = append(res.messages, f.data)
				continue
			}
			var err error
			if trailer, err = textproto.NewReader(bufio.NewReader(bytes.NewReader(append(f.data, '\r', '\n')))).ReadMIMEHeader(); err != nil {
				t.Fatalf("trailer block %q: %v", f.data, err)
			}
			break
		}
	}
	code, err := strconv.Atoi(trailer.Get("Grpc-Status"))
	if err != nil {
		t.Fatalf("%s: grpc-status %q", method, trailer.Get("Grpc-Status"))
	}
	msg, err := url.PathUnescape(trailer.Get("Grpc-Message"))
	if err != nil {
		t.Fatalf("%s: grpc-message %q: %v", method, trailer.Get("Grpc-Message"), err)
	}
	res.status = status.New(codes.Code(code), msg)
	return res
}

// reply decodes the result's only message into m.
func (r webResult) reply(t *testing.T, m proto.Message) {
	t.Helper()
	if len(r.messages) != 1 {
		t.Fatalf("%d messages (status %v), want 1", len(r.messages), r.status)
	}
	if err := proto.Unmarshal(r.messages[0], m); err != nil {
		t.Fatal(err)
	}
}

// TestGRPCWebHealth: over gRPC-Web, grpc.health.v1.Health answers as it does over native gRPC.
func TestGRPCWebHealth(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	for _, text := range []bool{false, true} {
		for _, service := range []string{"", usersService, "acme.Nope"} {
			want, wantErr := healthpb.NewHealthClient(g.conn).Check(testContext(t), &healthpb.HealthCheckRequest{Service: service})
			res := grpcWebInvoke(t, g.addr, checkMethod, []proto.Message{&healthpb.HealthCheckRequest{Service: service}}, text, nil)
			if wst := status.Convert(wantErr); res.status.Code() != wst.Code() || res.status.Message() != wst.Message() {
				t.Fatalf("Check(%q), text %v: %v, native gRPC %v", service, text, res.status, wst)
			}
			if wantErr != nil {
				continue
			}
			var got healthpb.HealthCheckResponse
			res.reply(t, &got)
			if got.GetStatus() != want.GetStatus() || got.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("Check(%q), text %v: %v, native gRPC %v; want SERVING", service, text, got.GetStatus(), want.GetStatus())
			}
		}
	}
	if res := grpcWebInvoke(t, g.addr, checkMethod, []proto.Message{&healthpb.HealthCheckRequest{Service: "acme.Nope"}}, false, nil); res.status.Code() != codes.NotFound {
		t.Errorf("Check of a service not fronted: %v, want NOT_FOUND", res.status)
	}
	want, err := healthpb.NewHealthClient(g.conn).List(testContext(t), &healthpb.HealthListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var list healthpb.HealthListResponse
	grpcWebInvoke(t, g.addr, listMethod, []proto.Message{&healthpb.HealthListRequest{}}, false, nil).reply(t, &list)
	if !proto.Equal(&list, want) || len(list.GetStatuses()) != 4 {
		t.Errorf("List: %v, native gRPC %v", list.GetStatuses(), want.GetStatuses())
	}

	// Watch streams: its first answer arrives while the call stays open.
	for service, want := range map[string]healthpb.HealthCheckResponse_ServingStatus{
		usersService: healthpb.HealthCheckResponse_SERVING,
		"acme.Nope":  healthpb.HealthCheckResponse_SERVICE_UNKNOWN,
	} {
		_, r := grpcWebCall(t, g.addr, watchMethod, &healthpb.HealthCheckRequest{Service: service}, true, nil)
		f := readWebFrame(t, r)
		var got healthpb.HealthCheckResponse
		if f.trailer || proto.Unmarshal(f.data, &got) != nil || got.GetStatus() != want {
			t.Errorf("Watch(%q): first frame %q, want %v", service, f.data, want)
		}
	}
	wantMetrics(t, g, `gateway_requests_total{code="OK",front="grpc-web",method="/grpc.health.v1.Health/Check"} 4`,
		`gateway_requests_total{code="NOT_FOUND",front="grpc-web",method="/grpc.health.v1.Health/Check"} 3`,
		// Native gRPC's unary health methods are observed too.
		`gateway_requests_total{code="OK",front="grpc",method="/grpc.health.v1.Health/Check"} 4`,
		`gateway_requests_total{code="NOT_FOUND",front="grpc",method="/grpc.health.v1.Health/Check"} 2`,
		`gateway_requests_total{code="OK",front="grpc",method="/grpc.health.v1.Health/List"} 1`)
}

// TestGRPCWebHealthCardinality: Check takes one request message; a body with none or with more is
// refused as native gRPC refuses it.
func TestGRPCWebHealthCardinality(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	// Native gRPC, the same call with no request message.
	stream, err := g.conn.NewStream(testContext(t), &grpc.StreamDesc{ClientStreams: true}, checkMethod)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	nativeErr := stream.RecvMsg(new(healthpb.HealthCheckResponse))
	if status.Code(nativeErr) != codes.Internal {
		t.Fatalf("native gRPC, no request message: %v, want INTERNAL", nativeErr)
	}
	req := &healthpb.HealthCheckRequest{}
	for _, tc := range []struct {
		msgs []proto.Message
		says string
	}{
		{nil, "takes one request message, and the request body holds none"},
		{[]proto.Message{req, req}, "takes one request message, and the request body holds more"},
	} {
		res := grpcWebInvoke(t, g.addr, checkMethod, tc.msgs, false, nil)
		if res.status.Code() != codes.Internal || !strings.Contains(res.status.Message(), tc.says) || len(res.messages) != 0 {
			t.Errorf("Check with %d request messages: %v with %d messages, want INTERNAL saying it %q", len(tc.msgs), res.status, len(res.messages), tc.says)
		}
	}
}

// nativeReflect sends reqs on one native ServerReflectionInfo stream and returns the answers.
func nativeReflect(t *testing.T, g *gateway, reqs ...*reflectionpb.ServerReflectionRequest) []*reflectionpb.ServerReflectionResponse {
	t.Helper()
	stream, err := reflectionpb.NewServerReflectionClient(g.conn).ServerReflectionInfo(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range reqs {
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var out []*reflectionpb.ServerReflectionResponse
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, resp)
	}
}

// webReflect posts reqs, all in one request body, to a ServerReflectionInfo method over gRPC-Web
// and returns the answers. v1 and v1alpha messages are the same on the wire.
func webReflect(t *testing.T, g *gateway, method string, reqs ...*reflectionpb.ServerReflectionRequest) []*reflectionpb.ServerReflectionResponse {
	t.Helper()
	msgs := make([]proto.Message, len(reqs))
	for i, req := range reqs {
		msgs[i] = req
	}
	res := grpcWebInvoke(t, g.addr, method, msgs, false, nil)
	if res.status.Code() != codes.OK {
		t.Fatalf("%s: %v", method, res.status)
	}
	out := make([]*reflectionpb.ServerReflectionResponse, len(res.messages))
	for i, b := range res.messages {
		out[i] = new(reflectionpb.ServerReflectionResponse)
		if err := proto.Unmarshal(b, out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// listedServices returns the service names of a list_services answer, sorted.
func listedServices(resp *reflectionpb.ServerReflectionResponse) []string {
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	slices.Sort(names)
	return names
}

var (
	listServices = &reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: "*"},
	}
	usersFile = &reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: usersService},
	}
)

// TestGRPCWebReflection: over gRPC-Web, both reflection services answer as they do over native
// gRPC. A browser client sends its one request as the whole body; several are answered in turn.
func TestGRPCWebReflection(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	native := nativeReflect(t, g, listServices, usersFile)
	if len(native) != 2 {
		t.Fatalf("native gRPC: %d answers, want 2", len(native))
	}
	for _, method := range []string{reflectV1, reflectV1alpha} {
		list := webReflect(t, g, method, listServices)
		if len(list) != 1 {
			t.Fatalf("%s list_services: %d answers, want 1", method, len(list))
		}
		names := listedServices(list[0])
		if !slices.Equal(names, listedServices(native[0])) {
			t.Errorf("%s lists %v, native gRPC %v", method, names, listedServices(native[0]))
		}
		for _, want := range []string{usersService, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
			if !slices.Contains(names, want) {
				t.Errorf("%s lists %v, missing %s", method, names, want)
			}
		}

		file := webReflect(t, g, method, usersFile)
		if len(file) != 1 || !proto.Equal(file[0], native[1]) {
			t.Fatalf("%s file_containing_symbol differs from native gRPC's answer", method)
		}
		fds := file[0].GetFileDescriptorResponse().GetFileDescriptorProto()
		var fd descriptorpb.FileDescriptorProto
		if len(fds) == 0 || proto.Unmarshal(fds[0], &fd) != nil || fd.GetName() != usersDescriptor || fd.GetService()[0].GetName() != "UserService" {
			t.Fatalf("%s file_containing_symbol %s: first file %q, want %s", method, usersService, fd.GetName(), usersDescriptor)
		}

		both := webReflect(t, g, method, listServices, usersFile)
		if len(both) != 2 || !slices.Equal(listedServices(both[0]), names) || !proto.Equal(both[1], native[1]) {
			t.Errorf("%s with two requests in the body: %d answers, want the two native gRPC gives", method, len(both))
		}
	}
}

// TestGRPCWebOwnServicesMeetNativePolicies: health and reflection meet the same policies over
// gRPC-Web as over native gRPC. The method policies (here: every method needs credentials) decide
// calls the gateway proxies, on both fronts, and neither front puts the services the gateway
// answers itself through them; the gRPC-Web front's request policies (CORS) apply to every call.
func TestGRPCWebOwnServicesMeetNativePolicies(t *testing.T) {
	digest := sha256.Sum256([]byte("a-key"))
	policies := config.Policies{
		Auth: config.Auth{APIKeys: config.APIKeys{Keys: []config.APIKey{{Consumer: "ci", SHA256: hex.EncodeToString(digest[:])}}}},
		CORS: config.CORS{AllowedOrigins: []string{"http://localhost:*"}},
		Rules: []config.PolicyRule{{
			Name:  "everything",
			Match: config.PolicyMatch{Prefix: "/"},
			Auth:  config.RuleAuth{Required: true},
		}},
	}.Completed()
	g := startGateway(t, harnessOptions{policies: &policies})
	for _, tc := range []struct {
		method string
		req    proto.Message
		reply  proto.Message
		want   codes.Code
	}{
		{checkMethod, &healthpb.HealthCheckRequest{}, new(healthpb.HealthCheckResponse), codes.OK},
		{checkMethod, &healthpb.HealthCheckRequest{Service: "acme.Nope"}, new(healthpb.HealthCheckResponse), codes.NotFound},
		{"/shop.users.v1.UserService/GetUser", &usersv1.GetUserRequest{Id: "1"}, new(usersv1.User), codes.Unauthenticated},
		// A method the health service lacks goes to the proxy on both fronts, which serves it nowhere.
		{"/grpc.health.v1.Health/Made", &healthpb.HealthCheckRequest{}, new(healthpb.HealthCheckResponse), codes.Unimplemented},
	} {
		native := status.Code(g.conn.Invoke(testContext(t), tc.method, tc.req, tc.reply))
		res := grpcWebInvoke(t, g.addr, tc.method, []proto.Message{tc.req}, false, http.Header{"Origin": {"http://localhost:3000"}})
		if native != tc.want || res.status.Code() != tc.want {
			t.Errorf("%s: native gRPC %v, gRPC-Web %v; want %v on both", tc.method, native, res.status, tc.want)
		}
		if got := res.header.Get("Access-Control-Allow-Origin"); got != "http://localhost:3000" {
			t.Errorf("%s over gRPC-Web: Access-Control-Allow-Origin %q, want the origin allowed", tc.method, got)
		}
	}
	if native, web := nativeReflect(t, g, listServices), webReflect(t, g, reflectV1, listServices); len(native) != 1 || len(web) != 1 ||
		!slices.Equal(listedServices(native[0]), listedServices(web[0])) {
		t.Errorf("reflection without credentials: native gRPC %v, gRPC-Web %v; want the same answer", native, web)
	}
}

// A client's x-forwarded-for goes upstream with the address the gateway saw appended, on native
// gRPC and gRPC-Web as on REST, so the chain's last hop is never one the client wrote; without one,
// none is made up.
func TestForwardedForLastHop(t *testing.T) {
	opts, seen := metadataOf("/shop.users.v1.UserService/GetUser", 4)
	g := startGateway(t, harnessOptions{shop: opts})
	users := usersv1.NewUserServiceClient(g.conn)
	for _, tc := range []struct {
		name string
		call func()
		want []string
	}{
		{"gRPC", func() {
			ctx := metadata.AppendToOutgoingContext(testContext(t), "x-forwarded-for", "203.0.113.9")
			if _, err := users.GetUser(ctx, &usersv1.GetUserRequest{Id: "1"}); err != nil {
				t.Fatal(err)
			}
		}, []string{"203.0.113.9, 127.0.0.1"}},
		{"gRPC without one", func() {
			if _, err := users.GetUser(testContext(t), &usersv1.GetUserRequest{Id: "1"}); err != nil {
				t.Fatal(err)
			}
		}, nil},
		{"gRPC-Web", func() {
			res := grpcWebInvoke(t, g.addr, "/shop.users.v1.UserService/GetUser", []proto.Message{&usersv1.GetUserRequest{Id: "1"}}, false,
				http.Header{"X-Forwarded-For": {"203.0.113.9, 198.51.100.2"}})
			if res.status.Code() != codes.OK {
				t.Fatal(res.status)
			}
		}, []string{"203.0.113.9, 198.51.100.2, 127.0.0.1"}},
	} {
		tc.call()
		if got := (<-seen).Get("x-forwarded-for"); !slices.Equal(got, tc.want) {
			t.Errorf("%s: upstream x-forwarded-for %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestReflectionOverTheMessageLimit: grpc.max_message_bytes bounds the messages the gateway
// proxies, not its own services' answers. Reflection describes a registered file whatever its
// size (with its imports, the users file's answer is 19 KB), while an upstream's answer over the
// limit (user 1's orders, about 560 bytes) is still refused.
func TestReflectionOverTheMessageLimit(t *testing.T) {
	const limit = 512
	g := startGateway(t, harnessOptions{config: func(c *config.Config) { c.GRPC.MaxMessageBytes = limit }})
	answers := nativeReflect(t, g, usersFile)
	if len(answers) != 1 || len(answers[0].GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Fatalf("file containing %s: %v, want its files", usersService, answers)
	}
	if n := proto.Size(answers[0]); n <= limit {
		t.Fatalf("the answer is %d bytes, not over the %d-byte limit: the test proves nothing", n, limit)
	}
	_, err := ordersv1.NewOrderServiceClient(g.conn).ListOrders(testContext(t), &ordersv1.ListOrdersRequest{UserId: "1"})
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted {
		t.Fatalf("ListOrders, whose answer is over the %d-byte limit: %v, want RESOURCE_EXHAUSTED", limit, err)
	}
}
