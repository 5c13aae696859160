package transcoder_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/transcoder"
)

// oaWideProto is the source of one generated service: five methods over messages with nested
// messages, enums, maps, repeated fields and well-known types, all commented.
func oaWideProto(i int) string {
	return strings.NewReplacer("PKG", fmt.Sprintf("gen%d.v1", i), "SVC", fmt.Sprintf("Service%d", i), "BASE", fmt.Sprintf("/v1/s%d", i)).Replace(`
syntax = "proto3";
package PKG;
import "google/api/annotations.proto";
import "google/api/field_behavior.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

// SVC keeps items.
service SVC {
  // GetItem returns one item.
  rpc GetItem(GetItemRequest) returns (Item) { option (google.api.http) = {get: "BASE/{name=items/*}"}; }
  // ListItems pages through items.
  rpc ListItems(ListItemsRequest) returns (ListItemsResponse) { option (google.api.http) = {get: "BASE/items"}; }
  // CreateItem adds an item.
  rpc CreateItem(CreateItemRequest) returns (Item) { option (google.api.http) = {post: "BASE/items" body: "item"}; }
  // UpdateItem changes an item.
  rpc UpdateItem(UpdateItemRequest) returns (Item) {
    option (google.api.http) = {patch: "BASE/{item.name=items/*}" body: "item" additional_bindings {put: "BASE/{item.name=items/*}" body: "*"}};
  }
  // WatchItems streams changes.
  rpc WatchItems(ListItemsRequest) returns (stream Item) { option (google.api.http) = {get: "BASE/items:watch"}; }
}

// Kind is an item's kind.
enum Kind {
  KIND_UNSPECIFIED = 0;
  // A small one.
  KIND_SMALL = 1;
  KIND_LARGE = 2;
}

// Item is a thing kept.
message Item {
  // Where it is.
  message Place { string shelf = 1; int32 row = 2; }
  // Its resource name.
  string name = 1 [(google.api.field_behavior) = IDENTIFIER];
  string title = 2 [(google.api.field_behavior) = REQUIRED];
  int64 count = 3;
  repeated string tags = 4;
  map<string, string> labels = 5;
  Kind kind = 6;
  google.protobuf.Timestamp update_time = 7 [(google.api.field_behavior) = OUTPUT_ONLY];
  google.protobuf.StringValue note = 8;
  Place place = 9;
  oneof price { int64 cents = 10; string free = 11; }
  repeated Item parts = 12;
}

message GetItemRequest { string name = 1; google.protobuf.FieldMask read_mask = 2; }
message ListItemsRequest {
  message Filter { Kind kind = 1; string tag = 2; }
  int32 page_size = 1;
  string page_token = 2;
  Filter filter = 3;
}
message ListItemsResponse { repeated Item items = 1; string next_page_token = 2; }
message CreateItemRequest { Item item = 1; string request_id = 2; }
message UpdateItemRequest { Item item = 1; google.protobuf.FieldMask update_mask = 2; }
`)
}

// oaWideServices compiles n generated services from .proto sources (so with comments).
func oaWideServices(tb testing.TB, n int) []protoreflect.ServiceDescriptor {
	tb.Helper()
	sources := make(map[string]string, n)
	for i := range n {
		sources[fmt.Sprintf("gen/s%d.proto", i)] = oaWideProto(i)
	}
	files, err := registry.FilesFromProtos(tb.Context(), sources, nil)
	if err != nil {
		tb.Fatal(err)
	}
	var out []protoreflect.ServiceDescriptor
	for i := range n {
		fd, err := files.FindFileByPath(fmt.Sprintf("gen/s%d.proto", i))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, fd.Services().Get(0))
	}
	return out
}

func TestOpenAPIWide(t *testing.T) {
	doc := oaValidate(t, oaGenerate(t, oaWideServices(t, 3), transcoder.OpenAPIOptions{}))
	if got, _ := oaPointer(doc, "/paths/~1v1~1s2~1{name}/put/operationId"); got != "Service2_UpdateItem_2" {
		t.Errorf("operationId %v", got)
	}
}

func BenchmarkOpenAPIShop(b *testing.B) {
	services := oaShopServices()
	b.ReportAllocs()
	var size int
	for b.Loop() {
		doc, _, err := transcoder.OpenAPI(services, oaShopOptions)
		if err != nil {
			b.Fatal(err)
		}
		size = len(doc)
	}
	b.ReportMetric(float64(size), "bytes/doc")
}

func BenchmarkOpenAPI100Services(b *testing.B) {
	services := oaWideServices(b, 100)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		doc, _, err := transcoder.OpenAPI(services, transcoder.OpenAPIOptions{IncludeUnbound: true})
		if err != nil {
			b.Fatal(err)
		}
		size = len(doc)
	}
	b.ReportMetric(float64(size), "bytes/doc")
}

func BenchmarkOpenAPIYAMLShop(b *testing.B) {
	doc := oaGenerate(b, oaShopServices(), oaShopOptions)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := transcoder.OpenAPIYAML(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// Serving the current document: what a request to /openapi.json costs once the document exists.
func BenchmarkOpenAPIHandler(b *testing.B) {
	doc := oaGenerate(b, oaShopServices(), oaShopOptions)
	h := transcoder.OpenAPIHandler(func() ([]byte, error) { return doc, nil })
	r, _ := http.NewRequest("GET", "/openapi.json", nil)
	w := &oaDiscard{header: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.header)
		h.ServeHTTP(w, r)
	}
}

type oaDiscard struct{ header http.Header }

func (d *oaDiscard) Header() http.Header         { return d.header }
func (d *oaDiscard) Write(p []byte) (int, error) { return len(p), nil }
func (d *oaDiscard) WriteHeader(int)             {}
