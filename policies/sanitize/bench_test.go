package sanitize_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/sanitize"
)

// BenchmarkSanitize measures the middleware's cost per clean request against the front alone.
func BenchmarkSanitize(b *testing.B) {
	const order = `{"userId": "1", "items": [{"productId": "p1", "quantity": 2}, {"productId": "p2", "quantity": 1}], "note": "Leave it with O'Brien at the door"}`
	mw, err := sanitize.New(config.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, method, target, body string }{
		{"GET", "GET", "/v1/users/1?view=FULL&page_size=10", ""},
		{"POST-JSON", "POST", "/v1/orders", order},
	} {
		for _, on := range []bool{false, true} {
			name := tc.name + "/front-only"
			var h http.Handler = echo
			if on {
				name = tc.name + "/sanitize"
				h = mw(policy.FrontREST, echo)
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
					r.Header.Set("Content-Type", "application/json")
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != 200 {
						b.Fatal(w.Code)
					}
				}
			})
		}
	}
}

// BenchmarkCheckMessage measures the JSON limits' cost per WebSocket message (policy.MessageLimits).
func BenchmarkCheckMessage(b *testing.B) {
	const msg = `{"order": {"userId": "1", "items": [{"productId": "p1", "quantity": 2}], "giftMessage": "Many happy returns \u00e9\ud83d\ude00"}}`
	mw, err := sanitize.New(config.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	var limits policy.MessageLimits
	r := httptest.NewRequest("GET", "/v1/orders:import", nil)
	r.Header.Set("Upgrade", "websocket")
	mw(policy.FrontREST, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		limits = policy.MessageLimitsFrom(r.Context())
	})).ServeHTTP(httptest.NewRecorder(), r)
	ctx, data := context.Background(), []byte(msg)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := limits.CheckMessage(ctx, data); err != nil {
			b.Fatal(err)
		}
	}
}
