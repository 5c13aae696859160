package server_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestCompressedBodiesRefused: a gzip REST or GraphQL body is 415 naming the coding, in the front's
// shape, from the input limits, which run before the firewall: not its 403 WAF_UNPARSEABLE_BODY,
// nor a 400 from a front that read the gzip bytes as JSON. Nothing is called.
func TestCompressedBodiesRefused(t *testing.T) {
	g, calls := wafGateway(t, nil)
	ctx := testContext(t)
	for _, tc := range []struct{ method, path, body, want string }{
		{"PATCH", "/v1/users/1", `{"nickname":"Countess"}`, `{"code":3,"message":"unsupported content coding \"gzip\"`},
		{"POST", "/graphql", `{"query":"{ getUser(id: \"1\") { name } }"}`, `{"errors":[{"message":"unsupported content coding \"gzip\"`},
	} {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write([]byte(tc.body))
		zw.Close()
		req, err := http.NewRequestWithContext(ctx, tc.method, "http://"+g.addr+tc.path, &gz)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "gzip")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.HasPrefix(string(body), tc.want) || resp.Header.Get("Accept-Encoding") != "identity" {
			t.Errorf("%s %s, gzip: %d %v %s; want 415 with Accept-Encoding: identity, %s...", tc.method, tc.path, resp.StatusCode, resp.Header, body, tc.want)
		}
	}
	for _, method := range []string{"/shop.users.v1.UserService/UpdateUser", "/shop.users.v1.UserService/GetUser"} {
		if n := calls.count(method); n != 0 {
			t.Errorf("%s called %d times", method, n)
		}
	}
}
