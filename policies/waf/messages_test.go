package waf_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/waf"
)

// inspectorOf runs r through the middleware of a snapshot serving the shop in mode and returns the
// message inspector the front found in the request's context (nil when there was none).
func inspectorOf(t testing.TB, mode string, front policy.Front, r *http.Request) policy.MessageInspector {
	t.Helper()
	var in policy.MessageInspector
	reached := false
	h := fw.Middleware(shopRoutes(t, mode))(front, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		in = policy.MessageInspectorFrom(r.Context())
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if !reached {
		t.Fatalf("the request did not reach the front: %d %s", w.Code, w.Body)
	}
	return in
}

// ndjsonRequest is a client-streaming REST request, as the transcoder receives it.
func ndjsonRequest(target string) *http.Request {
	r := httptest.NewRequest("POST", target, strings.NewReader(""))
	r.Host = "shop.example.com"
	r.Header.Set("User-Agent", "shop-client/1.0")
	r.Header.Set("Content-Type", "application/x-ndjson")
	r.ContentLength = -1
	r.TransferEncoding = []string{"chunked"}
	return r
}

// upgradeRequest is a WebSocket handshake.
func upgradeRequest(target string) *http.Request {
	r := httptest.NewRequest("GET", target, nil)
	r.Host = "shop.example.com"
	r.Header.Set("User-Agent", "shop-client/1.0")
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	r.Header.Set("Sec-WebSocket-Protocol", "graphql-transport-ws")
	return r
}

// wantDenial checks err is the WAF's refusal: PERMISSION_DENIED with an ErrorInfo naming 949110.
func wantDenial(t *testing.T, err error) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.PermissionDenied || len(st.Details()) != 1 {
		t.Fatalf("got %v, want the WAF's PERMISSION_DENIED", err)
	}
	info, ok := st.Details()[0].(*errdetails.ErrorInfo)
	if !ok || info.Reason != "WAF_BLOCKED" || !strings.Contains(info.Metadata["ruleIds"], "949110") {
		t.Fatalf("detail %v, want ErrorInfo WAF_BLOCKED with the rule ids", st.Details()[0])
	}
}

// Each message of a stream is inspected as a one-message JSON body: the attacks a POST body would
// be refused for are refused in a line of a client stream, a WebSocket frame, a GraphQL operation
// sent over a WebSocket; clean messages, including GraphQL variables named like MongoDB operators
// (the /graphql exclusion applies to messages too), pass.
func TestStreamedMessages(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		front   policy.Front
		r       *http.Request
		clean   []string
		attacks []string
	}{
		{"ndjson", policy.FrontREST, ndjsonRequest("/v1/orders:import"),
			[]string{`{"order": {"id": "o1", "userId": "1", "note": "Leave it with O'Brien"}}`},
			[]string{`{"order": {"userId": "1' OR 1=1 --"}}`, `{"order": {"note": "<script>alert(1)</script>"}}`}},
		{"websocket", policy.FrontREST, upgradeRequest("/v1/inventory:adjust"),
			[]string{`{"productId": "p1", "delta": 5}`},
			[]string{`{"productId": "p1' UNION SELECT password FROM users --", "delta": 1}`}},
		{"graphql websocket", policy.FrontGraphQL, upgradeRequest("/graphql"),
			[]string{`{"query": "subscription W($id: ID!, $in: [ID!], $where: String) { watchInventory(id: $id) { stock } }", "variables": {"id": "p1"}}`},
			[]string{`{"query": "subscription W($id: ID!) { watchInventory(id: $id) { stock } }", "variables": {"id": "p1' OR '1'='1' --"}}`,
				`{"query": "query { getUser(id: \"<svg onload=alert(1)>\") { name } }"}`,
				`{"query": "query { getUser(id: \"1\\u0027 OR 1=1 --\") { name } }"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.Take()
			in := inspectorOf(t, waf.Blocking, tc.front, tc.r)
			if in == nil {
				t.Fatal("no message inspector in the streaming request's context")
			}
			for _, m := range tc.clean {
				if err := in.InspectMessage(ctx, []byte(m)); err != nil {
					t.Errorf("clean message %s: %v", m, err)
				}
			}
			if l := logs.Take(); l != "" {
				t.Errorf("clean messages logged: %s", l)
			}
			for _, m := range tc.attacks {
				wantDenial(t, in.InspectMessage(ctx, []byte(m)))
			}
		})
	}
}

// Requests whose body the middleware read (or that have none) get no inspector, nor do requests
// the WAF is off for.
func TestNoInspectorWithoutStream(t *testing.T) {
	for _, tc := range []struct {
		mode string
		r    *http.Request
	}{
		{waf.Blocking, probe{method: "POST", target: "/v1/orders", body: `{"userId": "1"}`}.request()},
		{waf.Blocking, probe{method: "GET", target: "/v1/users/1"}.request()},
		{waf.Off, ndjsonRequest("/v1/orders:import")},
		{waf.Off, upgradeRequest("/v1/inventory:adjust")},
	} {
		if in := inspectorOf(t, tc.mode, policy.FrontREST, tc.r); in != nil {
			t.Errorf("%s %s in mode %s: an inspector", tc.r.Method, tc.r.URL, tc.mode)
		}
	}
}

// In detection mode a matching message passes and is logged once, with its number in the stream,
// by its route's template and method (REST), and without its data; the arguments are named as a
// JSON body's.
func TestDetectionLogsEachMessage(t *testing.T) {
	for _, tc := range []struct {
		front        policy.Front
		r            *http.Request
		clean, match string
		variable     string
		route, rpc   string
	}{
		{policy.FrontREST, ndjsonRequest("/v1/orders:import"),
			`{"order": {"id": "o1"}}`, `{"order": {"userId": "1' OR 1=1 --"}}`, "ARGS:json.order.userId",
			"/v1/orders:import", "/shop.orders.v1.OrderService/ImportOrders"},
		{policy.FrontGraphQL, upgradeRequest("/graphql"),
			`{"query": "query($id: String!) { getUser(id: $id) { name } }", "variables": {"id": "1"}}`,
			`{"query": "query($id: String!) { getUser(id: $id) { name } }", "variables": {"id": "1' OR 1=1 --"}}`, "ARGS:json.variables.id",
			"", ""},
	} {
		t.Run(string(tc.front), func(t *testing.T) {
			logs.Take()
			in := inspectorOf(t, waf.Detection, tc.front, tc.r)
			for _, m := range []string{tc.clean, tc.match} {
				if err := in.InspectMessage(context.Background(), []byte(m)); err != nil {
					t.Fatalf("detection mode refused %s: %v", m, err)
				}
			}
			lines := strings.Split(strings.TrimSpace(logs.Take()), "\n")
			if len(lines) != 1 {
				t.Fatalf("got %d log lines, want 1: %q", len(lines), lines)
			}
			var entry struct {
				Msg, Action, Front, Method, Route, RPC string
				Path                                   *string
				Message                                int
				Rules, Variables                       []string
			}
			if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
				t.Fatal(err)
			}
			if entry.Msg != "waf: message matched rules" || entry.Action != "detected" || entry.Front != string(tc.front) ||
				entry.Method != tc.r.Method || entry.Route != tc.route || entry.RPC != tc.rpc || entry.Path != nil ||
				entry.Message != 2 || len(entry.Rules) == 0 {
				t.Errorf("log entry %s", lines[0])
			}
			if !strings.Contains(lines[0], tc.variable) {
				t.Errorf("variables %q, want the argument named as a JSON body's (%s)", entry.Variables, tc.variable)
			}
			if strings.Contains(lines[0], "OR 1=1") {
				t.Errorf("the log line carries the message's data: %s", lines[0])
			}
		})
	}
}

// A message over the body limit cannot be inspected: refused with 413 in blocking mode, as a body is.
func TestMessageOverTheLimit(t *testing.T) {
	in := inspectorOf(t, waf.Blocking, policy.FrontREST, ndjsonRequest("/v1/orders:import"))
	big := `{"order": {"note": "` + strings.Repeat("a", 5<<20) + `"}}`
	err := in.InspectMessage(context.Background(), []byte(big))
	if st, _ := status.FromError(err); st.Code() != codes.ResourceExhausted {
		t.Fatalf("got %v, want RESOURCE_EXHAUSTED", err)
	}
}
