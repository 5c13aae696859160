package registry_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/routing"
)

// Policy rules and routes the registered services show to be mistaken, or probably so, are not
// errors: the snapshot compiles, and lists them, each at its place in the config file. A rule
// naming a service nothing serves waits for it (unless a route proxies it: then the rule applies to
// the calls the route takes); one naming a method its registered service lacks, or a service the
// gateway answers itself, applies to no call; a route of the same match as an earlier one whose
// header conditions are all among its own never wins.
func TestConfigWarnings(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.binpb"), generatedSet(t, usersv1.File_shop_users_v1_users_proto), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "gateway.yaml")
	spec, err := staticSpec(t, dir, `clusters:
  - {name: users, endpoints: ["`+addrA+`"]}
  - {name: legacy, endpoints: ["`+addrB+`"]}
routes:
  - name: users-canary
    match: {service: shop.users.v1.UserService, headers: [{name: x-canary, present: true}]}
    cluster: users
  - name: users
    match: {service: shop.users.v1.UserService}
    cluster: users
  - name: users-again
    match: {prefix: /shop.users.v1.UserService/}
    cluster: users
  - name: legacy-get
    match: {method: acme.legacy.v1.Legacy/Get, headers: [{name: x-canary, present: true}]}
    cluster: legacy
  - name: legacy-get-eu
    match: {method: acme.legacy.v1.Legacy/Get, headers: [{name: x-region, exact: eu}, {name: x-canary, present: true}]}
    cluster: legacy
  - name: legacy-get-any
    match: {method: acme.legacy.v1.Legacy/Get}
    cluster: legacy
  - name: beta
    match: {method: shop.users.v1.UserService/GetUserBeta}
    cluster: users
services:
  - name: users
    cluster: users
    descriptor_set: users.binpb
policies:
  rules:
    - match: {service: acme.billing.v1.Billing}
      rate_limit: {rate: 10}
    - match: {method: shop.users.v1.UserService/GetUsr}
      rate_limit: {rate: 10}
    - match: {method: shop.users.v1.UserService/GetUser}
      rate_limit: {rate: 10}
    - match: {service: acme.legacy.v1.Legacy}
      rate_limit: {rate: 10}
    - match: {method: acme.legacy.v1.Legacy/Put}
      rate_limit: {rate: 10}
    - match: {method: shop.users.v1.UserService/GetUserBeta}
      rate_limit: {rate: 10}
    - match: {service: grpc.health.v1.Health}
      rate_limit: {rate: 10}
    - match: {prefix: /acme.}
      rate_limit: {rate: 10}
`, registry.StaticOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pool := routing.NewPool(nil, routing.WithPoolOffline())
	defer pool.Close()
	snap, err := registry.Compile(spec, pool, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Retire(pool)
	for _, tc := range []struct {
		name      string
		got, want []string
	}{
		{"WaitingRules", snap.WaitingRules(), []string{
			file + ":32:24: policies.rules[0].match.service: service acme.billing.v1.Billing is not registered",
			file + ":40:23: policies.rules[4].match.method: service acme.legacy.v1.Legacy is not registered",
		}},
		{"UnmatchedRules", snap.UnmatchedRules(), []string{
			file + ":34:23: policies.rules[1].match.method: the registered service shop.users.v1.UserService has no method GetUsr",
			file + ":44:24: policies.rules[6].match.service: grpc.health.v1.Health is the gateway's own service (health checks, server reflection): no rule applies to it",
		}},
		{"ShadowedRoutes", snap.ShadowedRoutes(), []string{
			file + `:11:5: routes[2]: route "users-again" never wins: route "users" (` + file + `:8:5: routes[1]) comes first and takes every call it matches`,
			file + `:17:5: routes[4]: route "legacy-get-eu" never wins: route "legacy-get" (` + file + `:14:5: routes[3]) comes first and takes every call it matches`,
		}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s:\n%q\nwant\n%q", tc.name, tc.got, tc.want)
		}
	}
}
