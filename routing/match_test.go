package routing_test

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/protogate/gateway/routing"
)

// matchOne compiles a table with one prefix route guarded by hm and reports
// whether a call with headers h matches it.
func matchOne(t *testing.T, hm routing.HeaderMatch, h routing.Headers) bool {
	t.Helper()
	table, err := routing.NewTable([]routing.Route{{
		Name:     "r",
		Match:    routing.Match{Prefix: "/", Headers: []routing.HeaderMatch{hm}},
		Clusters: []routing.WeightedCluster{{Cluster: routing.NewCluster("c", nil), Weight: 1}},
	}})
	if err != nil {
		t.Fatalf("NewTable: %v", err)
	}
	return table.Match("/pkg.Service/Method", h) != nil
}

func TestHeaderMatch(t *testing.T) {
	canary := routing.MD{"x-canary": {"1"}}
	multi := routing.MD{"x-env": {"prod", "staging-eu", "dev"}}
	empty := routing.MD{"x-env": {}}
	tests := []struct {
		name string
		hm   routing.HeaderMatch
		h    routing.Headers
		want bool
	}{
		{"exact hit", routing.HeaderMatch{Name: "x-canary", Exact: "1"}, canary, true},
		{"exact miss", routing.HeaderMatch{Name: "x-canary", Exact: "2"}, canary, false},
		{"exact is not prefix", routing.HeaderMatch{Name: "x-env", Exact: "staging"}, multi, false},
		{"exact any value", routing.HeaderMatch{Name: "x-env", Exact: "dev"}, multi, true},
		{"exact missing header", routing.HeaderMatch{Name: "x-other", Exact: "1"}, canary, false},
		{"exact nil headers", routing.HeaderMatch{Name: "x-canary", Exact: "1"}, nil, false},
		{"prefix hit second value", routing.HeaderMatch{Name: "x-env", Prefix: "staging-"}, multi, true},
		{"prefix miss", routing.HeaderMatch{Name: "x-env", Prefix: "qa"}, multi, false},
		{"prefix missing header", routing.HeaderMatch{Name: "x-env", Prefix: "p"}, canary, false},
		{"regex hit", routing.HeaderMatch{Name: "x-env", Regex: regexp.MustCompile(`^staging-[a-z]+$`)}, multi, true},
		{"regex unanchored", routing.HeaderMatch{Name: "x-env", Regex: regexp.MustCompile(`ev`)}, multi, true},
		{"regex miss", routing.HeaderMatch{Name: "x-env", Regex: regexp.MustCompile(`^qa$`)}, multi, false},
		{"regex missing header", routing.HeaderMatch{Name: "x-env", Regex: regexp.MustCompile(`.*`)}, canary, false},
		{"present hit", routing.HeaderMatch{Name: "x-canary", Present: true}, canary, true},
		{"present with no values", routing.HeaderMatch{Name: "x-env", Present: true}, empty, false},
		{"present missing", routing.HeaderMatch{Name: "x-env", Present: true}, canary, false},
		{"present nil headers", routing.HeaderMatch{Name: "x-env", Present: true}, nil, false},
		{"invert exact hit", routing.HeaderMatch{Name: "x-canary", Exact: "1", Invert: true}, canary, false},
		{"invert exact miss", routing.HeaderMatch{Name: "x-canary", Exact: "2", Invert: true}, canary, true},
		{"invert missing header", routing.HeaderMatch{Name: "x-canary", Exact: "1", Invert: true}, nil, true},
		{"invert present", routing.HeaderMatch{Name: "x-canary", Present: true, Invert: true}, canary, false},
		{"invert any value", routing.HeaderMatch{Name: "x-env", Exact: "dev", Invert: true}, multi, false},
		{"http headers", routing.HeaderMatch{Name: "x-canary", Exact: "1"}, routing.HTTPHeaders{"X-Canary": {"1"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matchOne(t, tt.hm, tt.h); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHeaderMatchAllMustMatch(t *testing.T) {
	table, err := routing.NewTable([]routing.Route{{
		Name: "both",
		Match: routing.Match{Prefix: "/", Headers: []routing.HeaderMatch{
			{Name: "x-a", Exact: "1"},
			{Name: "x-b", Present: true},
		}},
		Clusters: []routing.WeightedCluster{{Cluster: routing.NewCluster("c", nil), Weight: 1}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		h    routing.MD
		want bool
	}{
		{routing.MD{"x-a": {"1"}, "x-b": {""}}, true},
		{routing.MD{"x-a": {"1"}}, false},
		{routing.MD{"x-b": {"y"}}, false},
	} {
		if got := table.Match("/p.S/M", tt.h) != nil; got != tt.want {
			t.Errorf("Match(%v) = %v, want %v", tt.h, got, tt.want)
		}
	}
}

func TestHTTPHeadersValues(t *testing.T) {
	h := http.Header{}
	for _, k := range []string{"X-Canary", "Content-Type", "X-B3-Traceid", "A", "X_underscore", "X-Custom-1", strings.Repeat("Ab-", 30) + "Z"} {
		h.Add(k, "v-"+k)
		h.Add(k, "w-"+k)
	}
	h["x-raw lower"] = []string{"raw"} // not canonicalizable: stored as is
	names := []string{
		"x-canary", "X-CANARY", "x-Canary", "content-type", "x-b3-traceid", "a", "x_underscore",
		"x-custom-1", "missing", "", "x-raw lower", ":authority",
		strings.ToLower(strings.Repeat("Ab-", 30) + "Z"), // longer than the fast path
	}
	for _, name := range names {
		want := h.Values(name)
		if got := routing.HTTPHeaders(h).Values(name); !slices.Equal(got, want) {
			t.Errorf("Values(%q) = %q, want %q", name, got, want)
		}
	}
	if got := routing.HTTPHeaders(h).Values("x-canary"); len(got) != 2 {
		t.Fatalf("Values(x-canary) = %q, want two values", got)
	}
	var hh routing.Headers = routing.HTTPHeaders(h)
	if n := testing.AllocsPerRun(100, func() { hh.Values("x-b3-traceid") }); n != 0 {
		t.Errorf("HTTPHeaders.Values allocates %v times, want 0", n)
	}
}

func TestMDValues(t *testing.T) {
	md := routing.MD{"x-canary": {"1", "2"}}
	if got := md.Values("x-canary"); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("Values(x-canary) = %q", got)
	}
	if got := md.Values("X-Canary"); got != nil {
		t.Errorf("Values(X-Canary) = %q, want nil: MD keys are lower-case", got)
	}
	if got := routing.MD(nil).Values("x"); got != nil {
		t.Errorf("nil MD Values = %q", got)
	}
}
