package waf_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/waf"
)

// protobufRequest is a REST request whose body is m in binary protobuf.
func protobufRequest(t *testing.T, target string, m proto.Message) *http.Request {
	t.Helper()
	body, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return rawProtobufRequest(target, body)
}

func rawProtobufRequest(target string, body []byte) *http.Request {
	r := httptest.NewRequest("POST", target, bytes.NewReader(body))
	r.Host = "shop.example.com"
	r.Header.Set("User-Agent", "shop-client/1.0")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Content-Type", "application/x-protobuf")
	return r
}

// jsonTwin is the request with m's JSON for its body: what a JSON client sends for the same message.
func jsonTwin(t *testing.T, target string, m proto.Message) *http.Request {
	t.Helper()
	body, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return probe{method: "POST", target: target, body: string(body)}.request()
}

// A protobuf body is inspected as the JSON the REST front reads as the same message: zero bytes,
// common in protobuf (empty strings, empty messages, bytes), are no null characters (920270), and
// an injection in a string field is refused by the rules that refuse it in its JSON twin.
func TestProtobufBodyIsInspectedAsJSON(t *testing.T) {
	ada := &usersv1.User{
		Name: "Ada Lovelace", Email: "ada@example.com",
		Tags:     []string{"vip", ""},                        // an empty string: 0x3a 0x00
		Nickname: wrapperspb.String(""),                      // an empty message: 0x4a 0x00
		Labels:   map[string]string{"tier": ""},              // an empty map value
		Avatar:   []byte{0x89, 'P', 'N', 'G', 0, 0, 0, 0x0d}, // bytes holding 0x00
	}
	order := &ordersv1.CreateOrderRequest{UserId: "1", Items: []*ordersv1.LineItem{{ProductId: "p1", Quantity: 2}},
		GiftMessage: wrapperspb.String("")} // an empty message: 0x2a 0x00

	t.Run("clean bodies pass unchanged", func(t *testing.T) {
		logs.Take()
		for _, tc := range []struct {
			target string
			m      proto.Message
		}{{"/v1/users", ada}, {"/v1/orders", order}} {
			want, _ := proto.Marshal(tc.m)
			if !bytes.Contains(want, []byte{0}) {
				t.Fatalf("%s: the body holds no 0x00", tc.target)
			}
			w := httptest.NewRecorder()
			shopHandler(t, waf.Blocking, policy.FrontREST).ServeHTTP(w, protobufRequest(t, tc.target, tc.m))
			if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), want) {
				t.Errorf("%s: got %d %q, want 200 and the body unchanged", tc.target, w.Code, w.Body)
			}
		}
		if l := logs.Take(); l != "" {
			t.Errorf("clean requests logged: %s", l)
		}
	})

	t.Run("attacks are refused as their JSON twins are", func(t *testing.T) {
		for _, tc := range []struct {
			name, target string
			m            proto.Message
		}{
			{"sqli body field", "/v1/users", &usersv1.User{Name: "1' OR 1=1 --", Email: "ada@example.com"}},
			{"xss nested", "/v1/users", &usersv1.User{Name: "Ada", Address: &usersv1.User_Address{Street: "<script>alert(1)</script>"}}},
			{"sqli whole request", "/v1/orders", &ordersv1.CreateOrderRequest{UserId: "1' UNION SELECT password FROM users --"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rules := func(r *http.Request) string {
					w := httptest.NewRecorder()
					shopHandler(t, waf.Blocking, policy.FrontREST).ServeHTTP(w, r)
					st, err := refusal(policy.FrontREST, w.Body.Bytes())
					if err != nil || w.Code != 403 || len(st.Details) != 1 || st.Details[0].Reason != "WAF_BLOCKED" {
						t.Fatalf("%s: got %d %s, want the firewall's 403", r.Header.Get("Content-Type"), w.Code, w.Body)
					}
					return st.Details[0].Metadata["ruleIds"]
				}
				if got, want := rules(protobufRequest(t, tc.target, tc.m)), rules(jsonTwin(t, tc.target, tc.m)); got != want {
					t.Errorf("protobuf refused by rules %s, its JSON twin by %s", got, want)
				}
			})
		}
	})

	// The log names the argument as for a JSON body (json.name), and never its value.
	t.Run("detection", func(t *testing.T) {
		logs.Take()
		w := httptest.NewRecorder()
		shopHandler(t, waf.Detection, policy.FrontREST).ServeHTTP(w, protobufRequest(t, "/v1/users", &usersv1.User{Name: "1' OR 1=1 --"}))
		l := logs.Take()
		if w.Code != 200 || !strings.Contains(l, `"ARGS:json.name"`) || strings.Contains(l, "OR 1=1") {
			t.Errorf("got %d, logged %s; want 200 and a line naming ARGS:json.name", w.Code, l)
		}
	})
}

// A protobuf body the front reads none of (no binding serves the path, or the front is GraphQL)
// is not given to the rules: its binary is never parsed as text. One that does not decode as its
// binding's message is refused with 400 WAF_UNPARSEABLE_BODY in blocking mode, as a JSON body that
// does not parse is, and passes in detection mode.
func TestProtobufBodyUnread(t *testing.T) {
	nul := []byte("\x0a\x00\x12\x03a\x00b")
	for _, tc := range []struct {
		target string
		front  policy.Front
	}{{"/v1/nothing/here", policy.FrontREST}, {"/graphql", policy.FrontGraphQL}} {
		w := httptest.NewRecorder()
		shopHandler(t, waf.Blocking, tc.front).ServeHTTP(w, rawProtobufRequest(tc.target, nul))
		if w.Code != 200 {
			t.Errorf("%s: got %d %s, want 200", tc.target, w.Code, w.Body)
		}
	}

	truncated := []byte("\x12\x05Ad") // User.name, five bytes long, two there
	w := httptest.NewRecorder()
	shopHandler(t, waf.Blocking, policy.FrontREST).ServeHTTP(w, rawProtobufRequest("/v1/users", truncated))
	st, err := refusal(policy.FrontREST, w.Body.Bytes())
	if err != nil || w.Code != 400 || st.Code != 3 || len(st.Details) != 1 || st.Details[0].Reason != "WAF_UNPARSEABLE_BODY" {
		t.Errorf("undecodable body: got %d %s, want 400 WAF_UNPARSEABLE_BODY", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	shopHandler(t, waf.Detection, policy.FrontREST).ServeHTTP(w, rawProtobufRequest("/v1/users", truncated))
	if w.Code != 200 {
		t.Errorf("undecodable body in detection mode: got %d %s, want 200", w.Code, w.Body)
	}
}
