package waf_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/waf"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/transcoder"
)

// uploadsProto binds google.api.HttpBody uploads: a body field, the whole request, and a client
// stream of them, which the front reads as JSON messages.
const uploadsProto = `syntax = "proto3";
package uploads.v1;

import "google/api/annotations.proto";
import "google/api/httpbody.proto";

service Uploads {
  rpc Upload(UploadRequest) returns (UploadRequest) {
    option (google.api.http) = {post: "/v1/{name=uploads/*}:upload" body: "body"};
  }
  rpc Put(google.api.HttpBody) returns (google.api.HttpBody) {
    option (google.api.http) = {put: "/v1/blobs" body: "*"};
  }
  rpc Chunks(stream google.api.HttpBody) returns (google.api.HttpBody) {
    option (google.api.http) = {post: "/v1/chunks" body: "*"};
  }
}

message UploadRequest {
  string name = 1;
  google.api.HttpBody body = 2;
}
`

var uploadsRouter = sync.OnceValues(func() (*transcoder.Router, error) {
	files, err := registry.FilesFromProtos(context.Background(), map[string]string{"uploads/v1/uploads.proto": uploadsProto}, nil)
	if err != nil {
		return nil, err
	}
	fd, err := files.FindFileByPath("uploads/v1/uploads.proto")
	if err != nil {
		return nil, err
	}
	return transcoder.NewRouter([]protoreflect.ServiceDescriptor{fd.Services().Get(0)})
})

// uploadsHandler is the middleware of a snapshot serving the uploads, every method in mode.
func uploadsHandler(t *testing.T, mode string) http.Handler {
	t.Helper()
	rt, err := uploadsRouter()
	if err != nil {
		t.Fatal(err)
	}
	return fw.Middleware(func(r *http.Request, front policy.Front) waf.Route {
		var p transcoder.Params
		b, _ := rt.MatchCall(r, &p)
		return waf.Route{Mode: mode, Binding: b}
	})(policy.FrontREST, seen)
}

// A google.api.HttpBody upload takes bytes of any Content-Type, and the firewall decides the same
// whatever the client labels them: the data, a file whose content is the backend's business, is
// not inspected (an injection in it passes, protobuf and JSON labels included), no type or charset
// is refused as one the rule set does not read (920420, 920480), and no inspection limit applies
// to data that is not read. The path and query of an upload are inspected as any request's. A
// client stream of HttpBody messages is JSON to the front, and keeps the rules of JSON bodies.
func TestHTTPBodyUploadAnyContentType(t *testing.T) {
	const data = "hello world\x00\x89PNG 1' UNION SELECT password FROM users -- <script>alert(1)</script>"
	types := []string{"application/octet-stream", "image/png", "text/plain", "text/csv", "application/pdf",
		"application/x-protobuf", "application/protobuf", "application/json", "text/plain; charset=utf-16",
		"application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/x-ndjson", ""}
	upload := func(method, target, ct string) *http.Request {
		r := httptest.NewRequest(method, target, strings.NewReader(data))
		r.Host = "uploads.example.com"
		r.Header.Set("User-Agent", "uploader/1.0")
		r.Header.Set("Accept", "application/json")
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		return r
	}
	logs.Take()
	for _, ct := range types {
		for _, target := range []string{"PUT /v1/blobs", "POST /v1/uploads/u2:upload"} {
			method, path, _ := strings.Cut(target, " ")
			w := httptest.NewRecorder()
			uploadsHandler(t, waf.Blocking).ServeHTTP(w, upload(method, path, ct))
			if w.Code != 200 || w.Body.String() != data {
				t.Errorf("%s %q: got %d %s, want 200 and the data unchanged", target, ct, w.Code, w.Body)
			}
		}
	}
	if l := logs.Take(); l != "" {
		t.Errorf("uploads matched rules: %s", l)
	}

	sqli := url.PathEscape("u2' OR '1'='1' --")
	for _, ct := range types {
		for _, target := range []string{"/v1/uploads/" + sqli + ":upload", "/v1/uploads/u2:upload?note=" + url.QueryEscape("x' UNION SELECT password FROM users --")} {
			w := httptest.NewRecorder()
			uploadsHandler(t, waf.Blocking).ServeHTTP(w, upload("POST", target, ct))
			if st, err := refusal(policy.FrontREST, w.Body.Bytes()); err != nil || w.Code != 403 || !strings.Contains(st.Details[0].Metadata["ruleIds"], "942") {
				t.Errorf("POST %s %q: got %d %s, want 403 by the SQL injection rules", target, ct, w.Code, w.Body)
			}
		}
	}
	logs.Take()

	// The data is not read, so no inspection limit applies to it: the front's own limit does.
	big := httptest.NewRequest("PUT", "/v1/blobs", bytes.NewReader(make([]byte, config.DefaultWAFBodyLimit+1)))
	big.Header.Set("Content-Type", "image/png")
	w := httptest.NewRecorder()
	uploadsHandler(t, waf.Blocking).ServeHTTP(w, big)
	if w.Code != 200 || w.Body.Len() != int(config.DefaultWAFBodyLimit+1) {
		t.Errorf("an upload over the inspection limit: got %d, %d bytes, want 200 and the data", w.Code, w.Body.Len())
	}

	w = httptest.NewRecorder()
	uploadsHandler(t, waf.Blocking).ServeHTTP(w, upload("POST", "/v1/chunks", "text/plain"))
	if st, err := refusal(policy.FrontREST, w.Body.Bytes()); err != nil || w.Code != 403 || !strings.Contains(st.Details[0].Metadata["ruleIds"], "920420") {
		t.Errorf("a client stream of HttpBody labelled text/plain: got %d %s, want 403, rule 920420 among the rules", w.Code, w.Body)
	}
}
