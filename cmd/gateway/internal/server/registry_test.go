package server_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jhump/protoreflect/grpcreflect"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/protogate/gateway/examples/shop"
	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/registry"
)

func usersDescriptorSet(t testing.TB) []byte {
	t.Helper()
	files, err := registry.FilesOf(usersv1.File_shop_users_v1_users_proto)
	if err != nil {
		t.Fatal(err)
	}
	set, err := registry.DescriptorSetOf(files)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func registerUsers(ctx context.Context, reg *registry.Registry, set []byte, endpoints ...string) (*adminv1.RegisterResponse, error) {
	return reg.Register(ctx, &adminv1.RegisterRequest{
		Name:          "users",
		Endpoints:     endpoints,
		Source:        &adminv1.RegisterRequest_DescriptorSet{DescriptorSet: set},
		AllowBreaking: true,
	})
}

// TestRegistrationLifecycleOverGRPC registers a service at run time, calls it, and deletes it.
func TestRegistrationLifecycleOverGRPC(t *testing.T) {
	g := startGateway(t, harnessOptions{empty: true})
	client := usersv1.NewUserServiceClient(g.conn)
	ctx := testContext(t)
	if _, err := client.GetUser(ctx, &usersv1.GetUserRequest{Id: "1"}); status.Code(err) != codes.Unimplemented {
		t.Fatalf("before registration: %v, want Unimplemented", err)
	}
	if _, err := registerUsers(ctx, g.srv.Registry(), usersDescriptorSet(t), g.shop.Addr("users")); err != nil {
		t.Fatal(err)
	}
	if u, err := client.GetUser(ctx, &usersv1.GetUserRequest{Id: "1"}); err != nil || u.GetName() != "Ada Lovelace" {
		t.Fatalf("after registration: %v, %v", u, err)
	}
	if _, err := g.srv.Registry().Delete(ctx, "users"); err != nil {
		t.Fatal(err)
	}
	_, err := client.GetUser(ctx, &usersv1.GetUserRequest{Id: "1"})
	if st := status.Convert(err); st.Code() != codes.Unimplemented {
		t.Fatalf("after deletion: %v, want Unimplemented", err)
	}
}

// TestHotReloadUnderLoad drives calls continuously while the registration is updated, rolled back and
// moved between backends, and requires every call to succeed.
func TestHotReloadUnderLoad(t *testing.T) {
	g := startGateway(t, harnessOptions{empty: true})
	other := startShop(t, shop.Options{})
	a, b := g.shop.Addr("users"), other.Addr("users")
	set := usersDescriptorSet(t)
	reg := g.srv.Registry()
	ctx := testContext(t)
	if _, err := registerUsers(ctx, reg, set, a); err != nil {
		t.Fatal(err)
	}

	var (
		calls, failures atomic.Int64
		firstErr        atomic.Value
		stop            = make(chan struct{})
		wg              sync.WaitGroup
	)
	client := usersv1.NewUserServiceClient(g.conn)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := client.GetUser(ctx, &usersv1.GetUserRequest{Id: "1"}); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
				calls.Add(1)
			}
		}()
	}

	steps := []func() error{
		func() error { _, err := registerUsers(ctx, reg, set, a, b); return err },
		func() error { _, err := reg.Rollback(ctx, "users", 0); return err },
		func() error { _, err := registerUsers(ctx, reg, set, b); return err },
		func() error { _, err := registerUsers(ctx, reg, set, a); return err },
	}
	for i := range 40 {
		if err := steps[i%len(steps)](); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		// Let some calls run on each snapshot: wait for progress, not for time.
		for start := calls.Load(); calls.Load() < start+20 && failures.Load() == 0; {
			runtime.Gosched()
		}
	}
	close(stop)
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d of %d calls failed during reloads; first: %v", failures.Load(), calls.Load(), firstErr.Load())
	}
	versions, _, err := reg.Versions("users")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d calls, 0 failed, across %d registration versions and %d snapshots", calls.Load(), len(versions), reg.Current().Version())
}

// TestAdminRefusesGraphQLBreak: through the admin API's JSON, an update that moves a root field
// from Mutation to Query (the method became free of side effects) is refused as breaking, listing
// the GraphQL break; a dry run with allowBreaking lists it and changes nothing.
func TestAdminRefusesGraphQLBreak(t *testing.T) {
	g := startGateway(t, harnessOptions{empty: true})
	const widgets = `syntax = "proto3";
package acme.w.v1;
service Widgets { rpc GetWidget(GetWidgetRequest) returns (Widget)%s }
message GetWidgetRequest { string id = 1; }
message Widget { string id = 1; }
`
	register := func(src string, extra map[string]any) (int, string) {
		t.Helper()
		req := map[string]any{"name": "widgets", "endpoints": []string{g.shop.Addr("users")},
			"protos": map[string]any{"files": map[string]string{"acme/w/v1/w.proto": src}}}
		maps.Copy(req, extra)
		body, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		hreq, err := http.NewRequestWithContext(testContext(t), http.MethodPost, "http://"+g.admin+"/v1/registrations", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		hreq.Header.Set("Content-Type", "application/json")
		resp, text := doRequest(t, http.DefaultClient, hreq)
		return resp.StatusCode, text
	}
	if code, body := register(fmt.Sprintf(widgets, ";"), nil); code != http.StatusOK {
		t.Fatalf("first version: %d %s", code, body)
	}
	query := fmt.Sprintf(widgets, " { option idempotency_level = NO_SIDE_EFFECTS; }")
	const want = "GraphQL Mutation: field getWidget moved to Query"
	if code, body := register(query, nil); code != http.StatusBadRequest || !strings.Contains(body, "1 breaking change(s)") || !strings.Contains(body, want) {
		t.Errorf("update: %d %s, want 400 listing %q", code, body, want)
	}
	code, body := register(query, map[string]any{"allowBreaking": true, "dryRun": true})
	if code != http.StatusOK || !strings.Contains(body, `"breakingChanges":["`+want+`"]`) {
		t.Errorf("dry run: %d %s, want 200 listing %q", code, body, want)
	}
	if v, err := g.srv.Registry().Get("widgets"); err != nil || v.Number != 1 {
		t.Errorf("after the dry run: %v, want version 1 active", cmp.Or(err, fmt.Errorf("version %d active", v.Number)))
	}
}

// TestSharedFileNewerCopy: the catalog registers a newer shop/common/v1/money.proto than the
// orders' (a field added). Both serve; the newer copy is what reflection and GraphQL describe, and
// the orders, whose backend lacks the field, answer over every front with it unset.
func TestSharedFileNewerCopy(t *testing.T) {
	g := startGateway(t, harnessOptions{spec: func(spec *registry.Spec, _ *shop.Shop) {
		for _, r := range spec.Registrations {
			if r.Name == "catalog" {
				r.Files = withMoneyNote(t, r.Files)
			}
		}
	}})
	ctx := testContext(t)

	client := grpcreflect.NewClientAuto(ctx, g.conn)
	defer client.Reset()
	if md, err := client.ResolveMessage("shop.common.v1.Money"); err != nil || md.FindFieldByName("note") == nil {
		t.Errorf("reflection describes shop.common.v1.Money without note (%v)", err)
	}

	r := postQuery(t, g, `{ getOrder(id: "o1") { id total { currencyCode note } } getProduct(id: "p1") { price { units note } } }`)
	var data struct {
		GetOrder struct {
			ID    string
			Total struct{ CurrencyCode, Note string }
		}
		GetProduct struct{ Price struct{ Note string } }
	}
	if err := json.Unmarshal(r.Data, &data); err != nil || len(r.Errors) > 0 || data.GetOrder.ID != "o1" || data.GetOrder.Total.CurrencyCode == "" ||
		!strings.Contains(string(r.Data), `"total":{"currencyCode":"`+data.GetOrder.Total.CurrencyCode+`","note":""}`) {
		t.Errorf("GraphQL: %s %+v (%v), want the order's total with an empty note", r.Data, r.Errors, err)
	}

	c := newRESTClient(g)
	if resp := c.do(t, http.MethodGet, "/v1/orders/o1", ""); resp.status != http.StatusOK || !strings.Contains(string(resp.body), `"currencyCode"`) {
		t.Errorf("REST GET /v1/orders/o1: %d %s", resp.status, resp.body)
	}
	// The note reaches the orders' backend as an unknown field, which it ignores.
	order := `{"userId":"1","items":[{"productId":"p1","quantity":1,"unitPrice":{"currencyCode":"EUR","units":"5","note":"gift"}}]}`
	if resp := c.do(t, http.MethodPost, "/v1/orders", order); resp.status != http.StatusOK {
		t.Errorf("REST POST /v1/orders with a note: %d %s", resp.status, resp.body)
	}
	if resp := c.do(t, http.MethodGet, "/v1/products/p1", ""); resp.status != http.StatusOK {
		t.Errorf("REST GET /v1/products/p1: %d %s", resp.status, resp.body)
	}
	if o, err := ordersv1.NewOrderServiceClient(g.conn).GetOrder(ctx, &ordersv1.GetOrderRequest{Id: "o1"}); err != nil || o.GetTotal().GetCurrencyCode() == "" {
		t.Errorf("gRPC GetOrder: %v, %v", o, err)
	}
}

// withMoneyNote returns files with shop/common/v1/money.proto's Money given a field
// "string note = 4", and the files importing it linked against that copy.
func withMoneyNote(t testing.TB, files *protoregistry.Files) *protoregistry.Files {
	t.Helper()
	data, err := registry.DescriptorSetOf(files)
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(data, &set); err != nil {
		t.Fatal(err)
	}
	for _, fdp := range set.GetFile() {
		if fdp.GetName() == "shop/common/v1/money.proto" {
			fdp.MessageType[0].Field = append(fdp.MessageType[0].Field, &descriptorpb.FieldDescriptorProto{
				Name: proto.String("note"), JsonName: proto.String("note"), Number: proto.Int32(4),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
			})
		}
	}
	if data, err = proto.Marshal(&set); err != nil {
		t.Fatal(err)
	}
	out, err := registry.FilesFromDescriptorSet(data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
