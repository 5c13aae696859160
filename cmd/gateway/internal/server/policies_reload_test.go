package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/protogate/gateway/cmd/gateway/internal/demo"
	"github.com/protogate/gateway/config"
)

// TestPoliciesReload checks that a new spec's policies take effect at once, and that a spec whose
// policies do not compile is refused with the serving policies left as they were.
func TestPoliciesReload(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	url := "http://" + g.addr + "/v1/users/1"
	if code, body := httpGet(t, url); code != http.StatusOK {
		t.Fatalf("before: %d %s", code, body)
	}

	sum := sha256.Sum256([]byte("k"))
	locked := config.Policies{
		Auth: config.Auth{APIKeys: config.APIKeys{Keys: []config.APIKey{{Consumer: "c", SHA256: hex.EncodeToString(sum[:])}}}},
		Rules: []config.PolicyRule{{
			Match: config.PolicyMatch{Service: "shop.users.v1.UserService"},
			Auth:  config.RuleAuth{Required: true},
		}},
	}.Completed()
	spec, err := demo.Spec(g.shop)
	if err != nil {
		t.Fatal(err)
	}
	spec.Policies = locked
	if _, err := g.srv.Apply(spec); err != nil {
		t.Fatal(err)
	}
	if code, body := httpGet(t, url); code != http.StatusUnauthorized {
		t.Fatalf("after locking: %d %s, want 401", code, body)
	}

	broken := locked
	broken.Rules = []config.PolicyRule{{
		Name:      "broken",
		Match:     config.PolicyMatch{Service: "shop.users.v1.UserService"},
		RateLimit: config.RuleRateLimit{Rate: 1, Key: "nonsense"},
	}}
	spec.Policies = broken
	if _, err := g.srv.Apply(spec); err == nil {
		t.Fatal("a spec whose policies do not compile was accepted")
	}
	if code, body := httpGet(t, url); code != http.StatusUnauthorized {
		t.Fatalf("after a refused reload: %d %s, want the previous policies (401)", code, body)
	}

	spec.Policies = config.Policies{}.Completed()
	if _, err := g.srv.Apply(spec); err != nil {
		t.Fatal(err)
	}
	if code, body := httpGet(t, url); code != http.StatusOK {
		t.Fatalf("after unlocking: %d %s", code, body)
	}
}
