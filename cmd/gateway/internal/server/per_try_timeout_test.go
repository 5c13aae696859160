package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/registry"
)

// perTryTimeoutConfig is the README's route example (Clusters and resilience) in front of two users
// backends, its per_try_timeout shortened; RETRY_ON and the endpoints are filled in.
const perTryTimeoutConfig = `
clusters:
  - name: users
    endpoints: [SLOW, FAST]
routes:
  - match: {service: shop.users.v1.UserService}
    cluster: users
    timeout: 2s
    retry:
      attempts: 3
      per_try_timeout: 100ms
      retry_on: RETRY_ON
      backoff: {base: 25ms, max: 250ms}
`

// An attempt that a backend got and did not answer within per_try_timeout ends DEADLINE_EXCEEDED.
// With DEADLINE_EXCEEDED in retry_on, as in the README's example, GetUser (NO_SIDE_EFFECTS) is
// retried on the other endpoint and succeeds, over gRPC and REST alike. Without it the call fails
// DEADLINE_EXCEEDED (504 on REST) once the per-try timeout passes, the route's timeout unspent.
func TestPerTryTimeoutRetriesSlowAttempt(t *testing.T) {
	verifyNoLeaks(t)
	slow := startUsers(t, shop.Options{Latency: 10 * time.Second}) // ends when the attempt does
	fast := startUsers(t, shop.Options{})
	files, err := registry.FilesOf(usersv1.File_shop_users_v1_users_proto)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		retryOn string
		retried bool
	}{
		{"the README's retry_on", "[UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED]", true},
		{"without DEADLINE_EXCEEDED", "[UNAVAILABLE, RESOURCE_EXHAUSTED]", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := strings.NewReplacer("SLOW", slow.addr, "FAST", fast.addr, "RETRY_ON", tc.retryOn).Replace(perTryTimeoutConfig)
			cfg, err := config.Parse("gateway.yaml", []byte(yaml))
			if err != nil {
				t.Fatal(err)
			}
			spec, err := registry.SpecFromConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			spec.Registrations = []*registry.Registration{{Name: "users", Cluster: "users", Files: files}}
			client, addr, _ := serveSpec(t, spec)
			httpc := &http.Client{Transport: &http.Transport{}}
			defer httpc.CloseIdleConnections()
			// onSlow makes calls until one's first attempt goes to the slow endpoint (round robin
			// sends one of two there), and returns that call's result.
			onSlow := func(front string, call func() error) error {
				t.Helper()
				for range 2 {
					before := slow.calls.Load()
					start := time.Now()
					err := call()
					if slow.calls.Load() == before {
						continue
					}
					if took := time.Since(start); took > time.Second {
						t.Errorf("%s: the call took %v, want about the per-try timeout (100ms)", front, took)
					}
					return err
				}
				t.Fatalf("%s: no call went to the slow endpoint", front)
				return nil
			}
			grpcErr := onSlow("gRPC", func() error {
				_, err := client.GetUser(t.Context(), &usersv1.GetUserRequest{Id: "1"})
				return err
			})
			restErr := onSlow("REST", func() error {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/v1/users/1", nil)
				if resp, body := doRequest(t, httpc, req); resp.StatusCode != http.StatusOK {
					return fmt.Errorf("%d %s", resp.StatusCode, body)
				}
				return nil
			})
			if tc.retried {
				if grpcErr != nil {
					t.Errorf("gRPC: %v, want the slow attempt retried on the other endpoint", grpcErr)
				}
				if restErr != nil {
					t.Errorf("REST: %v, want the slow attempt retried on the other endpoint", restErr)
				}
				return
			}
			if status.Code(grpcErr) != codes.DeadlineExceeded {
				t.Errorf("gRPC: %v, want DEADLINE_EXCEEDED from the slow attempt", grpcErr)
			}
			if restErr == nil || !strings.HasPrefix(restErr.Error(), "504 ") {
				t.Errorf("REST: %v, want 504 from the slow attempt", restErr)
			}
		})
	}
}
