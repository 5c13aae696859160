package transcoder_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/transcoder"
)

// decodingProto binds one field with a multi-segment variable and with single-segment ones.
const decodingProto = `syntax = "proto3";
package decoding.v1;
import "google/api/annotations.proto";
service Names {
  rpc Get(Named) returns (Named) {
    option (google.api.http) = {
      get: "/v1/{name=projects/*/things/**}"
      additional_bindings { get: "/v1/one/{name}" }
      additional_bindings { get: "/v1/two/{name=*/*}" }
    };
  }
}
message Named { string name = 1; }
`

// TestPathVariableDecoding checks path variables against the google.api.http spec: "If a variable
// contains exactly one path segment ... all characters except [-_.~0-9a-zA-Z] are percent-encoded.
// The server side does the reverse decoding." and "If a variable contains multiple path segments
// ... all characters except [-_.~/0-9a-zA-Z] are percent-encoded. The server side does the reverse
// decoding, except "%2F" and "%2f" are left unchanged."
func TestPathVariableDecoding(t *testing.T) {
	files, err := registry.FilesFromProtos(context.Background(), map[string]string{"decoding.proto": decodingProto}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := files.FindDescriptorByName("decoding.v1.Names")
	if err != nil {
		t.Fatal(err)
	}
	rt, err := transcoder.NewRouter([]protoreflect.ServiceDescriptor{sd.(protoreflect.ServiceDescriptor)})
	if err != nil {
		t.Fatal(err)
	}
	bound := func(t *testing.T, target string) string {
		t.Helper()
		var p transcoder.Params
		b, err := rt.Match(httptest.NewRequest("GET", target, nil), &p)
		if err != nil {
			t.Fatalf("GET %s: %v", target, err)
		}
		v, err := p.Value(b, 0)
		if err != nil {
			t.Fatalf("GET %s: %v", target, err)
		}
		return v
	}

	// The client side of the spec: every byte but the unreserved characters (and '/' in a
	// multi-segment variable) percent-encoded. The server's decoding must give the value back.
	var all strings.Builder
	for c := 0x20; c < 0x7f; c++ {
		all.WriteByte(byte(c))
	}
	all.WriteString("é€")
	value := all.String()
	encode := func(v string, keep string) string {
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			c := v[i]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~"+keep, c) >= 0 {
				b.WriteByte(c)
				continue
			}
			fmt.Fprintf(&b, "%%%02X", c)
		}
		return b.String()
	}
	t.Run("single segment round trip", func(t *testing.T) {
		if got := bound(t, "/v1/one/"+encode(value, "")); got != value {
			t.Errorf("got %q, want %q", got, value)
		}
	})
	t.Run("multi-segment round trip", func(t *testing.T) {
		// Slashes are the separators; each segment holds every other character.
		segs := "x" + strings.ReplaceAll(value, "/", "") + "/y/z"
		want := "projects/p/things/" + segs
		if got := bound(t, "/v1/projects/p/things/"+encode(segs, "/")); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		if got := bound(t, "/v1/two/"+encode("a b", "")+"/"+encode("(c)", "")); got != "a b/(c)" {
			t.Errorf("{name=*/*}: got %q, want %q", got, "a b/(c)")
		}
	})
	for _, tc := range []struct{ name, target, want string }{
		{"reserved characters decode", "/v1/projects/p/things/a%40b%2Bc%3Dd/e%2Cf", "projects/p/things/a@b+c=d/e,f"},
		{"escaped or not, the same value", "/v1/projects/p/things/x%28y%29", "projects/p/things/x(y)"},
		{"literal reserved characters", "/v1/projects/p/things/x(y)/a@b", "projects/p/things/x(y)/a@b"},
		{"%2F left unchanged", "/v1/projects/p/things/a%2Fb/c", "projects/p/things/a%2Fb/c"},
		{"%2f left unchanged", "/v1/projects/p/things/a%2fb", "projects/p/things/a%2fb"},
		{"%2F among other escapes", "/v1/two/a%2F%20b/c%3F", "a%2F b/c?"},
		{"%25 decodes once", "/v1/projects/p/things/a%252F", "projects/p/things/a%2F"},
		{"single segment decodes %2F", "/v1/one/a%2Fb%2fc", "a/b/c"},
		{"an encoded '#' is data", "/v1/one/a%23b", "a#b"},
		{"an encoded '#' is data, multi-segment", "/v1/projects/p/things/a%23b", "projects/p/things/a#b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := bound(t, tc.target); got != tc.want {
				t.Errorf("GET %s binds %q, want %q", tc.target, got, tc.want)
			}
		})
	}

	t.Run("end to end", func(t *testing.T) {
		h := frontend(t, []*registry.Registration{{Name: "decoding", Endpoints: []string{startEcho(t)}, Files: files}})
		for target, want := range map[string]string{
			"/v1/projects/p/things/a%40b%2Bc%3Dd/e%2Cf": `{"name":"projects/p/things/a@b+c=d/e,f"}`,
			"/v1/projects/p/things/x%28y%29":            `{"name":"projects/p/things/x(y)"}`,
			"/v1/projects/p/things/x(y)":                `{"name":"projects/p/things/x(y)"}`,
		} {
			w := call(h, "GET", target, "")
			if w.Code != http.StatusOK || w.Body.String() != want {
				t.Errorf("GET %s: %d %s, want 200 %s", target, w.Code, w.Body, want)
			}
		}
	})
}
