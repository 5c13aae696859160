package fieldmask_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/protogate/gateway/examples/shop/internal/fieldmask"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
)

func TestProjectOverlappingPaths(t *testing.T) {
	src := &catalogv1.Product{Id: "p1", Name: "n", Dimensions: &catalogv1.Product_Dimensions{WidthCm: 1, HeightCm: 2}}
	orig := proto.CloneOf(src)
	got, err := fieldmask.Project(src.ProtoReflect(), []string{"dimensions.width_cm", "dimensions", "dimensions"})
	if err != nil {
		t.Fatal(err)
	}
	want := &catalogv1.Product{Dimensions: orig.GetDimensions()}
	if !proto.Equal(got.Interface(), want) || !proto.Equal(src, orig) {
		t.Errorf("Project = %v (source now %v), want %v", got.Interface(), src, want)
	}
}

func TestMergeNested(t *testing.T) {
	dst := &usersv1.User{Name: "a", Address: &usersv1.User_Address{City: "x", Street: "s"}}
	src := &usersv1.User{Address: &usersv1.User_Address{City: "y"}}
	if err := fieldmask.Merge(dst.ProtoReflect(), src.ProtoReflect(), []string{"address.city", "address.country"}); err != nil {
		t.Fatal(err)
	}
	want := &usersv1.User{Name: "a", Address: &usersv1.User_Address{City: "y", Street: "s"}}
	if !proto.Equal(dst, want) {
		t.Errorf("Merge = %v, want %v", dst, want)
	}
	// Clearing a subfield of an absent message adds nothing.
	dst = &usersv1.User{Name: "a"}
	if err := fieldmask.Merge(dst.ProtoReflect(), (&usersv1.User{}).ProtoReflect(), []string{"address.city"}); err != nil || dst.Address != nil {
		t.Errorf("Merge into an absent address: %v, %v", dst, err)
	}
	for _, bad := range []string{"", "nope", "address.", "tags.x", "name.first"} {
		if err := fieldmask.Merge(dst.ProtoReflect(), src.ProtoReflect(), []string{bad}); err == nil {
			t.Errorf("Merge accepted path %q", bad)
		}
	}
}
