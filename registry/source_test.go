package registry_test

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
)

// protoRoot is the import path of the repository's .proto sources.
const protoRoot = "../proto"

// shopFiles are the generated shop files, as linked into the test binary.
var shopFiles = []protoreflect.FileDescriptor{
	usersv1.File_shop_users_v1_users_proto,
	ordersv1.File_shop_orders_v1_orders_proto,
	catalogv1.File_shop_catalog_v1_catalog_proto,
}

// descriptorSet returns files as a FileDescriptorSet, like protoc --descriptor_set_out, and with
// every file they import, transitively, when withImports (--include_imports). Imports come first.
func descriptorSet(withImports bool, files ...protoreflect.FileDescriptor) *descriptorpb.FileDescriptorSet {
	set := &descriptorpb.FileDescriptorSet{}
	seen := make(map[string]bool)
	var add func(fd protoreflect.FileDescriptor, top bool)
	add = func(fd protoreflect.FileDescriptor, top bool) {
		if seen[fd.Path()] || (!top && !withImports) {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor, false)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	for _, fd := range files {
		add(fd, true)
	}
	return set
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// shuffled returns a copy of set with its files in a random order, always different from the
// original one when there are at least two files.
func shuffled(set *descriptorpb.FileDescriptorSet, seed uint64) *descriptorpb.FileDescriptorSet {
	out := proto.CloneOf(set)
	r := rand.New(rand.NewPCG(seed, seed))
	for {
		r.Shuffle(len(out.File), func(i, j int) { out.File[i], out.File[j] = out.File[j], out.File[i] })
		if len(out.File) < 2 || !slices.EqualFunc(out.File, set.File, func(a, b *descriptorpb.FileDescriptorProto) bool {
			return a.GetName() == b.GetName()
		}) {
			return out
		}
	}
}

// shopSources reads every .proto file under proto/shop, keyed by import path.
func shopSources(t testing.TB) map[string]string {
	t.Helper()
	sources := make(map[string]string)
	err := filepath.WalkDir(filepath.Join(protoRoot, "shop"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".proto" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(protoRoot, path)
		if err != nil {
			return err
		}
		sources[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) < 4 {
		t.Fatalf("found only %d shop protos under %s", len(sources), protoRoot)
	}
	return sources
}

func findMethod(t testing.TB, files *protoregistry.Files, name protoreflect.FullName) protoreflect.MethodDescriptor {
	t.Helper()
	d, err := files.FindDescriptorByName(name)
	if err != nil {
		t.Fatalf("find %s: %v", name, err)
	}
	md, ok := d.(protoreflect.MethodDescriptor)
	if !ok {
		t.Fatalf("%s is a %T, not a method", name, d)
	}
	return md
}

func findMessage(t testing.TB, files *protoregistry.Files, name protoreflect.FullName) protoreflect.MessageDescriptor {
	t.Helper()
	d, err := files.FindDescriptorByName(name)
	if err != nil {
		t.Fatalf("find %s: %v", name, err)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		t.Fatalf("%s is a %T, not a message", name, d)
	}
	return md
}

func paths(files *protoregistry.Files) []string {
	var out []string
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		out = append(out, fd.Path())
		return true
	})
	slices.Sort(out)
	return out
}
