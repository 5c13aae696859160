package config_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/protogate/gateway/config"
)

func TestDefault(t *testing.T) {
	c := config.Default()
	want := &config.Config{
		Listen:        config.DefaultListen,
		AdminListen:   config.DefaultAdminListen,
		KeepVersions:  20,
		ShutdownGrace: 30 * time.Second,
		GRPC:          config.GRPC{MaxMessageBytes: 4 << 20},
		GraphQL: config.GraphQL{
			MaxDepth: config.DefaultGraphQLMaxDepth, MaxComplexity: config.DefaultGraphQLMaxComplexity,
			MaxAliases: config.DefaultGraphQLMaxAliases, MaxRootFields: config.DefaultGraphQLMaxRootFields,
			MaxFields: config.DefaultGraphQLMaxFields, MaxFragments: config.DefaultGraphQLMaxFragments,
			MaxDocumentBytes: 64 << 10, MaxConcurrentCalls: config.DefaultGraphQLMaxConcurrentCalls,
		},
	}
	want.Policies.Limits = config.Limits{
		MaxBodyBytes: 4 << 20, MaxHeaderCount: 100, MaxHeaderBytes: 64 << 10, MaxJSONDepth: 64,
		MaxArrayLength: 10000, MaxStringLength: 1 << 20, MaxURLBytes: 8 << 10,
	}
	want.Policies.WAF = config.WAF{Mode: "off", ParanoiaLevel: 1, InboundAnomalyThreshold: 5, BodyLimit: 4 << 20}
	want.Policies.RateLimit = config.RateLimit{Backend: "local", HeaderFields: config.DefaultRateLimitHeaderFields, MaxKeys: config.DefaultRateLimitMaxKeys}
	want.Policies.Auth = config.Auth{
		APIKeys: config.APIKeys{Header: "x-api-key"}, MTLS: config.MTLS{ConsumerFrom: "cn"},
		Identity:       config.IdentityKeys{Consumer: "x-consumer-id", Scopes: "x-consumer-scopes"},
		TokenCacheSize: config.DefaultTokenCacheSize,
	}
	want.Policies.Tracing = config.Tracing{Exporter: "none", SampleRatio: "1", ServiceName: config.DefaultTracingServiceName}
	want.Policies.Metrics = config.Metrics{Path: config.DefaultMetricsPath}
	want.Policies.AccessLog = config.AccessLog{Output: "off"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Default() = %+v, want %+v", c, want)
	}
	parsed, err := config.Parse("empty.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(parsed, c) {
		t.Errorf("Parse of an empty file = %+v, want Default() %+v", parsed, c)
	}
}

// TestParseStoresCanonicalValues checks what Parse derives from the file,
// beyond what the golden summaries show.
func TestParseStoresCanonicalValues(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.binpb"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "gateway.yaml")
	data := []byte(`
routes:
  - match:
      method: shop.users.v1.UserService/GetUser
      headers: [{name: X-Canary, exact: "1"}]
    cluster: users
services:
  - name: users
    endpoints: [127.0.0.1:50051, {address: "127.0.0.1:50052", weight: 2}]
    descriptor_set: users.binpb
`)
	c, err := config.Parse(path, data)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Routes[0]
	if r.Name != "route-0" || r.Match.Method != "/shop.users.v1.UserService/GetUser" || r.Match.Headers[0].Name != "x-canary" {
		t.Errorf("route = %+v, want name route-0, method with a leading slash, lower-case header name", r)
	}
	if got, want := r.Targets(), []config.WeightedCluster{{Name: "users", Weight: 1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Targets() = %v, want %v", got, want)
	}
	svc := c.Services[0]
	if svc.Cluster != "users" || svc.Endpoints != nil {
		t.Errorf("service cluster %q endpoints %v, want the implied cluster and no endpoints", svc.Cluster, svc.Endpoints)
	}
	if want := filepath.Join(dir, "users.binpb"); svc.DescriptorSet != want {
		t.Errorf("DescriptorSet = %q, want %q", svc.DescriptorSet, want)
	}
	want := []config.Cluster{{
		Name:           "users",
		Endpoints:      []config.Endpoint{{Address: "127.0.0.1:50051", Weight: 1}, {Address: "127.0.0.1:50052", Weight: 2}},
		ConnectTimeout: config.DefaultConnectTimeout,
	}}
	if !reflect.DeepEqual(c.Clusters, want) {
		t.Errorf("Clusters = %+v, want %+v", c.Clusters, want)
	}
}

// TestKeepVersions: keep_versions is the file's count when it is positive, the default when it is
// left out or 0, and refused, at its position, when it is negative.
func TestKeepVersions(t *testing.T) {
	for in, want := range map[string]int{"": 20, "keep_versions: 0": 20, "keep_versions: 1": 1, "keep_versions: 500": 500} {
		c, err := config.Parse("keep.yaml", []byte(in))
		if err != nil {
			t.Errorf("%q: %v", in, err)
		} else if c.KeepVersions != want {
			t.Errorf("%q: KeepVersions = %d, want %d", in, c.KeepVersions, want)
		}
	}
	_, err := config.Parse("keep.yaml", []byte("listen: 127.0.0.1:8080\nkeep_versions: -3\n"))
	var cerr *config.Error
	if !errors.As(err, &cerr) || len(cerr.Problems) != 1 {
		t.Fatalf("keep_versions: -3: %v, want one problem", err)
	}
	if p := cerr.Problems[0]; p.Line != 2 || p.Column != 16 || p.Field != "keep_versions" || !strings.Contains(p.Message, "got -3") {
		t.Errorf("keep_versions: -3: problem %q, want one at 2:16 naming keep_versions and -3", p)
	}
	for _, in := range []string{"keep_versions: many", "keep_versions: 2.5", "keep_versions: [3]"} {
		if _, err := config.Parse("keep.yaml", []byte(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

// TestClockSkew: a JWT provider's clock_skew is the file's, 0 included (no leeway), and the default
// when the key is left out or null.
func TestClockSkew(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "jwks.json"), []byte(`{"keys": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for skew, want := range map[string]time.Duration{
		"": config.DefaultClockSkew, "clock_skew: null": config.DefaultClockSkew,
		"clock_skew: 0s": 0, "clock_skew: 0": 0, "clock_skew: 2s": 2 * time.Second,
	} {
		in := "policies:\n  auth:\n    jwt:\n      - {name: demo, issuer: demo, jwks_file: jwks.json}\n"
		if skew != "" {
			in = strings.Replace(in, "}", ", "+skew+"}", 1)
		}
		c, err := config.Parse(filepath.Join(dir, "gateway.yaml"), []byte(in))
		if err != nil {
			t.Errorf("%q: %v", skew, err)
			continue
		}
		p := c.Policies.Auth.JWT[0]
		if got := p.Skew(); got != want {
			t.Errorf("%q: Skew() = %s, want %s", skew, got, want)
		}
		if line := "clock_skew " + want.String(); !strings.Contains(c.Summary(), line) {
			t.Errorf("%q: the summary does not say %q:\n%s", skew, line, c.Summary())
		}
	}
}

func TestByteSizes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want config.ByteSize
	}{
		{"1024", 1024},
		{"0x100", 256},
		{`"4MiB"`, 4 << 20},
		{`"4 MiB"`, 4 << 20},
		{`"10MB"`, 10_000_000},
		{`"512kib"`, 512 << 10},
		{`"1GiB"`, 1 << 30},
		{`"100B"`, 100},
	} {
		c, err := config.Parse("sizes.yaml", []byte("grpc: {max_message_bytes: "+tc.in+"}"))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got := c.GRPC.MaxMessageBytes; got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.in, got, tc.want)
		}
	}
	for _, in := range []string{`"4"`, `"MiB"`, `"-1MiB"`, `"4.5MiB"`, `"4TiB"`, "-1", "0", `"8GiB"`, `"99999999999GiB"`, "1.5"} {
		if _, err := config.Parse("sizes.yaml", []byte("grpc: {max_message_bytes: "+in+"}")); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	for size, want := range map[config.ByteSize]string{
		0:           "0B",
		1500:        "1500B",
		2048:        "2KiB",
		4 << 20:     "4MiB",
		3 << 30:     "3GiB",
		1<<20 + 512: "1049088B",
	} {
		if got := size.String(); got != want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(size), got, want)
		}
	}
}

func TestProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    config.Problem
		want string
	}{
		{config.Problem{File: "g.yaml", Line: 14, Column: 7, Field: "routes[1].cluster", Message: "unknown"}, "g.yaml:14:7: routes[1].cluster: unknown"},
		{config.Problem{File: "g.yaml", Line: 3, Message: "invalid YAML"}, "g.yaml:3: invalid YAML"},
		{config.Problem{File: "g.yaml", Message: "bad"}, "g.yaml: bad"},
		{config.Problem{Line: 2, Column: 1, Field: "listen", Message: "bad"}, "2:1: listen: bad"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
	err := &config.Error{Problems: []config.Problem{
		{File: "a", Line: 1, Column: 1, Message: "x"},
		{File: "a", Line: 2, Column: 1, Message: "y"},
	}}
	if got, want := err.Error(), "a:1:1: x\na:2:1: y"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// HasDocument tells a file with nothing written in it from one that configures nothing explicitly.
func TestHasDocument(t *testing.T) {
	for _, tc := range []struct {
		data string
		want bool
	}{
		{"", false},
		{"\n  \n\r\n", false},
		{"# nothing configured yet\n\n# (comments only)\n", false},
		{"\ufeff", false},
		{"{}\n", true},
		// A document marker or a null is what a template renders before its first setting: a file
		// caught half-written, not one that means to configure nothing ("{}" says that).
		{"---\n", false},
		{"---\n# Source: gateway/templates/configmap.yaml\n", false},
		{"~\n", false},
		{"null\n", false},
		{"---\n---\nlisten: 127.0.0.1:8080\n", true},
		{"listen: 127.0.0.1:8080\n", true},
		{"listen: [\n", true}, // a syntax error: written, for Parse to report
	} {
		if got := config.HasDocument([]byte(tc.data)); got != tc.want {
			t.Errorf("HasDocument(%q) = %v, want %v", tc.data, got, tc.want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want an error wrapping fs.ErrNotExist", err)
	}
	var cerr *config.Error
	if errors.As(err, &cerr) {
		t.Errorf("Load of a missing file returned *config.Error: %v", err)
	}
}

// TestProblemsAreOrdered checks that problems come in file order whatever
// order the checks find them in.
func TestProblemsAreOrdered(t *testing.T) {
	_, err := config.Parse("g.yaml", []byte(`
services: [{name: a}]
routes: [{match: {prefix: /}}]
clusters: [{name: b}]
listen: nowhere
`))
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Parse error %v, want *config.Error", err)
	}
	last := 0
	for _, p := range cerr.Problems {
		if p.Line < last {
			t.Errorf("problems out of order:\n%v", err)
			break
		}
		last = p.Line
	}
	if len(cerr.Problems) < 4 {
		t.Errorf("want a problem on each of 4 lines, got:\n%v", err)
	}
}

// TestAliasExpansionIsBounded feeds merge keys that would expand to 10^8
// mappings: Parse must stop early with a problem rather than hang.
func TestAliasExpansionIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("clusters:\n  - &m0 {name: a, endpoints: [127.0.0.1:1]}\n")
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&b, "  - &m%d {<<: [", i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*m%d", i-1)
		}
		b.WriteString("]}\n")
	}
	_, err := config.Parse("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "aliases expand the document too far") {
		t.Errorf("Parse of an alias bomb: %v, want the expansion problem", err)
	}
}

// With API keys configured and CORS on, the default allowed headers include the header the keys are
// read from, so a browser may send one; a list of the config's own is taken as written.
func TestCORSAllowsTheAPIKeyHeader(t *testing.T) {
	const keys = `policies:
  auth:
    api_keys:
      header: X-Shop-Key
      keys: [{consumer: web, sha256: "` + "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae" + `"}]
  cors:
    allowed_origins: ["http://localhost:*"]
`
	c, err := config.Parse("cors.yaml", []byte(keys))
	if err != nil {
		t.Fatal(err)
	}
	if h := c.Policies.CORS.AllowedHeaders; !slices.Contains(h, "x-shop-key") || !slices.Contains(h, "authorization") {
		t.Errorf("allowed headers %q, want the defaults and x-shop-key", h)
	}
	c, err = config.Parse("cors.yaml", []byte(keys+"    allowed_headers: [authorization]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if h := c.Policies.CORS.AllowedHeaders; !slices.Equal(h, []string{"authorization"}) {
		t.Errorf("allowed headers %q, want the config's [authorization]", h)
	}
}
