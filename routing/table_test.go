package routing_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/protogate/gateway/routing"
)

// coreRoutes is a shorthand for building tables: each route gets its own
// one-weight cluster named like the route.
func coreRoutes(routes ...routing.Route) []routing.Route {
	for i := range routes {
		if routes[i].Clusters == nil {
			routes[i].Clusters = []routing.WeightedCluster{{Cluster: routing.NewCluster(routes[i].Name, nil), Weight: 1}}
		}
	}
	return routes
}

func mustTable(t testing.TB, routes []routing.Route) *routing.Table {
	t.Helper()
	table, err := routing.NewTable(routes)
	if err != nil {
		t.Fatalf("NewTable: %v", err)
	}
	return table
}

func routeName(r *routing.Route) string {
	if r == nil {
		return "<nil>"
	}
	return r.Name
}

func canary(v string) []routing.HeaderMatch {
	return []routing.HeaderMatch{{Name: "x-canary", Exact: v}}
}

func TestTableMatch(t *testing.T) {
	table := mustTable(t, coreRoutes(
		routing.Route{Name: "all", Match: routing.Match{Prefix: "/"}},
		routing.Route{Name: "shop", Match: routing.Match{Prefix: "/shop."}},
		routing.Route{Name: "users-canary", Match: routing.Match{Prefix: "/shop.users.v1.UserService/", Headers: canary("1")}},
		routing.Route{Name: "users", Match: routing.Match{Prefix: "/shop.users.v1.UserService/"}},
		routing.Route{Name: "users-shadowed", Match: routing.Match{Prefix: "/shop.users.v1.UserService/"}},
		routing.Route{Name: "user-gets", Match: routing.Match{Prefix: "/shop.users.v1.UserService/Get"}},
		routing.Route{Name: "getuser-canary", Match: routing.Match{Method: "/shop.users.v1.UserService/GetUser", Headers: canary("1")}},
		routing.Route{Name: "getuser-beta", Match: routing.Match{Method: "/shop.users.v1.UserService/GetUser", Headers: canary("beta")}},
		routing.Route{Name: "orders-getorder", Match: routing.Match{Method: "/shop.orders.v1.OrderService/GetOrder"}},
		routing.Route{Name: "orders-getorder-late", Match: routing.Match{Method: "/shop.orders.v1.OrderService/GetOrder", Headers: canary("1")}},
	))
	tests := []struct {
		name   string
		method string
		h      routing.Headers
		want   string
	}{
		{"exact beats prefix", "/shop.orders.v1.OrderService/GetOrder", nil, "orders-getorder"},
		{"exact in table order", "/shop.orders.v1.OrderService/GetOrder", routing.MD{"x-canary": {"1"}}, "orders-getorder"},
		{"exact with headers", "/shop.users.v1.UserService/GetUser", routing.MD{"x-canary": {"1"}}, "getuser-canary"},
		{"second exact with headers", "/shop.users.v1.UserService/GetUser", routing.MD{"x-canary": {"beta"}}, "getuser-beta"},
		{"exact headers miss falls through to longest prefix", "/shop.users.v1.UserService/GetUser", nil, "user-gets"},
		{"longest prefix wins", "/shop.users.v1.UserService/GetUsers", nil, "user-gets"},
		{"prefix with headers first in table order", "/shop.users.v1.UserService/ListUsers", routing.MD{"x-canary": {"1"}}, "users-canary"},
		{"prefix headers miss falls to next in table order", "/shop.users.v1.UserService/ListUsers", routing.MD{"x-canary": {"0"}}, "users"},
		{"shorter prefix", "/shop.orders.v1.OrderService/ListOrders", nil, "shop"},
		{"shortest prefix", "/other.v1.Thing/Do", nil, "all"},
		{"prefix equal to method", "/shop.users.v1.UserService/Get", nil, "user-gets"},
		{"partial edge is no match", "/shop.users.v1.UserService/Ge", nil, "users"},
		{"not a method", "", nil, "<nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := routeName(table.Match(tt.method, tt.h)); got != tt.want {
				t.Errorf("Match(%q) = %s, want %s", tt.method, got, tt.want)
			}
		})
	}
}

func TestTableMatchNothing(t *testing.T) {
	table := mustTable(t, coreRoutes(
		routing.Route{Name: "users", Match: routing.Match{Prefix: "/shop.users.v1.UserService/"}},
		routing.Route{Name: "getorder", Match: routing.Match{Method: "/shop.orders.v1.OrderService/GetOrder", Headers: canary("1")}},
	))
	for _, m := range []string{"/shop.orders.v1.OrderService/GetOrder", "/shop.users.v1.UserServic", "/shop.users.v1.UserServiceX/Get", "/"} {
		if r := table.Match(m, nil); r != nil {
			t.Errorf("Match(%q) = %s, want nil", m, r.Name)
		}
	}
	empty := mustTable(t, nil)
	if r := empty.Match("/a.B/C", nil); r != nil {
		t.Errorf("empty table matched %s", r.Name)
	}
	var none *routing.Table
	if r := none.Match("/a.B/C", nil); r != nil {
		t.Errorf("nil table matched %s", r.Name)
	}
}

// TestTableMatchAgainstScan compares Match with a plain scan implementing the
// documented semantics, over random tables whose prefixes share many
// leading bytes (so the radix tree splits and nests nodes in every order).
func TestTableMatchAgainstScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		var b strings.Builder
		for range 1 + rng.IntN(n) {
			b.WriteByte("ab/."[rng.IntN(4)])
		}
		return b.String()
	}
	for round := range 200 {
		var routes []routing.Route
		for i := range 1 + rng.IntN(30) {
			r := routing.Route{Name: fmt.Sprint(i)}
			if rng.IntN(3) == 0 {
				r.Match.Method = "/" + strings.ReplaceAll(word(3), "/", "x") + "/" + strings.ReplaceAll(word(3), "/", "y")
			} else {
				r.Match.Prefix = "/" + word(6)
			}
			if rng.IntN(3) == 0 {
				r.Match.Headers = canary(fmt.Sprint(rng.IntN(2)))
			}
			routes = append(routes, r)
		}
		routes = coreRoutes(routes...)
		table := mustTable(t, routes)
		for range 200 {
			method := "/" + word(8)
			if rng.IntN(2) == 0 { // aim at a route: its method, or its prefix plus a tail
				r := routes[rng.IntN(len(routes))]
				method = r.Match.Method
				if method == "" {
					method = r.Match.Prefix + word(3)[:rng.IntN(2)]
				}
			}
			var h routing.Headers
			if rng.IntN(2) == 0 {
				h = routing.MD{"x-canary": {fmt.Sprint(rng.IntN(2))}}
			}
			want := "<nil>"
			if r := scanMatch(routes, method, h); r != nil {
				want = r.Name
			}
			if got := routeName(table.Match(method, h)); got != want {
				t.Fatalf("round %d: Match(%q, %v) = %s, want %s; routes: %+v", round, method, h, got, want, routes)
			}
		}
	}
}

// scanMatch is the documented matching semantics, written as plainly as
// possible: exact routes in table order, then prefixes longest first.
func scanMatch(routes []routing.Route, method string, h routing.Headers) *routing.Route {
	headersOK := func(r *routing.Route) bool {
		for _, hm := range r.Match.Headers {
			var vals []string
			if h != nil {
				vals = h.Values(hm.Name)
			}
			ok := false
			for _, v := range vals {
				ok = ok || v == hm.Exact
			}
			if !ok {
				return false
			}
		}
		return true
	}
	for i := range routes {
		if r := &routes[i]; r.Match.Method == method && headersOK(r) {
			return r
		}
	}
	for l := len(method); l > 0; l-- {
		for i := range routes {
			if r := &routes[i]; r.Match.Prefix != "" && r.Match.Prefix == method[:l] && headersOK(r) {
				return r
			}
		}
	}
	return nil
}

func TestTableMatchDoesNotAllocate(t *testing.T) {
	table := mustTable(t, coreRoutes(
		routing.Route{Name: "regex", Match: routing.Match{Prefix: "/a.B/", Headers: []routing.HeaderMatch{{Name: "x-env", Regex: regexp.MustCompile(`^stag(e|ing)$`)}}}},
		routing.Route{Name: "present", Match: routing.Match{Prefix: "/a.B/", Headers: []routing.HeaderMatch{{Name: "x-debug", Present: true, Invert: true}}}},
		routing.Route{Name: "exact", Match: routing.Match{Method: "/a.B/C", Headers: canary("1")}},
		routing.Route{Name: "all", Match: routing.Match{Prefix: "/"}},
	))
	cases := []routing.Headers{
		nil,
		routing.MD{"x-env": {"prod", "staging"}},
		routing.MD{"x-debug": {"1"}, "x-canary": {"0"}},
		routing.HTTPHeaders{"X-Env": {"stage"}, "X-Canary": {"1"}},
	}
	for _, h := range cases {
		if n := testing.AllocsPerRun(100, func() {
			table.Match("/a.B/C", h)
			table.Match("/a.B/D", h)
			table.Match("/x.Y/Z", h)
		}); n != 0 {
			t.Errorf("Match with %v allocates %v times, want 0", h, n)
		}
	}
}

func TestNewTableValidation(t *testing.T) {
	c := routing.NewCluster("c", nil)
	one := []routing.WeightedCluster{{Cluster: c, Weight: 1}}
	tests := []struct {
		name  string
		route routing.Route
		want  []string // substrings of the error
	}{
		{"no match", routing.Route{Clusters: one}, []string{"neither method nor prefix"}},
		{"both", routing.Route{Match: routing.Match{Method: "/a.B/C", Prefix: "/"}, Clusters: one}, []string{"both method and prefix"}},
		{"method without slash", routing.Route{Match: routing.Match{Method: "a.B/C"}, Clusters: one}, []string{`method "a.B/C"`}},
		{"method without method", routing.Route{Match: routing.Match{Method: "/a.B/"}, Clusters: one}, []string{"full method name"}},
		{"method with extra part", routing.Route{Match: routing.Match{Method: "/a.B/C/D"}, Clusters: one}, []string{"full method name"}},
		{"method without service", routing.Route{Match: routing.Match{Method: "//C"}, Clusters: one}, []string{"full method name"}},
		{"prefix without slash", routing.Route{Match: routing.Match{Prefix: "a.B/"}, Clusters: one}, []string{`prefix "a.B/"`}},
		{"no clusters", routing.Route{Match: routing.Match{Prefix: "/"}}, []string{"no clusters"}},
		{"nil cluster", routing.Route{Match: routing.Match{Prefix: "/"}, Clusters: []routing.WeightedCluster{{Weight: 1}}}, []string{"cluster 0 is nil"}},
		{"zero weight", routing.Route{Match: routing.Match{Prefix: "/"}, Clusters: []routing.WeightedCluster{{Cluster: c, Weight: 1}, {Cluster: c, Weight: 0}}}, []string{`cluster 1 ("c") has weight 0`}},
		{"negative timeout", routing.Route{Match: routing.Match{Prefix: "/"}, Clusters: one, Timeout: -time.Second}, []string{"negative timeout"}},
		{"header without name", routing.Route{Match: routing.Match{Prefix: "/", Headers: []routing.HeaderMatch{{Exact: "1"}}}, Clusters: one}, []string{"header matcher 0: name is empty"}},
		{"header upper-case", routing.Route{Match: routing.Match{Prefix: "/", Headers: []routing.HeaderMatch{{Name: "X-Canary", Exact: "1"}}}, Clusters: one}, []string{`"X-Canary" is not lower-case`}},
		{"header with no condition", routing.Route{Match: routing.Match{Prefix: "/", Headers: []routing.HeaderMatch{{Name: "x", Invert: true}}}, Clusters: one}, []string{"0 of exact, prefix, regex, present"}},
		{"header with two conditions", routing.Route{Match: routing.Match{Prefix: "/", Headers: []routing.HeaderMatch{{Name: "x", Exact: "1", Present: true}}}, Clusters: one}, []string{"2 of exact, prefix, regex, present"}},
		{"every problem reported", routing.Route{Match: routing.Match{Headers: []routing.HeaderMatch{{Name: "x"}}}, Timeout: -1}, []string{"neither method nor prefix", "header matcher 0", "no clusters", "negative timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good := routing.Route{Name: "good", Match: routing.Match{Prefix: "/"}, Clusters: one}
			tt.route.Name = "bad"
			table, err := routing.NewTable([]routing.Route{good, tt.route})
			if err == nil {
				t.Fatalf("NewTable accepted %+v", tt.route)
			}
			if table != nil {
				t.Errorf("NewTable returned a table with an error")
			}
			for _, w := range append(tt.want, `route 1 ("bad")`) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestNewTableCopiesRoutes(t *testing.T) {
	a, b := routing.NewCluster("a", nil), routing.NewCluster("b", nil)
	routes := []routing.Route{{
		Name:     "r",
		Match:    routing.Match{Prefix: "/", Headers: canary("1")},
		Clusters: []routing.WeightedCluster{{Cluster: a, Weight: 1}},
		Timeout:  time.Second,
	}}
	table := mustTable(t, routes)
	routes[0].Name = "changed"
	routes[0].Match.Prefix = "/x"
	routes[0].Match.Headers[0].Exact = "2"
	routes[0].Clusters[0].Cluster = b

	r := table.Match("/p.S/M", routing.MD{"x-canary": {"1"}})
	if r == nil || r.Name != "r" || r.Timeout != time.Second {
		t.Fatalf("Match = %+v; the table changed with the caller's routes", r)
	}
	if got := r.PickCluster(); got != a {
		t.Errorf("PickCluster = %s, want a", got.Name())
	}
	all := table.Routes()
	if len(all) != 1 || all[0] != r {
		t.Fatalf("Routes = %v, want the matched route", all)
	}
	all[0] = nil
	if table.Routes()[0] != r {
		t.Error("Routes() result aliases the table")
	}
}

func TestTableRoutesInOrder(t *testing.T) {
	table := mustTable(t, coreRoutes(
		routing.Route{Name: "p", Match: routing.Match{Prefix: "/"}},
		routing.Route{Name: "m", Match: routing.Match{Method: "/a.B/C"}},
		routing.Route{Name: "q", Match: routing.Match{Prefix: "/a."}},
	))
	var names []string
	for _, r := range table.Routes() {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, ","); got != "p,m,q" {
		t.Errorf("Routes = %s, want p,m,q", got)
	}
}

// checkSplit picks n clusters from r and checks each cluster's count lies
// within 8 standard deviations of its expectation. A correct picker fails that
// with probability below 1e-14 per cluster; a picker off by even one
// percentage point at n = 100k fails it for sure.
func checkSplit(t *testing.T, r *routing.Route) {
	t.Helper()
	const n = 100_000
	counts := map[*routing.Cluster]int{}
	for range n {
		counts[r.PickCluster()]++
	}
	var total float64
	for _, wc := range r.Clusters {
		total += float64(wc.Weight)
	}
	for _, wc := range r.Clusters {
		p := float64(wc.Weight) / total
		want := n * p
		bound := 8 * math.Sqrt(n*p*(1-p))
		if got := float64(counts[wc.Cluster]); math.Abs(got-want) > bound {
			t.Errorf("cluster %s: %v picks, want %v ± %.0f", wc.Cluster.Name(), got, want, bound)
		}
	}
	if len(counts) != len(r.Clusters) {
		t.Errorf("picked %d distinct clusters, want %d", len(counts), len(r.Clusters))
	}
}

func TestPickClusterWeighted(t *testing.T) {
	stable, canaryC := routing.NewCluster("stable", nil), routing.NewCluster("canary", nil)
	a, b, c := routing.NewCluster("a", nil), routing.NewCluster("b", nil), routing.NewCluster("c", nil)
	table := mustTable(t, []routing.Route{
		{Name: "90/10", Match: routing.Match{Method: "/a.B/C"}, Clusters: []routing.WeightedCluster{{Cluster: stable, Weight: 90}, {Cluster: canaryC, Weight: 10}}},
		{Name: "1/2/7", Match: routing.Match{Method: "/a.B/D"}, Clusters: []routing.WeightedCluster{{Cluster: a, Weight: 1}, {Cluster: b, Weight: 2}, {Cluster: c, Weight: 7}}},
	})
	for _, r := range table.Routes() {
		t.Run(r.Name, func(t *testing.T) { checkSplit(t, r) })
	}
}

func TestPickClusterRouteNotFromTable(t *testing.T) {
	a, b := routing.NewCluster("a", nil), routing.NewCluster("b", nil)
	r := &routing.Route{Clusters: []routing.WeightedCluster{{Cluster: a, Weight: 3}, {Cluster: b, Weight: 1}}}
	checkSplit(t, r)
	if got := (&routing.Route{}).PickCluster(); got != nil {
		t.Errorf("PickCluster without clusters = %v, want nil", got)
	}
}

func TestPickClusterExtremeWeights(t *testing.T) {
	tiny, huge := routing.NewCluster("tiny", nil), routing.NewCluster("huge", nil)
	table := mustTable(t, []routing.Route{{
		Match:    routing.Match{Prefix: "/"},
		Clusters: []routing.WeightedCluster{{Cluster: huge, Weight: math.MaxUint32}, {Cluster: huge, Weight: math.MaxUint32}, {Cluster: tiny, Weight: 1}},
	}})
	r := table.Routes()[0]
	for range 10_000 {
		if got := r.PickCluster(); got != huge {
			t.Fatalf("picked %s; with these weights tiny has probability 1e-10", got.Name())
		}
	}
	if n := testing.AllocsPerRun(100, func() { r.PickCluster() }); n != 0 {
		t.Errorf("PickCluster allocates %v times, want 0", n)
	}
}

func ExampleNewTable() {
	users := routing.NewCluster("users", nil) // endpoints come from a routing.Pool
	usersCanary := routing.NewCluster("users-canary", nil)
	fallback := routing.NewCluster("default", nil)
	one := func(c *routing.Cluster) []routing.WeightedCluster {
		return []routing.WeightedCluster{{Cluster: c, Weight: 1}}
	}

	table, err := routing.NewTable([]routing.Route{
		{
			Name:     "create-user",
			Match:    routing.Match{Method: "/shop.users.v1.UserService/CreateUser"},
			Clusters: one(users),
			Timeout:  2 * time.Second,
		},
		{
			Name: "users-canary",
			Match: routing.Match{
				Prefix:  "/shop.users.v1.UserService/",
				Headers: []routing.HeaderMatch{{Name: "x-canary", Exact: "1"}},
			},
			Clusters: one(usersCanary),
		},
		{Name: "users", Match: routing.Match{Prefix: "/shop.users.v1.UserService/"}, Clusters: one(users)},
		{Name: "default", Match: routing.Match{Prefix: "/"}, Clusters: one(fallback)},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, call := range []struct {
		method string
		md     routing.MD
	}{
		{"/shop.users.v1.UserService/CreateUser", routing.MD{"x-canary": {"1"}}},
		{"/shop.users.v1.UserService/GetUser", routing.MD{"x-canary": {"1"}}},
		{"/shop.users.v1.UserService/GetUser", nil},
		{"/shop.orders.v1.OrderService/GetOrder", nil},
	} {
		r := table.Match(call.method, call.md)
		fmt.Printf("%s %v -> route %s, cluster %s\n", call.method, call.md, r.Name, r.PickCluster().Name())
	}
	// Output:
	// /shop.users.v1.UserService/CreateUser map[x-canary:[1]] -> route create-user, cluster users
	// /shop.users.v1.UserService/GetUser map[x-canary:[1]] -> route users-canary, cluster users-canary
	// /shop.users.v1.UserService/GetUser map[] -> route users, cluster users
	// /shop.orders.v1.OrderService/GetOrder map[] -> route default, cluster default
}

// benchTable builds a table for n services, each with a header-matched canary
// route and three method routes, plus a prefix route per service, per package
// and a catch-all.
func benchTable(b *testing.B, n int) *routing.Table {
	b.Helper()
	var routes []routing.Route
	for i := range n {
		pkg := fmt.Sprintf("/shop.svc%03d.v1.", i)
		svc := pkg + fmt.Sprintf("Service%03d/", i)
		routes = append(routes, routing.Route{Name: svc + "canary", Match: routing.Match{Method: svc + "Get", Headers: canary("1")}})
		for _, m := range []string{"Get", "List", "Create"} {
			routes = append(routes, routing.Route{Name: svc + m, Match: routing.Match{Method: svc + m}})
		}
		routes = append(routes,
			routing.Route{Name: svc, Match: routing.Match{Prefix: svc}},
			routing.Route{Name: pkg, Match: routing.Match{Prefix: pkg}},
		)
	}
	routes = append(routes, routing.Route{Name: "all", Match: routing.Match{Prefix: "/"}})
	return mustTable(b, coreRoutes(routes...))
}

func BenchmarkMatch(b *testing.B) {
	headers := routing.MD{"user-agent": {"grpc-go/1.85.0"}, "x-request-id": {"abc"}}
	withCanary := routing.MD{"user-agent": {"grpc-go/1.85.0"}, "x-canary": {"1"}}
	for _, n := range []int{5, 500} {
		table := benchTable(b, n)
		svc := fmt.Sprintf("/shop.svc%03d.v1.Service%03d/", n/2, n/2)
		cases := []struct {
			name, method string
			h            routing.Headers
			want         string
		}{
			{"exact", svc + "List", headers, svc + "List"},
			{"exact-after-canary-miss", svc + "Get", headers, svc + "Get"},
			{"canary", svc + "Get", withCanary, svc + "canary"},
			{"service-prefix", svc + "Watch", headers, svc},
			{"catch-all", "/other.v1.Service/Get", headers, "all"},
		}
		for _, c := range cases {
			b.Run(fmt.Sprintf("%dservices/%s", n, c.name), func(b *testing.B) {
				if got := routeName(table.Match(c.method, c.h)); got != c.want {
					b.Fatalf("Match(%q) = %s, want %s", c.method, got, c.want)
				}
				b.ReportAllocs()
				for b.Loop() {
					table.Match(c.method, c.h)
				}
			})
		}
	}
}

func BenchmarkPickCluster(b *testing.B) {
	a, c := routing.NewCluster("a", nil), routing.NewCluster("b", nil)
	table := mustTable(b, []routing.Route{
		{Name: "single", Match: routing.Match{Method: "/a.B/C"}, Clusters: []routing.WeightedCluster{{Cluster: a, Weight: 1}}},
		{Name: "90-10", Match: routing.Match{Method: "/a.B/D"}, Clusters: []routing.WeightedCluster{{Cluster: a, Weight: 90}, {Cluster: c, Weight: 10}}},
	})
	for _, r := range table.Routes() {
		b.Run(r.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.PickCluster()
			}
		})
	}
}
