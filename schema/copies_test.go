package schema_test

import (
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/protogate/gateway/schema"
)

const commonProto = `syntax = "proto3"; package common.v1;
message Money { string currency = 1; int64 units = 2; }`

// TestCopiesOfSharedFiles builds services of two registrations that each bring their own copy of a
// shared file: one GraphQL type, one plan per copy.
func TestCopiesOfSharedFiles(t *testing.T) {
	a := compile(t, map[string]string{
		"common.proto": commonProto,
		"a.proto": `syntax = "proto3"; package a.v1; import "common.proto";
service A { rpc Price(R) returns (common.v1.Money) { option idempotency_level = NO_SIDE_EFFECTS; } }
message R { common.v1.Money at_least = 1; }`,
	})
	b := compile(t, map[string]string{
		"common.proto": commonProto,
		"b.proto": `syntax = "proto3"; package b.v1; import "common.proto";
service B { rpc Cost(R) returns (common.v1.Money) { option idempotency_level = NO_SIDE_EFFECTS; } }
message R { common.v1.Money at_most = 1; }`,
	})
	s := mustBuild(t, append(a, b...), schema.Options{})
	price, cost := s.RootField(ast.Query, "price"), s.RootField(ast.Query, "cost")
	if price.Result.Object == cost.Result.Object {
		t.Fatal("one Object for two copies of Money")
	}
	for _, rf := range []*schema.RootField{price, cost} {
		o := rf.Result.Object
		if o.Name != "Money" || o.Message != rf.Method.Output() || s.ObjectOf(rf.Method.Output()) != o {
			t.Errorf("%s: Object %s of %v", rf.Name, o.Name, o.Message.ParentFile().Path())
		}
		if o.Field("units").Desc.ContainingMessage() != rf.Method.Output() {
			t.Errorf("%s: field descriptors of another copy", rf.Name)
		}
		arg := rf.Args.Fields[0]
		if arg.Input.Message != rf.Method.Input().Fields().Get(0).Message() || arg.Input.Name != "MoneyInput" {
			t.Errorf("%s: input of another copy", rf.Name)
		}
	}
	if s.ObjectType("Money") != price.Result.Object {
		t.Error("ObjectType does not return the first copy")
	}

	// Copies that differ are an error.
	c := compile(t, map[string]string{
		"common.proto": `syntax = "proto3"; package common.v1;
message Money { string currency = 1; int32 units = 2; }`,
		"c.proto": `syntax = "proto3"; package c.v1; import "common.proto";
service C { rpc Fee(common.v1.Money) returns (common.v1.Money) { option idempotency_level = NO_SIDE_EFFECTS; } }`,
	})
	wantContains(t, buildErr(t, append(a, c...), schema.Options{}), "message common.v1.Money has two different definitions")

	// The same service twice is once; two services of one name are an error.
	if _, err := schema.Build(append(a, a[0]), schema.Options{}); err != nil {
		t.Errorf("the same service twice: %v", err)
	}
	again := compile(t, map[string]string{
		"common.proto": commonProto,
		"a.proto": `syntax = "proto3"; package a.v1;
service A { rpc Other(X) returns (X); }
message X { string s = 1; }`,
	})
	wantContains(t, buildErr(t, append(a, again...), schema.Options{}), "service a.v1.A is given twice")
}
