package transcoder_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	commonv1 "github.com/protogate/gateway/gen/shop/common/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/transcoder"
)

// ada is a fully populated user, as the shop returns user 1.
func ada(b testing.TB) []byte {
	prefs, err := structpb.NewStruct(map[string]any{"theme": "light", "newsletter": true, "font_scale": 1.25})
	if err != nil {
		b.Fatal(err)
	}
	return marshal(b, &usersv1.User{
		Id: "1", Name: "Ada Lovelace", Email: "ada@example.com", Role: usersv1.Role_ROLE_CUSTOMER,
		CreatedAt: timestamppb.New(time.Date(2023, 1, 2, 9, 30, 0, 0, time.UTC)),
		Address:   &usersv1.User_Address{Street: "12 St James's Square", City: "London", PostalCode: "SW1Y 4JH", Country: "GB"},
		Tags:      []string{"vip", "early-adopter"}, Labels: map[string]string{"region": "eu", "segment": "new"},
		Nickname: wrapperspb.String("Enchantress of Numbers"), Preferences: prefs, LoyaltyPoints: 1815,
		Avatar: []byte{0x89, 'P', 'N', 'G'}, Contact: &usersv1.User_ChatHandle{ChatHandle: "@ada"},
	})
}

// placedOrder is the order the shop answers a CreateOrder with.
func placedOrder(b testing.TB) []byte {
	return marshal(b, &ordersv1.Order{
		Id: "o-1001", UserId: "1", Status: ordersv1.OrderStatus_ORDER_STATUS_PENDING,
		Items: []*ordersv1.LineItem{
			{ProductId: "p1", Quantity: 2, UnitPrice: &commonv1.Money{CurrencyCode: "EUR", Units: 12, Nanos: 500000000}},
			{ProductId: "p2", Quantity: 1, UnitPrice: &commonv1.Money{CurrencyCode: "EUR", Units: 3}},
		},
		Total:            &commonv1.Money{CurrencyCode: "EUR", Units: 28},
		CreatedAt:        timestamppb.New(time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)),
		DeliveryEstimate: durationpb.New(72 * time.Hour),
		Payment:          &ordersv1.Order_VoucherCode{VoucherCode: "SPRING"},
		Notes:            map[string]string{"gift": "yes"},
	})
}

// shopHandler is the REST front over the shop's routes with an in-memory upstream answering resp.
func shopHandler(b testing.TB, resp []byte) *transcoder.Handler {
	rt, err := transcoder.NewRouter(shopServices())
	if err != nil {
		b.Fatal(err)
	}
	h, err := transcoder.NewHandler(func() *transcoder.Router { return rt }, fakeUpstreams{resp: resp})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkBuildRequest measures the request half of a call: match, then build and encode the
// request message from the path, query and body.
func BenchmarkBuildRequest(b *testing.B) {
	h := shopHandler(b, nil)
	order := `{"userId":"1","items":[{"productId":"p1","quantity":2},{"productId":"p2","quantity":1}],"voucherCode":"SPRING","notes":{"gift":"yes"}}`
	for _, bc := range []struct{ name, method, target, body string }{
		{"GET /v1/users/1", "GET", "/v1/users/1", ""},
		{"GET /v1/users?query", "GET", "/v1/users?page_size=2&filter.role=ROLE_ADMIN", ""},
		{"POST /v1/orders", "POST", "/v1/orders", order},
		// The same request through dynamicpb and protojson, without the JSON-to-wire fast path.
		{"POST /v1/orders dynamic", "POST", "/v1/orders", order},
	} {
		build := transcoder.BuildRequest
		if strings.HasSuffix(bc.name, "dynamic") {
			build = transcoder.BuildRequestDynamic
		}
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(bc.method, bc.target, nil)
			r.Header.Set("Content-Type", "application/json")
			body := strings.NewReader(bc.body)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				body.Reset(bc.body)
				r.Body = http.NoBody
				if bc.body != "" {
					r.Body, r.ContentLength = readCloser{body}, int64(len(bc.body))
				}
				if _, err := build(h, w, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

// BenchmarkRenderResponse measures the response half: a User's bytes rendered as JSON or binary.
func BenchmarkRenderResponse(b *testing.B) {
	user := ada(b)
	h := shopHandler(b, nil)
	for _, accept := range []string{"application/json", "application/x-protobuf"} {
		b.Run(accept, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/v1/users/1", nil)
			r.Header.Set("Accept", accept)
			w := discard{h: make(http.Header)}
			b.ReportAllocs()
			b.SetBytes(int64(len(user)))
			for b.Loop() {
				clear(w.h)
				if err := transcoder.RenderResponse(h, w, r, user); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHandler measures a whole REST call in memory, the upstream answering at once: everything
// the REST front adds to a call, without the network.
func BenchmarkHandler(b *testing.B) {
	get, post := shopHandler(b, ada(b)), shopHandler(b, placedOrder(b))
	// A snapshot whose routes match on X-Canary and whose cluster hashes X-Session: both go upstream.
	rt, err := transcoder.NewRouter(shopServices(), transcoder.WithRouteHeaders("x-canary", "x-session"))
	if err != nil {
		b.Fatal(err)
	}
	routed, err := transcoder.NewHandler(func() *transcoder.Router { return rt }, fakeUpstreams{resp: ada(b)})
	if err != nil {
		b.Fatal(err)
	}
	order := `{"userId":"1","items":[{"productId":"p1","quantity":2},{"productId":"p2","quantity":1}],"voucherCode":"SPRING","notes":{"gift":"yes"}}`
	for _, bc := range []struct {
		name, method, target, body string
		h                          *transcoder.Handler
	}{
		{"GET /v1/users/1", "GET", "/v1/users/1", "", get},
		{"POST /v1/orders", "POST", "/v1/orders", order, post},
		{"GET /v1/users/1 route headers", "GET", "/v1/users/1", "", routed},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := bc.h
			r := httptest.NewRequest(bc.method, bc.target, nil)
			r.Header.Set("Content-Type", "application/json")
			if h == routed {
				r.Header.Set("X-Canary", "always")
				r.Header.Set("X-Session", "s-1")
				r.Header.Set("User-Agent", "bench") // named by no route: stays behind
			}
			body := strings.NewReader(bc.body)
			w := discard{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				if bc.body != "" {
					body.Reset(bc.body)
					r.Body, r.ContentLength = readCloser{body}, int64(len(bc.body))
				}
				h.ServeHTTP(w, r)
			}
		})
	}
}

// discard is a ResponseWriter that keeps nothing but headers.
type discard struct{ h http.Header }

func (d discard) Header() http.Header       { return d.h }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}
