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

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/examples/shop"
	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
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
