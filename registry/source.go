package registry

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	// The google.api and google.rpc files a registration may import without bringing them. The
	// well-known google/protobuf files are linked by the protobuf module itself.
	_ "google.golang.org/genproto/googleapis/api/annotations"
	_ "google.golang.org/genproto/googleapis/api/httpbody"
	_ "google.golang.org/genproto/googleapis/rpc/code"
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
	_ "google.golang.org/genproto/googleapis/rpc/status"

	// The files of the services the gateway answers itself: health checks and server reflection.
	_ "google.golang.org/grpc/health/grpc_health_v1"
	_ "google.golang.org/grpc/reflection/grpc_reflection_v1"
	_ "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
)

// A registration's descriptors come from one of three sources: a serialized FileDescriptorSet
// (FilesFromDescriptorSet), .proto sources compiled by the gateway (FilesFromProtos) or the server
// reflection of a running backend (FilesFromReflection). All three end in the same place:
// a FileDescriptorSet decoded with the gateway's linked extension types and linked by filesFromSet
// into a private registry. So descriptors look the same whatever their source: options carry the
// google.api extensions as typed values, and the files the gateway links (linkedPrefixes) are
// always its own copies.
//
// The gateway owns those files because registrations share them: the snapshot merges every
// registration's files, and two copies of google/protobuf/descriptor.proto from two protoc versions,
// or a trimmed google/api/http.proto, would otherwise collide. Copies a registration brings are
// ignored; the linked copies are wire-compatible with them, and a file that needs a symbol the
// linked copy lacks fails to link with an error naming it.
//
// The grpc/health and grpc/reflection files describe the services the gateway answers itself
// (gatewayService), and server reflection describes them from the merged registrations first: a
// registration's copy, say an older health.proto without Watch and List, would describe the
// gateway's own service wrongly to every client. Their copies are ignored too, but checked: a copy
// the gateway's own does not hold compatibly (by the rules of BreakingChanges: a fork that adds a
// field or changes one) is refused, as the registration's files were built against something the
// gateway does not serve.
//
// Their packages (grpc.health.v1, grpc.reflection.v1 and v1alpha) are the gateway's files' alone:
// a file at another path declaring anything in one of them (a vendored third_party/health.proto)
// is refused (checkOwnPackage). Once merged, its names would be the ones reflection describes,
// whatever the gateway's copy says. Even an unmodified copy is refused rather than linked to the
// gateway's: the files importing it name its path, and the fix is theirs to make, importing the
// gateway's path instead.

// linkedPrefixes are the import paths that resolve from the descriptors linked into the gateway.
var linkedPrefixes = [...]string{"google/protobuf/", "google/api/", "google/rpc/", ownPrefixes[0], ownPrefixes[1]}

// ownPrefixes are the linked import paths of the services the gateway answers itself.
var ownPrefixes = [...]string{"grpc/health/", "grpc/reflection/"}

// ownPath reports whether path is under ownPrefixes.
func ownPath(path string) bool {
	return slices.ContainsFunc(ownPrefixes[:], func(p string) bool { return strings.HasPrefix(path, p) })
}

// linkedFile returns the gateway's linked copy of a file under linkedPrefixes.
func linkedFile(path string) (protoreflect.FileDescriptor, bool) {
	linked := false
	for _, p := range linkedPrefixes {
		linked = linked || strings.HasPrefix(path, p)
	}
	if !linked {
		return nil, false
	}
	fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
	return fd, err == nil
}

// decodeSet decodes a serialized FileDescriptorSet. Options of extensions linked into the gateway
// (google.api.http, google.api.field_behavior, ...) decode as typed values, not unknown fields.
func decodeSet(data []byte) (*descriptorpb.FileDescriptorSet, error) {
	set := new(descriptorpb.FileDescriptorSet)
	if err := (proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}).Unmarshal(data, set); err != nil {
		return nil, err
	}
	if len(set.ProtoReflect().GetUnknown()) > 0 {
		return nil, fmt.Errorf("unexpected fields besides file")
	}
	return set, nil
}

// filesFromSet links the files of set into a new registry; origin starts every error message
// ("descriptor set"). Files may come in any order. The files the gateway links are its own copies,
// whether the set brings them or not (a copy of a grpc/health or grpc/reflection file must be
// compatible with the gateway's, see checkOwnCopy, and no other file may be in their packages, see
// checkOwnPackage); any other import the set lacks is an error.
func filesFromSet(set *descriptorpb.FileDescriptorSet, origin string) (*protoregistry.Files, error) {
	if len(set.GetFile()) == 0 {
		return nil, fmt.Errorf("%s: holds no files", origin)
	}
	byPath := make(map[string]*descriptorpb.FileDescriptorProto, len(set.GetFile()))
	for _, fdp := range set.GetFile() {
		name := fdp.GetName()
		if name == "" {
			return nil, fmt.Errorf("%s: holds a file without a name", origin)
		}
		if prev, dup := byPath[name]; dup {
			if !proto.Equal(prev, fdp) {
				return nil, fmt.Errorf("%s: holds two different files named %q", origin, name)
			}
			continue
		}
		byPath[name] = fdp
	}
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	slices.Sort(paths)

	// Check every import first, so the error names the first missing one in path order.
	for _, p := range paths {
		for _, dep := range byPath[p].GetDependency() {
			if _, ok := byPath[dep]; ok {
				continue
			}
			if _, ok := linkedFile(dep); !ok {
				return nil, fmt.Errorf("%s: file %q imports %q, which is not in the set", origin, p, dep)
			}
		}
	}

	for _, p := range paths {
		if _, linked := linkedFile(p); !linked {
			if err := checkOwnPackage(byPath[p]); err != nil {
				return nil, fmt.Errorf("%s: %w", origin, err)
			}
		}
	}

	l := linking{origin: origin, files: new(protoregistry.Files), set: byPath, state: make(map[string]linkState, len(byPath))}
	for _, p := range paths {
		if err := l.visit(p, nil); err != nil {
			return nil, err
		}
	}
	return l.files, nil
}

type linkState uint8

const (
	visiting linkState = iota + 1
	linked
)

// linking registers files depth first, each after its imports.
type linking struct {
	origin string
	files  *protoregistry.Files
	set    map[string]*descriptorpb.FileDescriptorProto
	state  map[string]linkState
}

func (l *linking) visit(path string, chain []string) error {
	switch l.state[path] {
	case linked:
		return nil
	case visiting:
		cycle := append(chain[slices.Index(chain, path):], path)
		return fmt.Errorf("%s: import cycle: %s", l.origin, strings.Join(cycle, " -> "))
	}
	l.state[path] = visiting
	chain = append(chain, path)

	fdp, inSet := l.set[path]
	lfd, isLinked := linkedFile(path)
	if !inSet && !isLinked {
		return fmt.Errorf("%s: file %q imports %q, which is not in the set", l.origin, chain[len(chain)-2], path)
	}
	var fd protoreflect.FileDescriptor
	if !isLinked {
		for _, dep := range fdp.GetDependency() {
			if err := l.visit(dep, chain); err != nil {
				return err
			}
		}
		var err error
		if fd, err = protodesc.NewFile(fdp, l.files); err != nil {
			return fmt.Errorf("%s: file %q: %w", l.origin, path, err)
		}
	} else {
		if inSet {
			if err := checkOwnCopy(fdp, lfd); err != nil {
				return fmt.Errorf("%s: %w", l.origin, err)
			}
		}
		imports := lfd.Imports()
		for i := range imports.Len() {
			if err := l.visit(imports.Get(i).Path(), chain); err != nil {
				return err
			}
		}
		fd = lfd
	}
	if err := l.files.RegisterFile(fd); err != nil {
		return fmt.Errorf("%s: file %q: %w", l.origin, path, err)
	}
	l.state[path] = linked
	return nil
}

// checkOwnCopy checks a registration's copy of a file the gateway links against the gateway's own
// copy, when it is the file of a service the gateway answers itself (ownPrefixes): everything the
// copy declares must be in the gateway's and compatible with it. An older copy is (health.proto
// without Watch and List); a fork that adds or changes a field is not. Other linked files are not
// checked: google/protobuf/descriptor.proto, for one, drops fields from one protobuf release to the
// next (FileOptions.php_generic_services), and a copy from an older protoc is no reason to refuse a
// registration.
func checkOwnCopy(theirs *descriptorpb.FileDescriptorProto, own protoreflect.FileDescriptor) error {
	if !ownPath(own.Path()) {
		return nil
	}
	fd, err := (protodesc.FileOptions{AllowUnresolvable: true}).New(theirs, new(protoregistry.Files))
	if err != nil {
		return fmt.Errorf("file %q: %w", own.Path(), err)
	}
	if breaks := fileBreaks(fd, own); len(breaks) > 0 {
		return fmt.Errorf("file %q: the gateway answers %s itself and serves its own copy of the file, which is not a compatible evolution of this one (from this copy to the gateway's: %s): leave the file out, or bring an unmodified copy",
			own.Path(), own.Package(), strings.Join(breaks, "; "))
	}
	return nil
}

// checkOwnPackage refuses a registration's file, other than the gateway's own, in the package of a
// file under ownPrefixes or in a package under it (see ownPackageFile).
func checkOwnPackage(fdp *descriptorpb.FileDescriptorProto) error {
	pkg := protoreflect.FullName(fdp.GetPackage())
	own, ok := ownPackageFile(pkg)
	if !ok {
		return nil
	}
	return fmt.Errorf("file %q declares package %s, but only the gateway's own %s may declare anything in %s: the gateway answers its services itself, and server reflection describes them from that file; import %q (built in, the gateway's copy) instead of a copy at another path",
		fdp.GetName(), pkg, own.Path(), own.Package(), own.Path())
}

// ownPackageFile returns the gateway's own file (under ownPrefixes) of package pkg, or of a package
// pkg is under: grpc/health/v1/health.proto for grpc.health.v1, grpc/reflection/v1/reflection.proto
// for grpc.reflection.v1.
func ownPackageFile(pkg protoreflect.FullName) (protoreflect.FileDescriptor, bool) {
	for p := pkg; p != ""; p = p.Parent() {
		var own protoreflect.FileDescriptor
		protoregistry.GlobalFiles.RangeFilesByPackage(p, func(fd protoreflect.FileDescriptor) bool {
			if ownPath(fd.Path()) {
				own = fd
			}
			return own == nil
		})
		if own != nil {
			return own, true
		}
	}
	return nil, false
}
