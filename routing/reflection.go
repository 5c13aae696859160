package routing

import (
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	v1reflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1"
	v1alphareflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Catalog is what server reflection reads from the active snapshot: the descriptors of every service
// the gateway fronts, merged.
type Catalog interface {
	// Files resolves files and descriptors by name.
	Files() *protoregistry.Files
	// Types resolves extensions declared in those files.
	Types() ExtensionTypes
	// Services lists the fully qualified names of the fronted services.
	Services() []string
}

// ExtensionTypes resolves extensions, as protoregistry.Types and dynamicpb.Types do.
type ExtensionTypes interface {
	protoregistry.ExtensionTypeResolver
	RangeExtensionsByMessage(message protoreflect.FullName, f func(protoreflect.ExtensionType) bool)
}

// RegisterReflection serves grpc.reflection.v1 and v1alpha on s over the services of the Catalog current
// at each request, plus the services registered on s itself (health, reflection). The same two
// servers are registered on each of also (the gateway's other gRPC server, its gRPC-Web front),
// which answer alike; the services they describe as their own are s's.
func RegisterReflection(s *grpc.Server, current func() Catalog, also ...grpc.ServiceRegistrar) {
	r := &reflectionSource{server: s, current: current}
	opts := reflection.ServerOptions{Services: r, DescriptorResolver: r, ExtensionResolver: r}
	v1, v1alpha := reflection.NewServerV1(opts), reflection.NewServer(opts)
	for _, reg := range append([]grpc.ServiceRegistrar{s}, also...) {
		v1reflectiongrpc.RegisterServerReflectionServer(reg, v1)
		v1alphareflectiongrpc.RegisterServerReflectionServer(reg, v1alpha)
	}
}

// reflectionSource answers reflection from the current catalog first and from the gateway's own
// services second. The own services' descriptors come from the Go-registered files, but only the ones
// those services need, so a client cannot discover a service the gateway does not front.
type reflectionSource struct {
	server  *grpc.Server
	current func() Catalog
}

func (r *reflectionSource) GetServiceInfo() map[string]grpc.ServiceInfo {
	own := r.server.GetServiceInfo()
	names := r.current().Services()
	out := make(map[string]grpc.ServiceInfo, len(own)+len(names))
	for name, info := range own {
		out[name] = info
	}
	for _, name := range names {
		if _, ok := out[name]; !ok {
			out[name] = grpc.ServiceInfo{}
		}
	}
	return out
}

func (r *reflectionSource) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	if fd, err := r.current().Files().FindFileByPath(path); err == nil {
		return fd, nil
	}
	fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
	if err != nil || !r.ownFile(fd) {
		return nil, protoregistry.NotFound
	}
	return fd, nil
}

func (r *reflectionSource) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	if d, err := r.current().Files().FindDescriptorByName(name); err == nil {
		return d, nil
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
	if err != nil || !r.ownFile(d.ParentFile()) {
		return nil, protoregistry.NotFound
	}
	return d, nil
}

func (r *reflectionSource) FindExtensionByName(field protoreflect.FullName) (protoreflect.ExtensionType, error) {
	return r.current().Types().FindExtensionByName(field)
}

func (r *reflectionSource) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	return r.current().Types().FindExtensionByNumber(message, field)
}

func (r *reflectionSource) RangeExtensionsByMessage(message protoreflect.FullName, f func(protoreflect.ExtensionType) bool) {
	r.current().Types().RangeExtensionsByMessage(message, f)
}

// errorModelFiles are described to every client, registered or not: the types of the standard error
// details (google.rpc.ErrorInfo, BadRequest, RetryInfo...) that the gateway's own errors carry and
// backends' pass through, so that a client resolving a status's details by reflection (grpcurl)
// can render them.
var errorModelFiles = []string{"google/rpc/error_details.proto", "google/rpc/status.proto"}

// ownFile reports whether fd is, or is imported by, one of errorModelFiles or the file of a service
// registered on the server itself.
func (r *reflectionSource) ownFile(fd protoreflect.FileDescriptor) bool {
	if fd == nil {
		return false
	}
	for _, path := range errorModelFiles {
		if em, err := protoregistry.GlobalFiles.FindFileByPath(path); err == nil && importsFile(em, fd.Path(), nil) {
			return true
		}
	}
	for name, info := range r.server.GetServiceInfo() {
		if path, ok := info.Metadata.(string); ok && path == fd.Path() {
			return true
		}
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			continue
		}
		if importsFile(d.ParentFile(), fd.Path(), nil) {
			return true
		}
	}
	return false
}

// importsFile reports whether fd is path or imports it, directly or not.
func importsFile(fd protoreflect.FileDescriptor, path string, seen []string) bool {
	if fd.Path() == path {
		return true
	}
	if slices.Contains(seen, fd.Path()) {
		return false
	}
	seen = append(seen, fd.Path())
	imports := fd.Imports()
	for i := range imports.Len() {
		if importsFile(imports.Get(i).FileDescriptor, path, seen) {
			return true
		}
	}
	return false
}

var _ protodesc.Resolver = (*reflectionSource)(nil)
