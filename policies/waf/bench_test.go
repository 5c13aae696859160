package waf_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/waf"
)

// BenchmarkWAF measures the firewall's cost per clean request: the same request through the
// blocking middleware and straight to the front. A GraphQL document whose string literals hold
// escapes is lexed for them (POST-GraphQL-escaped); one without, nearly all, is not (POST-GraphQL).
func BenchmarkWAF(b *testing.B) {
	const order = `{"userId": "1", "items": [{"productId": "p1", "quantity": 2}, {"productId": "p2", "quantity": 1}], "note": "Leave it with O'Brien at the door"}`
	const query = `{"query": "{ getUser(id: \"1\") { name email orders { id items { quantity product { name } } } } }"}`
	const escaped = `{"query": "{ getUser(id: \"1\") { name orders(note: \"Leave it with O\\u0027Brien\") { id } } }"}`
	for _, tc := range []struct {
		name, method, target, body string
		front                      policy.Front
	}{
		{"GET", "GET", "/v1/users/1?view=FULL", "", policy.FrontREST},
		{"POST-JSON", "POST", "/v1/orders", order, policy.FrontREST},
		{"POST-GraphQL", "POST", "/graphql", query, policy.FrontGraphQL},
		{"POST-GraphQL-escaped", "POST", "/graphql", escaped, policy.FrontGraphQL},
	} {
		for _, mode := range []string{waf.Off, waf.Blocking} {
			b.Run(tc.name+"/"+mode, func(b *testing.B) {
				h := handler(mode, tc.front)
				b.ReportAllocs()
				for b.Loop() {
					r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
					r.Header.Set("User-Agent", "shop-client/1.0")
					r.Header.Set("Accept", "application/json")
					r.Header.Set("Content-Type", "application/json")
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatalf("got %d %s", w.Code, w.Body)
					}
				}
			})
		}
	}
}

// BenchmarkWAFMessage measures the firewall's cost per clean streamed message (an NDJSON line, a
// WebSocket frame): one transaction with the request's target and headers and the message as its
// body. Compare with BenchmarkWAF/POST-JSON/blocking, a whole request with a body of the same size.
func BenchmarkWAFMessage(b *testing.B) {
	const order = `{"userId": "1", "items": [{"productId": "p1", "quantity": 2}, {"productId": "p2", "quantity": 1}], "note": "Leave it with O'Brien at the door"}`
	r := ndjsonRequest("/v1/orders:import")
	r.Header.Set("Accept", "application/json")
	in := inspectorOf(b, waf.Blocking, policy.FrontREST, r)
	ctx := context.Background()
	msg := []byte(order)
	b.ReportAllocs()
	for b.Loop() {
		if err := in.InspectMessage(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWAFProtobuf measures what reading a protobuf body costs over reading its JSON twin: the
// same order through the blocking middleware of a snapshot serving the shop (the binding resolved
// for both), the protobuf decoded and rendered as the JSON the rules read.
func BenchmarkWAFProtobuf(b *testing.B) {
	order := &ordersv1.CreateOrderRequest{
		UserId: "1", Items: []*ordersv1.LineItem{{ProductId: "p1", Quantity: 2}, {ProductId: "p2", Quantity: 1}},
		Payment: &ordersv1.CreateOrderRequest_VoucherCode{VoucherCode: "SPRING-10"},
		Notes:   map[string]string{"door": "Leave it with O'Brien at the door"},
	}
	pb, err := proto.Marshal(order)
	if err != nil {
		b.Fatal(err)
	}
	js, err := protojson.Marshal(order)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name, contentType string
		body              []byte
	}{{"JSON", "application/json", js}, {"protobuf", "application/x-protobuf", pb}} {
		b.Run(tc.name, func(b *testing.B) {
			h := shopHandler(b, waf.Blocking, policy.FrontREST)
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest("POST", "/v1/orders", bytes.NewReader(tc.body))
				r.Header.Set("User-Agent", "shop-client/1.0")
				r.Header.Set("Accept", "application/json")
				r.Header.Set("Content-Type", tc.contentType)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("got %d %s", w.Code, w.Body)
				}
			}
		})
	}
}
