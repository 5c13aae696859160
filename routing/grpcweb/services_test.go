package grpcweb_test

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/routing/grpcweb"
)

// fallback answers every call UNIMPLEMENTED, naming its method: the StreamHandler of a Handler
// whose registered services a test calls.
func fallback(_ any, ss grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(ss)
	return status.Errorf(codes.Unimplemented, "fallback %s", method)
}

// startRegistered serves a Handler with the fallback StreamHandler and testService registered
// on it, with the gateway's codec, on a loopback HTTP/1.1 server.
func startRegistered(t *testing.T) *httptest.Server {
	t.Helper()
	h := grpcweb.NewHandler(fallback, grpcweb.WithCodec(routing.Codec{}))
	testpb.RegisterTestServiceServer(h, &testService{})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// TestRegisteredService: the methods of a registered service are served by its implementation,
// every other method by the StreamHandler, as grpc.Server dispatches.
func TestRegisteredService(t *testing.T) {
	srv := startRegistered(t)
	call := func(t *testing.T, m mode, method string, msgs ...proto.Message) *result {
		t.Helper()
		var raw [][]byte
		for _, msg := range msgs {
			raw = append(raw, marshal(t, msg))
		}
		return readResult(t, do(t, newRequest(t, testContext(t), srv.URL, method, m, bytes.NewReader(m.body(raw...)))), m)
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			res := call(t, m, unaryMethod, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("registered")}})
			var unary testpb.SimpleResponse
			if res.code() != codes.OK || len(res.messages) != 1 || proto.Unmarshal(res.messages[0], &unary) != nil ||
				string(unary.GetPayload().GetBody()) != "registered" {
				t.Fatalf("unary: %v %q, %d messages", res.code(), res.message(), len(res.messages))
			}
			res = call(t, m, streamOutMethod, &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}, {Size: 2}}})
			if res.code() != codes.OK || len(res.messages) != 2 {
				t.Fatalf("server streaming: %v %q, %d messages, want OK with 2", res.code(), res.message(), len(res.messages))
			}
			res = call(t, m, streamInMethod,
				&testpb.StreamingInputCallRequest{Payload: payload(3)}, &testpb.StreamingInputCallRequest{Payload: payload(4)})
			var in testpb.StreamingInputCallResponse
			if res.code() != codes.OK || len(res.messages) != 1 || proto.Unmarshal(res.messages[0], &in) != nil || in.GetAggregatedPayloadSize() != 7 {
				t.Fatalf("client streaming: %v %q, %d messages", res.code(), res.message(), len(res.messages))
			}
			// A bidi method reads every message of the body, one as well as several.
			for _, n := range []int{1, 3} {
				reqs := make([]proto.Message, n)
				for i := range reqs {
					reqs[i] = &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}
				}
				if res := call(t, m, duplexMethod, reqs...); res.code() != codes.OK || len(res.messages) != n {
					t.Fatalf("bidi with %d requests: %v %q, %d messages", n, res.code(), res.message(), len(res.messages))
				}
			}
			for _, method := range []string{"/grpc.testing.TestService/Nope", "/acme.Other/UnaryCall"} {
				if res := call(t, m, method, &testpb.SimpleRequest{}); res.code() != codes.Unimplemented || res.message() != "fallback "+method {
					t.Errorf("%s: %v %q, want the StreamHandler's answer", method, res.code(), res.message())
				}
			}
		})
	}
}

// TestRegisteredCardinality: a unary or server-streaming method of a registered service takes
// exactly one request message, as on grpc-go's server; the error says what the body held.
func TestRegisteredCardinality(t *testing.T) {
	srv := startRegistered(t)
	m := modes[0]
	one := marshal(t, &testpb.SimpleRequest{})
	for _, tc := range []struct {
		method string
		msgs   [][]byte
		says   string
	}{
		{unaryMethod, nil, "holds none"},
		{unaryMethod, [][]byte{one, one}, "holds more"},
		{streamOutMethod, nil, "holds none"},
		{streamOutMethod, [][]byte{marshal(t, &testpb.StreamingOutputCallRequest{}), one}, "holds more"},
	} {
		res := readResult(t, do(t, newRequest(t, testContext(t), srv.URL, tc.method, m, bytes.NewReader(m.body(tc.msgs...)))), m)
		if res.code() != codes.Internal || !strings.Contains(res.message(), "cardinality violation: "+tc.method+" takes one request message") ||
			!strings.Contains(res.message(), tc.says) || len(res.messages) != 0 {
			t.Errorf("%s with %d messages: %v %q, %d messages; want INTERNAL saying it %s", tc.method, len(tc.msgs), res.code(), res.message(), len(res.messages), tc.says)
		}
	}
}

// TestRegisterServiceMistakes: wiring mistakes panic, as they do on grpc.Server.
func TestRegisterServiceMistakes(t *testing.T) {
	mustPanic := func(t *testing.T, what, says string, f func()) {
		t.Helper()
		defer func() {
			t.Helper()
			r := recover()
			if s, _ := r.(string); !strings.Contains(s, says) {
				t.Errorf("%s: panic %v, want one saying %q", what, r, says)
			}
		}()
		f()
	}
	h := grpcweb.NewHandler(fallback)
	testpb.RegisterTestServiceServer(h, &testService{})
	mustPanic(t, "twice", "registered already", func() { testpb.RegisterTestServiceServer(h, &testService{}) })
	mustPanic(t, "wrong implementation", "does not satisfy", func() {
		h.RegisterService(&testpb.UnimplementedService_ServiceDesc, &testService{})
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	m := modes[0]
	readResult(t, do(t, newRequest(t, testContext(t), srv.URL, unaryMethod, m, bytes.NewReader(m.body(marshal(t, &testpb.SimpleRequest{}))))), m)
	mustPanic(t, "after serving", "after the Handler started serving", func() {
		h.RegisterService(&testpb.ReconnectService_ServiceDesc, nil)
	})
}
