package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
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
