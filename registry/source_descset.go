package registry

import (
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// FilesFromDescriptorSet links a serialized google.protobuf.FileDescriptorSet (protoc
// --descriptor_set_out, buf build -o) into a new registry of its own. The set may hold its files in any
// order and may or may not include its imports (--include_imports): an import it lacks resolves from
// the gateway's linked copy when it is a google/protobuf, google/api, google/rpc, grpc/health or
// grpc/reflection file; any other missing import is an error naming the file and the import.
func FilesFromDescriptorSet(data []byte) (*protoregistry.Files, error) {
	set, err := decodeSet(data)
	if err != nil {
		return nil, fmt.Errorf("descriptor set: not a serialized google.protobuf.FileDescriptorSet: %w", err)
	}
	if len(set.GetFile()) == 0 {
		return nil, errors.New("descriptor set: empty: it holds no files")
	}
	return filesFromSet(set, "descriptor set")
}

// DescriptorSetOf serializes every file of files as a FileDescriptorSet, source info included. The
// bytes depend only on the files, not on the order they were registered in: each file follows its
// imports, and files are otherwise ordered by path. It is what the registry stores and digests.
func DescriptorSetOf(files *protoregistry.Files) ([]byte, error) {
	if files == nil {
		return nil, errors.New("descriptor set of nil files")
	}
	return deterministic.Marshal(descriptorSetOf(files))
}

// deterministic is how descriptor sets are serialized for storage and digests.
var deterministic = proto.MarshalOptions{Deterministic: true, AllowPartial: true}

// descriptorSetOf returns the files of files, each after its imports, otherwise ordered by path.
func descriptorSetOf(files *protoregistry.Files) *descriptorpb.FileDescriptorSet {
	byPath := make(map[string]protoreflect.FileDescriptor, files.NumFiles())
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		byPath[fd.Path()] = fd
		return true
	})
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	slices.Sort(paths)

	set := &descriptorpb.FileDescriptorSet{File: make([]*descriptorpb.FileDescriptorProto, 0, len(paths))}
	done := make(map[string]bool, len(paths))
	var visit func(fd protoreflect.FileDescriptor)
	visit = func(fd protoreflect.FileDescriptor) {
		if done[fd.Path()] {
			return
		}
		done[fd.Path()] = true // a registry holds no import cycles; this also ends one
		imports := fd.Imports()
		deps := make([]string, 0, imports.Len())
		for i := range imports.Len() {
			deps = append(deps, imports.Get(i).Path())
		}
		slices.Sort(deps)
		for _, dep := range deps {
			if dfd, ok := byPath[dep]; ok {
				visit(dfd)
			}
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	for _, p := range paths {
		visit(byPath[p])
	}
	return set
}
