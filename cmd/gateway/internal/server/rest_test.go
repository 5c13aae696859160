package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/protogate/gateway/examples/shop"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/registry"
)

// restClient calls the gateway's REST front over loopback.
type restClient struct {
	base string
	http *http.Client
}

func newRESTClient(g *gateway) *restClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	return &restClient{base: "http://" + g.addr, http: &http.Client{Transport: tr, Timeout: 20 * time.Second}}
}

type restResponse struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request; a body is sent as JSON. headers are name, value pairs.
func (c *restClient) do(t testing.TB, method, path, body string, headers ...string) restResponse {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	putHeaders(req.Header, headers)
	return send(t, c.http, req)
}

// send sends req with client (doRequest) and returns the whole response.
func send(t testing.TB, client *http.Client, req *http.Request) restResponse {
	t.Helper()
	resp, body := doRequest(t, client, req)
	return restResponse{status: resp.StatusCode, header: resp.Header, body: []byte(body)}
}

// contains reports whether JSON got holds every member of JSON want, recursively.
func contains(t testing.TB, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want: %v", err)
	}
	return jsonSubset(g, w)
}

func jsonSubset(got, want any) bool {
	if wl, ok := want.([]any); ok {
		gl, ok := got.([]any)
		if !ok || len(gl) != len(wl) {
			return false
		}
		for i := range wl {
			if !jsonSubset(gl[i], wl[i]) {
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
		if gv, ok := gm[k]; !ok || !jsonSubset(gv, wv) {
			return false
		}
	}
	return true
}

// TestREST calls every shop binding through the real gateway: same port as gRPC, routed by the same
// proxy core.
func TestREST(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	c := newRESTClient(g)
	cases := []struct {
		name, method, path, body string
		status                   int
		want                     string // a JSON subset of the response
	}{
		{"get", "GET", "/v1/users/1", "", 200, `{"id":"1","name":"Ada Lovelace","email":"ada@example.com","role":"ROLE_CUSTOMER"}`},
		{"list with nested query", "GET", "/v1/users?page_size=2&filter.role=ROLE_ADMIN", "", 200,
			`{"users":[{"id":"2","role":"ROLE_ADMIN"},{"id":"20","role":"ROLE_ADMIN"}],"totalSize":2}`},
		{"list with JSON names", "GET", "/v1/users?pageSize=1&filter.role=3", "", 200, `{"users":[{"id":"2"}]}`},
		{"repeated query", "GET", "/v1/users:batchGet?ids=1&ids=2", "", 200, `{"users":[{"name":"Ada Lovelace"},{"name":"Alan Turing"}]}`},
		{"body field", "POST", "/v1/users", `{"name":"Grace Brewster Hopper","email":"grace.rest@example.com","role":"ROLE_SUPPORT"}`, 200,
			`{"name":"Grace Brewster Hopper","role":"ROLE_SUPPORT"}`},
		{"patch with update_mask from keys", "PATCH", "/v1/users/1", `{"nickname":"Countess","email":"IGNORED-not-in-mask@example.com"}`, 200,
			`{"id":"1","nickname":"Countess","name":"Ada Lovelace"}`},
		{"body *", "POST", "/v1/orders", `{"userId":"1","items":[{"productId":"p1","quantity":2}],"voucherCode":"SPRING"}`, 200,
			`{"userId":"1","voucherCode":"SPRING","items":[{"productId":"p1","quantity":2}]}`},
		{"custom verb", "POST", "/v1/orders/o1:cancel", `{"reason":"changed my mind"}`, 200, `{"id":"o1","status":"ORDER_STATUS_CANCELLED"}`},
		{"nested collection", "GET", "/v1/users/3/orders?page_size=1", "", 200, `{"orders":[{"userId":"3"}]}`},
		{"field mask query", "GET", "/v1/products/p1?read_mask=name,price", "", 200,
			`{"name":"The Analytical Engine Handbook","price":{"currencyCode":"EUR"}}`},
		{"upstream NOT_FOUND with details", "GET", "/v1/users/99", "", 404,
			`{"code":5,"message":"user \"99\" not found","details":[{"@type":"type.googleapis.com/google.rpc.ResourceInfo","resourceType":"shop.users.v1.User","resourceName":"99"}]}`},
		{"upstream INVALID_ARGUMENT with details", "POST", "/v1/users", `{"name":"No Email"}`, 400,
			`{"code":3,"details":[{"@type":"type.googleapis.com/google.rpc.BadRequest"}]}`},
		{"bad enum", "GET", "/v1/users?filter.role=ROLE_BOSS", "", 400,
			`{"code":3,"details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"filter.role"}]}]}`},
		{"bad int", "GET", "/v1/users?page_size=ten", "", 400, `{"code":3,"details":[{"fieldViolations":[{"field":"page_size"}]}]}`},
		{"unknown field", "POST", "/v1/orders", `{"userId":"1","colour":"red"}`, 400, `{"code":3,"details":[{"fieldViolations":[{"field":"colour"}]}]}`},
		{"bad JSON", "POST", "/v1/orders", `{"userId":`, 400, `{"code":3}`},
		{"no route", "GET", "/v2/users", "", 404, `{"code":5,"message":"no route for GET /v2/users","details":[]}`},
		{"wrong method", "DELETE", "/v1/users/1", "", 405, `{"code":12}`},
		{"streaming, failing before the first message", "GET", "/v1/products/p99/inventory:watch", "", 404, `{"code":5}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := c.do(t, tc.method, tc.path, tc.body)
			if resp.status != tc.status {
				t.Fatalf("HTTP %d, want %d: %s", resp.status, tc.status, resp.body)
			}
			if ct := resp.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			if !contains(t, resp.body, tc.want) {
				t.Errorf("response %s\ndoes not contain %s", resp.body, tc.want)
			}
			if tc.status == 405 && resp.header.Get("Allow") != "GET, HEAD, PATCH" {
				t.Errorf("Allow = %q", resp.header.Get("Allow"))
			}
		})
	}
}

// TestRESTHead: HEAD is served wherever GET is, with GET's status and headers and no body.
func TestRESTHead(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	c := newRESTClient(g)
	for path, status := range map[string]int{"/v1/users/1": 200, "/v1/users/99": 404} {
		resp := c.do(t, http.MethodHead, path, "")
		if resp.status != status || resp.header.Get("Content-Type") != "application/json" || len(resp.body) != 0 {
			t.Errorf("HEAD %s: %d %q %q, want %d, JSON's content type and no body", path, resp.status, resp.header.Get("Content-Type"), resp.body, status)
		}
	}
	if resp := c.do(t, http.MethodHead, "/v1/inventory:adjust", ""); resp.status != 405 || resp.header.Get("Allow") != "POST" {
		t.Errorf("HEAD on a POST route: %d, Allow %q; want 405 and POST", resp.status, resp.header.Get("Allow"))
	}
}

// TestRESTUpdateMaskFromKeys checks that a PATCH changes only the fields its body names.
func TestRESTUpdateMaskFromKeys(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	c := newRESTClient(g)
	if r := c.do(t, "PATCH", "/v1/users/2", `{"nickname":"Alan"}`); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	r := c.do(t, "GET", "/v1/users/2", "")
	if !contains(t, r.body, `{"nickname":"Alan","email":"alan@example.com","role":"ROLE_ADMIN"}`) {
		t.Errorf("after PATCH: %s", r.body)
	}
}

// TestRESTMetadata checks the header mapping through the real gateway: request headers reach the
// backend as metadata, with the Grpc-Timeout deadline; the backend's trailers come back.
func TestRESTMetadata(t *testing.T) {
	type seen struct {
		md       metadata.MD
		deadline time.Duration
	}
	calls := make(chan seen, 8)
	g := startGateway(t, harnessOptions{shop: shop.Options{OnCall: func(ctx context.Context, method string) {
		if method != "/shop.users.v1.UserService/GetUser" {
			return
		}
		md, _ := metadata.FromIncomingContext(ctx)
		var left time.Duration
		if d, ok := ctx.Deadline(); ok {
			left = time.Until(d)
		}
		calls <- seen{md: md, deadline: left}
	}}})
	r := newRESTClient(g).do(t, "GET", "/v1/users/1", "",
		"Authorization", "Bearer abc", "Grpc-Metadata-X-Request-Tag", "tour-1", "X-Forwarded-For", "203.0.113.9",
		"X-Not-Passed", "x", "Grpc-Timeout", "5S")
	if r.status != 200 {
		t.Fatalf("HTTP %d: %s", r.status, r.body)
	}
	got := <-calls
	for key, want := range map[string]string{
		"authorization":     "Bearer abc",
		"x-request-tag":     "tour-1",
		"x-forwarded-for":   "203.0.113.9, 127.0.0.1",
		"x-forwarded-host":  g.addr,
		"x-forwarded-proto": "http",
	} {
		if v := got.md.Get(key); len(v) != 1 || v[0] != want {
			t.Errorf("metadata %s = %q, want %q", key, v, want)
		}
	}
	if v := got.md.Get("x-not-passed"); len(v) != 0 {
		t.Errorf("x-not-passed reached the backend: %q", v)
	}
	if got.deadline <= 0 || got.deadline > 5*time.Second {
		t.Errorf("backend deadline in %v, want within 5s", got.deadline)
	}
	if v := r.header.Get("Grpc-Trailer-X-Served-By"); v != "users" {
		t.Errorf("Grpc-Trailer-X-Served-By = %q, want users", v)
	}
}

// TestRESTUpstreamDown: a registration whose only endpoint is down answers 503.
func TestRESTUpstreamDown(t *testing.T) {
	dead := testnet.Refused(t)
	g := startGateway(t, harnessOptions{spec: func(spec *registry.Spec, _ *shop.Shop) {
		for _, r := range spec.Registrations {
			if r.Name == "users" {
				r.Endpoints = []string{dead}
			}
		}
	}})
	r := newRESTClient(g).do(t, "GET", "/v1/users/1", "")
	if r.status != http.StatusServiceUnavailable || !contains(t, r.body, `{"code":14}`) {
		t.Fatalf("HTTP %d: %s", r.status, r.body)
	}
}

// TestRESTDeadline: Grpc-Timeout bounds the upstream call; a slow backend answers 504.
func TestRESTDeadline(t *testing.T) {
	g := startGateway(t, harnessOptions{shop: shop.Options{Latency: 2 * time.Second}})
	start := time.Now()
	r := newRESTClient(g).do(t, "GET", "/v1/users/1", "", "Grpc-Timeout", "50m")
	if r.status != http.StatusGatewayTimeout || !contains(t, r.body, `{"code":4}`) {
		t.Fatalf("HTTP %d: %s", r.status, r.body)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v: the deadline did not apply", d)
	}
}

// TestRESTBinary: application/x-protobuf in and out.
func TestRESTBinary(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	r := newRESTClient(g).do(t, "GET", "/v1/users/1", "", "Accept", "application/x-protobuf")
	var u usersv1.User
	if err := proto.Unmarshal(r.body, &u); err != nil || u.GetName() != "Ada Lovelace" || r.header.Get("Content-Type") != "application/x-protobuf" {
		t.Fatalf("HTTP %d %q: %v %v", r.status, r.header.Get("Content-Type"), &u, err)
	}
}

// BenchmarkRESTvsGRPC measures GET /v1/users/1 over REST (HTTP/1.1, JSON) and the same GetUser call
// over gRPC, both through the gateway in one run: the difference is the REST front's cost
// (transcoding both ways, HTTP/1.1). Allocations count client, gateway and backend.
func BenchmarkRESTvsGRPC(b *testing.B) {
	g := startGateway(b, harnessOptions{})
	b.Run("rest", func(b *testing.B) {
		c := newRESTClient(g)
		url := c.base + "/v1/users/1"
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := c.http.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("HTTP %d", resp.StatusCode)
					return
				}
			}
		})
	})
	b.Run("grpc", func(b *testing.B) {
		client := usersv1.NewUserServiceClient(g.conn)
		req := &usersv1.GetUserRequest{Id: "1"}
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := client.GetUser(ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// putHeaders sets the name, value pairs kv on h: a name's first value replaces what h has, a
// repeated name adds its value.
func putHeaders(h http.Header, kv []string) {
	set := map[string]bool{}
	for i := 0; i+1 < len(kv); i += 2 {
		name := http.CanonicalHeaderKey(kv[i])
		if set[name] {
			h.Add(name, kv[i+1])
		} else {
			h.Set(name, kv[i+1])
			set[name] = true
		}
	}
}
