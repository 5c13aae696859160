package sanitize_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/policy/policytest"
	"github.com/protogate/gateway/policies/sanitize"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
	"github.com/protogate/gateway/transcoder"
)

var testLimits = config.Limits{
	MaxBodyBytes: 1024, MaxHeaderCount: 20, MaxHeaderBytes: 2048, MaxJSONDepth: 4,
	MaxArrayLength: 5, MaxStringLength: 32, MaxURLBytes: 300,
}

// echo answers 200 with the body it read, so a test sees what the front saw.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read: "+err.Error(), 599)
		return
	}
	w.Write(b)
})

func handler(t testing.TB, front policy.Front) http.Handler {
	t.Helper()
	mw, err := sanitize.New(testLimits)
	if err != nil {
		t.Fatal(err)
	}
	return mw(front, echo)
}

type rpcStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type            string `json:"@type"`
		FieldViolations []struct {
			Field string `json:"field"`
		} `json:"fieldViolations"`
	} `json:"details"`
}

func TestGoodRequestsPassUnchanged(t *testing.T) {
	h := handler(t, policy.FrontREST)
	for _, tc := range []struct{ method, target, ct, body string }{
		{"GET", "/v1/users/1", "", ""},
		{"GET", "/v1/users?page_size=2&filter.role=ROLE_ADMIN&q=caf%C3%A9+%26+cr%C3%A8me&note=a%0Ab", "", ""},
		{"GET", "/v1/products/p1/inventory:watch", "", ""},
		{"GET", "/v1/users/", "", ""},
		{"GET", "/v1/files/report.v2.pdf/..x", "", ""},
		{"GET", "/v1/users/%C3%A9l%C3%A8ve%20one", "", ""},
		{"POST", "/v1/orders", "application/json", `{"userId": "1", "items": [{"productId": "p1", "quantity": 2}], "note": "O'Brien\u00e9\ud83d\ude00\"q\"é"}`},
		{"POST", "/v1/orders", "", `[1,2,3,4,5]`},
		{"POST", "/v1/upload", "application/x-protobuf", "\x0a\x01\xff\xfe"},
		{"PATCH", "/v1/users/1", "application/merge-patch+json; charset=utf-8", `{"nickname":"Countess","a":{"b":{"c":[]}}}`},
	} {
		r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
		if tc.ct != "" {
			r.Header.Set("Content-Type", tc.ct)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 || w.Body.String() != tc.body {
			t.Errorf("%s %s: got %d %q, want 200 and the body unchanged", tc.method, tc.target, w.Code, w.Body)
		}
	}
}

func TestRefusals(t *testing.T) {
	deep := strings.Repeat("[", 5) + strings.Repeat("]", 5)
	for _, tc := range []struct {
		name, target, ct, body string
		header                 map[string]string
		headers                int // extra X-N headers
		status, code           int
		field, msg             string
	}{
		{name: "dotdot", target: "/v1/users/../admin", status: 400, code: 3, field: "path", msg: `has a ".." segment`},
		{name: "dot", target: "/v1/./users", status: 400, code: 3, field: "path", msg: `has a "." segment`},
		{name: "trailing dotdot", target: "/v1/users/..", status: 400, code: 3, field: "path", msg: `".."`},
		{name: "double slash", target: "/v1//users", status: 400, code: 3, field: "path", msg: "empty segment"},
		{name: "encoded slash", target: "/v1/users/a%2Fb", status: 400, code: 3, field: "path", msg: "percent-encoded slash (%2F)"},
		{name: "encoded dot", target: "/v1/users/%2e%2e/x", status: 400, code: 3, field: "path", msg: "percent-encoded dot (%2e)"},
		{name: "double encoding", target: "/v1/users/%252e%252e", status: 400, code: 3, field: "path", msg: "percent-encoded twice (%252e)"},
		{name: "nul", target: "/v1/users/1%00.json", status: 400, code: 3, field: "path", msg: "NUL (%00)"},
		{name: "control", target: "/v1/users/1%0d%0aX", status: 400, code: 3, field: "path", msg: "control character (%0d)"},
		{name: "backslash", target: "/v1/users/%5c..", status: 400, code: 3, field: "path", msg: "backslash"},
		{name: "bad utf8 path", target: "/v1/users/%C3%28", status: 400, code: 3, field: "path", msg: "not valid UTF-8"},
		{name: "bad utf8 query", target: "/v1/users?name=%FF", status: 400, code: 3, field: "query", msg: `"name" is not valid UTF-8`},
		{name: "nul query", target: "/v1/users?name=a%00", status: 400, code: 3, field: "query", msg: "NUL"},
		{name: "long url", target: "/v1/users?q=" + strings.Repeat("a", 300), status: 414, code: 3, msg: "longer than the limit of 300 bytes"},
		{name: "many headers", target: "/v1/users", headers: 21, status: 431, code: 3, field: "headers", msg: "21 header lines, more than the limit of 20"},
		{name: "big header", target: "/v1/users", header: map[string]string{"Cookie": strings.Repeat("c", 2100)}, status: 431, code: 3, msg: "largest: Cookie"},
		{name: "body length", target: "/v1/orders", body: strings.Repeat(" ", 1025), status: 413, code: 8, msg: "1025 bytes is larger than the limit of 1024"},
		{name: "deep json", target: "/v1/orders", body: deep, status: 400, code: 3, field: "body", msg: "nested deeper than the limit of 4 levels (at byte 4"},
		{name: "long array", target: "/v1/orders", body: `{"a":[1,2,3,4,5,6]}`, status: 400, code: 3, field: "body", msg: "array longer than the limit of 5"},
		{name: "long string", target: "/v1/orders", body: `{"a":"` + strings.Repeat("x", 33) + `"}`, status: 400, code: 3, field: "body", msg: "string longer than the limit of 32 bytes"},
		{name: "long key", target: "/v1/orders", body: `{"` + strings.Repeat("k", 33) + `":1}`, status: 400, code: 3, msg: "string longer"},
		{name: "invalid utf8 json", target: "/v1/orders", ct: "application/json", body: "{\"a\":\"\xff\"}", status: 400, code: 3, msg: "not valid UTF-8"},
		{name: "lone surrogate", target: "/v1/orders", body: `{"a":"\ud800x"}`, status: 400, code: 3, msg: "lone surrogate"},
		{name: "graphql variables", target: "/graphql", body: `{"query":"query($x:[Int]){a}","variables":{"x":[1,2,3,4,5,6]}}`, status: 400, code: 3, msg: "array longer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			front := policy.FrontREST
			if strings.HasPrefix(tc.target, "/graphql") {
				front = policy.FrontGraphQL
			}
			h := handler(t, front)
			method := "GET"
			var body io.Reader
			if tc.body != "" {
				method, body = "POST", strings.NewReader(tc.body)
			}
			r := httptest.NewRequest(method, tc.target, body)
			if tc.ct != "" {
				r.Header.Set("Content-Type", tc.ct)
			}
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			for i := range tc.headers {
				r.Header.Set("X-"+strings.Repeat("n", i+1), "v")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			st, err := refusal(front, w.Body.Bytes())
			if err != nil {
				t.Fatalf("got %d %q: not a refusal of the front: %v", w.Code, w.Body, err)
			}
			if w.Code != tc.status || st.Code != tc.code || !strings.Contains(st.Message, tc.msg) {
				t.Fatalf("got %d code %d %q, want %d code %d containing %q", w.Code, st.Code, st.Message, tc.status, tc.code, tc.msg)
			}
			if tc.field != "" && (len(st.Details) != 1 || len(st.Details[0].FieldViolations) != 1 || st.Details[0].FieldViolations[0].Field != tc.field) {
				t.Errorf("details %+v, want a BadRequest naming %q", st.Details, tc.field)
			}
		})
	}
}

// refusal decodes a refusal's body into the google.rpc.Status it renders (policytest.Refusal).
func refusal(front policy.Front, body []byte) (rpcStatus, error) {
	var st rpcStatus
	return st, policytest.Refusal(front, body, &st)
}

// chunked hides a body's length, as a chunked upload does.
type chunked struct{ io.Reader }

func TestUnknownLengthBodyIsCheckedAsItStreams(t *testing.T) {
	h := handler(t, policy.FrontREST)
	for _, tc := range []struct{ name, ct, body, want string }{
		{"good", "application/json", `{"a":[1,2]}`, `{"a":[1,2]}`},
		{"too long", "application/json", strings.Repeat(" ", 2000), "read: http: request body too large"},
		{"deep", "", "[[[[[[1]]]]]]", "read: JSON nested deeper than the limit of 4 levels (at byte 4 of the body)"},
		{"ndjson stream has no total limit", "application/x-ndjson", strings.Repeat("{\"a\":1}\n", 300), strings.Repeat("{\"a\":1}\n", 300)},
		{"ndjson shape", "application/x-ndjson", "{\"a\":1}\n{\"a\":\"" + strings.Repeat("x", 40) + "\"}\n", "read: JSON string longer than the limit of 32 bytes (at byte 46 of the body)"},
	} {
		r := httptest.NewRequest("POST", "/v1/orders:import", chunked{strings.NewReader(tc.body)})
		r.ContentLength = -1
		r.Header.Set("Content-Type", tc.ct)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := strings.TrimSpace(w.Body.String()); got != strings.TrimSpace(tc.want) {
			t.Errorf("%s: the front read %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestStreamHasNoTotalLimit: an NDJSON body to the REST front, which reads it as a stream of
// messages each bounded by the front (or, for a method that does not stream requests, holds it whole
// to the same limit), passes over max_body_bytes whether it announces its length or is chunked. The
// GraphQL front reads no streams: an NDJSON body to it is held to the limit as any other body.
func TestStreamHasNoTotalLimit(t *testing.T) {
	stream := strings.Repeat("{\"a\":1}\n", 300) // 2400 bytes, over the limit of 1024
	for _, tc := range []struct {
		name    string
		front   policy.Front
		chunked bool
		status  int
		want    string
	}{
		{"rest, with a length", policy.FrontREST, false, 200, stream},
		{"rest, chunked", policy.FrontREST, true, 200, stream},
		{"graphql, with a length", policy.FrontGraphQL, false, 413, "request body of 2400 bytes is larger than the limit of 1024 bytes"},
		{"graphql, chunked", policy.FrontGraphQL, true, 599, "read: http: request body too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(stream)
			if tc.chunked {
				body = chunked{body}
			}
			r := httptest.NewRequest("POST", "/v1/orders:import", body)
			if tc.chunked {
				r.ContentLength = -1
			}
			r.Header.Set("Content-Type", "application/x-ndjson")
			w := httptest.NewRecorder()
			handler(t, tc.front).ServeHTTP(w, r)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.want) {
				t.Errorf("got %d %.100q, want %d with %.100q", w.Code, w.Body, tc.status, tc.want)
			}
		})
	}
}

// TestJSONContentTypesAreChecked: a body the REST front reads as JSON or NDJSON, under whatever
// Content-Type it reads so (transcoder.RequestBodyKind: malformed parameters and every name of
// NDJSON included), is held to the JSON limits: refused with 400 before the front reads it, or, as
// a stream, failing the front's read.
func TestJSONContentTypesAreChecked(t *testing.T) {
	h := handler(t, policy.FrontREST)
	const limit = "JSON string longer than the limit of 32 bytes"
	over := `{"a":"` + strings.Repeat("x", 33) + `"}`
	for _, ct := range []string{"", "application/json", `application/json; charset="utf-8`, "application/json; charset",
		";charset=utf-8", " APPLICATION/JSON ", "application/j\u017fon", `application/merge-patch+json; x="`,
		"application/x-ndjson", "application/jsonl", "application/jsonlines", "application/x-jsonlines", `application/x-jsonlines; charset="`,
	} {
		kind := transcoder.RequestBodyKind(ct)
		if kind != transcoder.BodyJSON && kind != transcoder.BodyNDJSON {
			t.Fatalf("the REST front does not read %q as JSON (kind %d): the case proves nothing", ct, kind)
		}
		r := httptest.NewRequest("POST", "/v1/orders:import", strings.NewReader(over))
		r.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch {
		case kind == transcoder.BodyNDJSON:
			if w.Code != 599 || !strings.Contains(w.Body.String(), "read: "+limit) {
				t.Errorf("%q: the front read %d %q, want the read to fail naming the limit", ct, w.Code, w.Body)
			}
		default:
			st, err := refusal(policy.FrontREST, w.Body.Bytes())
			if err != nil || w.Code != 400 || !strings.Contains(st.Message, limit) {
				t.Errorf("%q: got %d %q, want 400 naming the limit", ct, w.Code, w.Body)
			}
		}
	}
}

// TestWebSocketMessageLimits: a handshake to the REST or GraphQL front carries the JSON limits in
// its context (policy.MessageLimits), for the front to hold each message to them: a message over
// them is refused with INVALID_ARGUMENT naming the limit and where in the message, recorded as the
// request's denial; one within them passes without an allocation. Other requests, and gRPC-Web,
// carry none.
func TestWebSocketMessageLimits(t *testing.T) {
	var seen policy.MessageLimits
	front := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = policy.MessageLimitsFrom(r.Context()) })
	mw, err := sanitize.New(testLimits)
	if err != nil {
		t.Fatal(err)
	}
	handshake := func(f policy.Front, upgrade string) policy.MessageLimits {
		seen = nil
		r := httptest.NewRequest("GET", "/v1/inventory:adjust", nil)
		if upgrade != "" {
			r.Header.Set("Connection", "Upgrade")
			r.Header.Set("Upgrade", upgrade)
		}
		mw(f, front).ServeHTTP(httptest.NewRecorder(), r)
		return seen
	}
	if handshake(policy.FrontREST, "") != nil || handshake(policy.FrontGRPCWeb, "websocket") != nil {
		t.Error("limits in the context of a request that is no handshake, or of gRPC-Web")
	}
	if handshake(policy.FrontGraphQL, "websocket") == nil {
		t.Error("no limits in the context of a GraphQL handshake")
	}
	limits := handshake(policy.FrontREST, "websocket")
	if limits == nil {
		t.Fatal("no limits in the context of a REST handshake")
	}

	info := callinfo.New()
	ctx := callinfo.With(context.Background(), info)
	for _, tc := range []struct{ msg, want string }{
		{`{"productId":"` + strings.Repeat("p", 33) + `"}`, "JSON string longer than the limit of 32 bytes (at byte 46 of the message)"},
		{`{"a":[[[[1]]]]}`, "JSON nested deeper than the limit of 4 levels (at byte 8 of the message)"},
		{`[1,2,3,4,5,6]`, "JSON array longer than the limit of 5 elements (at byte 11 of the message)"},
		{"{\"a\":\"\xc3", "JSON string is not valid UTF-8 (at byte 7 of the message)"},
	} {
		err := limits.CheckMessage(ctx, []byte(tc.msg))
		st := status.Convert(err)
		if st.Code() != codes.InvalidArgument || st.Message() != tc.want || len(st.Details()) != 1 {
			t.Errorf("%q: %v, want INVALID_ARGUMENT %q with a detail", tc.msg, err, tc.want)
			continue
		}
		if br, ok := st.Details()[0].(*errdetails.BadRequest); !ok || br.GetFieldViolations()[0].GetField() != "body" {
			t.Errorf("%q: detail %v, want a BadRequest naming the body", tc.msg, st.Details()[0])
		}
	}
	if d := info.Snapshot().Denial; d.Policy != "limits" || d.Reason != "INVALID_BODY" || d.Code != uint32(codes.InvalidArgument) {
		t.Errorf("denial recorded %+v, want the limits' INVALID_BODY", d)
	}

	clean := []byte(`{"productId":"p1","delta":-2,"tags":["a","b"],"note":"\u00e9t\u00e9 \ud83d\ude00"}`)
	if allocs := testing.AllocsPerRun(100, func() {
		if err := limits.CheckMessage(ctx, clean); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 && !race {
		t.Errorf("CheckMessage of a clean message: %v allocations, want 0", allocs)
	}
}

// TestContentEncoding: a body in a content coding, which neither REST nor GraphQL decodes, is
// refused with 415 before the front reads it, in the front's shape (INVALID_ARGUMENT, as their 415
// for a Content-Type), naming the coding, with Accept-Encoding: identity (RFC 9110 12.5.3), and
// recorded as the limits' denial: a gzip body would otherwise be read as it is, a plain one labelled
// br taken for what it is. Whatever the body's type or length, and whichever coding of a list or
// line. identity, an empty value, and a request without a body pass; gRPC-Web is left to its front.
func TestContentEncoding(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"nickname":"Countess"}`))
	zw.Close()
	const plain = `{"nickname":"Countess"}`
	for _, tc := range []struct {
		name      string
		front     policy.Front
		method    string
		encodings []string // Content-Encoding lines
		ct, body  string
		chunked   bool
		coding    string // the coding refused; "": the request passes
	}{
		{"gzip", policy.FrontREST, "PATCH", []string{"gzip"}, "application/json", gz.String(), false, "gzip"},
		{"br on a plain body", policy.FrontREST, "PATCH", []string{"br"}, "application/json", plain, false, "br"},
		{"chunked ndjson", policy.FrontREST, "POST", []string{"gzip"}, "application/x-ndjson", plain + "\n", true, "gzip"},
		{"protobuf", policy.FrontREST, "POST", []string{"deflate"}, "application/x-protobuf", "\x0a\x01x", false, "deflate"},
		{"in a list", policy.FrontREST, "PATCH", []string{"identity, gzip"}, "application/json", gz.String(), false, "gzip"},
		{"on a second line", policy.FrontREST, "PATCH", []string{"identity", "X-Custom"}, "application/json", plain, false, "X-Custom"},
		{"graphql", policy.FrontGraphQL, "POST", []string{"gzip"}, "application/json", gz.String(), false, "gzip"},
		{"identity", policy.FrontREST, "PATCH", []string{"Identity"}, "application/json", plain, false, ""},
		{"empty", policy.FrontREST, "PATCH", []string{""}, "application/json", plain, false, ""},
		{"no body", policy.FrontREST, "GET", []string{"gzip"}, "", "", false, ""},
		{"grpc-web", policy.FrontGRPCWeb, "POST", []string{"gzip"}, "application/grpc-web+proto", "\x00\x00\x00\x00\x00", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			if tc.chunked {
				body = chunked{body}
			}
			r := httptest.NewRequest(tc.method, "/v1/users/1", body)
			if tc.front == policy.FrontGraphQL {
				r = httptest.NewRequest(tc.method, "/graphql", body)
			}
			if tc.chunked {
				r.ContentLength = -1
			}
			if tc.ct != "" {
				r.Header.Set("Content-Type", tc.ct)
			}
			r.Header["Content-Encoding"] = tc.encodings
			info := callinfo.New()
			r = r.WithContext(callinfo.With(r.Context(), info))
			w := httptest.NewRecorder()
			handler(t, tc.front).ServeHTTP(w, r)
			if tc.coding == "" {
				if w.Code != 200 || w.Body.String() != tc.body {
					t.Fatalf("got %d %q, want 200 and the body unchanged", w.Code, w.Body)
				}
				return
			}
			st, err := refusal(tc.front, w.Body.Bytes())
			want := fmt.Sprintf("unsupported content coding %q", tc.coding)
			if err != nil || w.Code != http.StatusUnsupportedMediaType || st.Code != int(codes.InvalidArgument) || !strings.Contains(st.Message, want) {
				t.Fatalf("got %d %q (%v), want 415 INVALID_ARGUMENT %s", w.Code, w.Body, err, want)
			}
			if got := w.Header().Get("Accept-Encoding"); got != "identity" {
				t.Errorf("Accept-Encoding %q, want identity", got)
			}
			if d := info.Snapshot().Denial; d.Policy != "limits" || d.Reason != "UNSUPPORTED_CONTENT_ENCODING" {
				t.Errorf("denial recorded %+v, want the limits' UNSUPPORTED_CONTENT_ENCODING", d)
			}
		})
	}
}

func TestGRPCWebGetsTrailersOnly(t *testing.T) {
	h := handler(t, policy.FrontGRPCWeb)
	r := httptest.NewRequest("POST", "/shop.users.v1.UserService/GetUser", bytes.NewReader(make([]byte, 4096)))
	r.Header.Set("Content-Type", "application/grpc-web+proto")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 || w.Body.Len() != 4096 {
		t.Fatalf("a gRPC-Web body is bounded by the front's message size, not here: got %d, %d bytes", w.Code, w.Body.Len())
	}
	r = httptest.NewRequest("POST", "/shop.users.v1.UserService/GetUser%00", nil)
	r.Header.Set("Content-Type", "application/grpc-web-text")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 || w.Header().Get("Grpc-Status") != "3" || !strings.Contains(w.Header().Get("Grpc-Message"), "NUL (%2500)") ||
		w.Header().Get("Content-Type") != "application/grpc-web-text+proto" {
		t.Fatalf("got %d %v, want a trailers-only INVALID_ARGUMENT", w.Code, w.Header())
	}
}

func TestNewRejectsNegativeLimits(t *testing.T) {
	if _, err := sanitize.New(config.Limits{MaxJSONDepth: -1}); err == nil || !strings.Contains(err.Error(), "max_json_depth") {
		t.Fatalf("New with a negative depth: %v, want an error naming max_json_depth", err)
	}
	if mw, err := sanitize.New(config.Limits{}); err != nil || mw == nil {
		t.Fatalf("New with zero limits (defaults): %v", err)
	}
}

// A body's announced length reserves no memory ahead of its bytes: a client announcing megabytes
// and sending a few costs what it sent, not what it announced.
func TestAnnouncedLengthReservesNoMemory(t *testing.T) {
	const announced = 8 << 20
	lim := testLimits
	lim.MaxBodyBytes = 2 * announced
	mw, err := sanitize.New(lim)
	if err != nil {
		t.Fatal(err)
	}
	h := mw(policy.FrontREST, echo)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 4 {
		// (A connection would end the short body in an error; the reader here ends it early.)
		r := httptest.NewRequest("POST", "/v1/users", strings.NewReader(`{"name":"a"}`))
		r.Header.Set("Content-Type", "application/json")
		r.ContentLength = announced
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > announced/2 {
		t.Errorf("4 requests announcing %d bytes each allocated %d bytes", announced, grew)
	}
}

// A JSON body that stops arriving ends its request with 408 once its time is up, on a real
// connection, rather than holding it forever.
func TestStalledBodyTimesOut(t *testing.T) {
	defer sanitize.SetBodyReadTime(100*time.Millisecond, 1<<62)()
	srv := httptest.NewServer(handler(t, policy.FrontREST))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	// Announces 500 bytes, sends 9, then nothing.
	if _, err := io.WriteString(conn, "POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"name\":\""); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "did not arrive within") {
		t.Errorf("%d %s, want 408 naming the wait", resp.StatusCode, body)
	}
}
