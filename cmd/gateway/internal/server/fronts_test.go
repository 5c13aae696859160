package server_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/examples/shop"
	"github.com/protogate/gateway/internal/testlog"
	"github.com/protogate/gateway/registry"
)

// doRequest sends req with client and returns the response, its body read and closed.
func doRequest(t testing.TB, client *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := doRequest(t, http.DefaultClient, req)
	return resp.StatusCode, body
}

// TestThreeFronts serves one registration as gRPC (other tests), REST, GraphQL and OpenAPI at once.
func TestThreeFronts(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	base := "http://" + g.addr

	code, body := httpGet(t, base+"/v1/users/1")
	if code != http.StatusOK || !strings.Contains(body, `"name":"Ada Lovelace"`) {
		t.Fatalf("REST GET /v1/users/1: %d %s", code, body)
	}

	query := `{"query":"{ getUser(id: \"1\") { name orders { id user { name } items { product { name } } } } }"}`
	resp, err := http.Post(base+"/graphql", "application/json", strings.NewReader(query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			GetUser struct {
				Name   string
				Orders []struct {
					ID    string
					User  struct{ Name string }
					Items []struct{ Product struct{ Name string } }
				}
			}
		}
		Errors []json.RawMessage
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	u := out.Data.GetUser
	if len(out.Errors) > 0 || u.Name != "Ada Lovelace" || len(u.Orders) < 3 || u.Orders[0].User.Name != "Ada Lovelace" ||
		len(u.Orders[0].Items) == 0 || u.Orders[0].Items[0].Product.Name == "" {
		t.Fatalf("GraphQL with links: %+v", out)
	}

	code, body = httpGet(t, base+"/graphql/schema.graphql")
	if code != http.StatusOK || !strings.Contains(body, "getUser(id: String!): User") {
		t.Fatalf("schema.graphql: %d %.200s", code, body)
	}
	code, body = httpGet(t, base+"/openapi.json")
	if code != http.StatusOK || !strings.Contains(body, `"/v1/users/{id}"`) {
		t.Fatalf("openapi.json: %d %.200s", code, body)
	}
}

// wantMetrics scrapes the gateway's /metrics and requires each of lines, whole ("name{labels} value").
func wantMetrics(t *testing.T, g *gateway, lines ...string) {
	t.Helper()
	code, metrics := httpGet(t, "http://"+g.admin+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range lines {
		if !strings.Contains(metrics, want+"\n") {
			name, _, _ := strings.Cut(want, "{")
			var have []string
			for line := range strings.Lines(metrics) {
				if strings.HasPrefix(line, name+"{") {
					have = append(have, strings.TrimSpace(line))
				}
			}
			t.Errorf("/metrics lacks %s; it has:\n%s", want, strings.Join(have, "\n"))
		}
	}
}

// TestOpenAPICollidingTemplates registers bindings that OpenAPI would write as one path, which the
// REST front serves apart, beside the shop: /openapi.json still describes every service, those
// bindings at paths of their own, and the one it still cannot describe is left out alone, the
// log warning once for the snapshot, naming it.
func TestOpenAPICollidingTemplates(t *testing.T) {
	files, err := registry.FilesFromProtos(t.Context(), map[string]string{"qa/v1/things.proto": `syntax = "proto3";
package qa.v1;
import "google/api/annotations.proto";
service Things {
  rpc GetPublic(GetRequest) returns (GetRequest) { option (google.api.http) = {get: "/v1/{name=public/**}"}; }
  rpc GetSecret(GetRequest) returns (GetRequest) { option (google.api.http) = {get: "/v1/{name=secret/**}"}; }
  rpc GetBook(GetRequest) returns (GetRequest) { option (google.api.http) = {get: "/v2/{name=shelves/*/books/*}"}; }
  rpc GetAuthor(GetRequest) returns (GetRequest) { option (google.api.http) = {get: "/v2/{name=shelves/*/authors/*}"}; }
}
message GetRequest { string name = 1; }
`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	g := startGateway(t, harnessOptions{
		server: []server.Option{server.WithLogger(slog.New(slog.NewJSONHandler(logs, nil)))},
		spec: func(s *registry.Spec, _ *shop.Shop) {
			s.Registrations = append(s.Registrations, &registry.Registration{Name: "things", Endpoints: []string{"127.0.0.1:1"}, Files: files})
		},
	})
	code, body := httpGet(t, "http://"+g.addr+"/openapi.json")
	if code != http.StatusOK {
		t.Fatalf("openapi.json: %d %.300s", code, body)
	}
	for _, path := range []string{`"/v1/users/{id}"`, `"/v1/public/{name}"`, `"/v1/secret/{name}"`, `"/v2/shelves/{name}"`} {
		if !strings.Contains(body, path) {
			t.Errorf("openapi.json lacks %s", path)
		}
	}
	var warnings []string
	for line := range strings.Lines(logs.String()) {
		var e struct{ Level, Msg, Bindings string }
		if json.Unmarshal([]byte(line), &e) == nil && strings.HasPrefix(e.Msg, "the OpenAPI document leaves out bindings") && e.Level == "WARN" {
			warnings = append(warnings, e.Bindings)
		}
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "method qa.v1.Things.GetAuthor: binding 0: ") || strings.Contains(warnings[0], "; ") {
		t.Errorf("warnings = %q, want one naming GetAuthor's binding alone", warnings)
	}
}
