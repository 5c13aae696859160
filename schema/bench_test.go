package schema_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/schema"
)

func BenchmarkBuildShop(b *testing.B) {
	services := shopServices()
	opts := schema.Options{Links: shopLinks()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := schema.Build(services, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuild100Services(b *testing.B) {
	services, opts := manyServices(b, 100)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := schema.Build(services, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// manyServices compiles n services, each in its own package with six methods and a handful of
// messages and enums of the shape of the shop's, linked to the next service.
func manyServices(tb testing.TB, n int) ([]protoreflect.ServiceDescriptor, schema.Options) {
	tb.Helper()
	sources := make(map[string]string, n)
	var opts schema.Options
	for i := range n {
		var src strings.Builder
		fmt.Fprintf(&src, `syntax = "proto3";
package svc%[1]d.v1;
import "google/api/annotations.proto";
import "google/api/field_behavior.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

// Service%[1]d manages items.
service Service%[1]d {
  // GetItem%[1]d returns one item.
  rpc GetItem%[1]d(GetItem%[1]dRequest) returns (Item%[1]d) { option (google.api.http) = {get: "/v1/s%[1]d/items/{id}"}; }
  rpc ListItems%[1]d(ListItems%[1]dRequest) returns (ListItems%[1]dResponse) { option (google.api.http) = {get: "/v1/s%[1]d/items"}; }
  rpc BatchGetItems%[1]d(BatchGetItems%[1]dRequest) returns (ListItems%[1]dResponse) { option idempotency_level = NO_SIDE_EFFECTS; }
  rpc CreateItem%[1]d(Item%[1]d) returns (Item%[1]d) { option (google.api.http) = {post: "/v1/s%[1]d/items" body: "*"}; }
  rpc UpdateItem%[1]d(Item%[1]d) returns (Item%[1]d);
  rpc WatchItems%[1]d(GetItem%[1]dRequest) returns (stream Item%[1]d);
}

enum State%[1]d { STATE%[1]d_UNSPECIFIED = 0; STATE%[1]d_ACTIVE = 1; STATE%[1]d_GONE = 2; }

// Item%[1]d is a thing.
message Item%[1]d {
  message Detail { string key = 1; double weight = 2; repeated string notes = 3; }
  string id = 1 [(google.api.field_behavior) = IDENTIFIER];
  string name = 2 [(google.api.field_behavior) = REQUIRED];
  State%[1]d state = 3;
  int64 count = 4;
  bytes blob = 5;
  google.protobuf.Timestamp updated_at = 6 [(google.api.field_behavior) = OUTPUT_ONLY];
  google.protobuf.StringValue nickname = 7;
  repeated Detail details = 8;
  map<string, string> labels = 9;
  oneof owner { string user_id = 10; string team_id = 11; }
  string other_id = 12;
}
message GetItem%[1]dRequest { string id = 1 [(google.api.field_behavior) = REQUIRED]; }
message ListItems%[1]dRequest { int32 page_size = 1; string page_token = 2; State%[1]d state = 3; }
message ListItems%[1]dResponse { repeated Item%[1]d items = 1; string next_page_token = 2; }
message BatchGetItems%[1]dRequest { repeated string ids = 1; }
`, i)
		sources[fmt.Sprintf("svc%d.proto", i)] = src.String()
		next := (i + 1) % n
		opts.Links = append(opts.Links, schema.Link{
			OnType: fmt.Sprintf("svc%d.v1.Item%d", i, i), Field: "other",
			Method: fmt.Sprintf("svc%[1]d.v1.Service%[1]d/GetItem%[1]d", next),
			Args:   map[string]string{"id": "other_id"},
			Batch: &schema.BatchLink{
				Method:       fmt.Sprintf("svc%[1]d.v1.Service%[1]d/BatchGetItems%[1]d", next),
				RequestField: "ids", ResponseField: "items", KeyField: "id",
			},
		})
	}
	return compile(tb, sources), opts
}

func TestManyServices(t *testing.T) {
	services, opts := manyServices(t, 100)
	if len(services) != 100 {
		t.Fatalf("%d services", len(services))
	}
	s := mustBuild(t, services, opts)
	if got := len(s.AST().Query.Fields); got != 300+2 { // and __schema, __type
		t.Errorf("%d query fields", got)
	}
	if f := s.ObjectType("Item99").Field("other"); f == nil || f.Object != s.ObjectType("Item0") {
		t.Errorf("Item99.other: %+v", f)
	}
}
