package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/jhump/protoreflect/grpcreflect"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/protogate/gateway/routing"
)

// FilesFromReflection asks the gRPC server reflection (v1, else v1alpha) of the backend at endpoint
// ("host:port", plaintext) for the descriptors of its services, and links them into a new registry
// of their own. With no services named it takes every service the server lists except the
// grpc.reflection and grpc.health ones; a named service the server does not list is an error. It
// returns the registry and the services it resolved, sorted.
//
// ctx bounds the whole exchange; callers pass a timeout. An endpoint that refuses connections fails
// at once, with "reflection at HOST:PORT: unavailable: ...".
func FilesFromReflection(ctx context.Context, endpoint string, services []string) (*protoregistry.Files, []string, error) {
	return FilesFromReflectionOver(ctx, endpoint, routing.Transport{}, services)
}

// FilesFromReflectionOver is FilesFromReflection over transport t: over TLS, with the settings of
// the cluster whose calls the backend serves.
func FilesFromReflectionOver(ctx context.Context, endpoint string, t routing.Transport, services []string) (*protoregistry.Files, []string, error) {
	origin := "reflection at " + endpoint
	fail := func(what string, err error) (*protoregistry.Files, []string, error) {
		return nil, nil, fmt.Errorf("%s: %s%s", origin, what, describeRPCError(ctx, err))
	}
	conn, err := routing.DefaultDial(endpoint, t)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", origin, err)
	}
	defer conn.Close()

	// Calls do not wait for the connection to become ready (grpc.WaitForReady(false), the default):
	// a refused connection fails the first call instead of retrying until ctx ends.
	client := grpcreflect.NewClientAuto(ctx, conn)
	defer client.Reset()
	client.AllowFallbackResolver(linkedDescriptors{}, protoregistry.GlobalTypes)

	listed, err := client.ListServices()
	if err != nil {
		return fail("", err)
	}
	slices.Sort(listed)
	if len(services) == 0 {
		for _, s := range listed {
			if !gatewayService(s) {
				services = append(services, s)
			}
		}
		if len(services) == 0 {
			return nil, nil, fmt.Errorf("%s: the server lists no services besides reflection and health", origin)
		}
	} else {
		services = slices.Clone(services)
		slices.Sort(services)
		services = slices.Compact(services)
		for _, s := range services {
			if _, found := slices.BinarySearch(listed, s); !found {
				return nil, nil, fmt.Errorf("%s does not list service %s (it lists: %s)", origin, s, strings.Join(listed, ", "))
			}
		}
	}

	set := &descriptorpb.FileDescriptorSet{}
	seen := make(map[string]bool)
	var collect func(fd protoreflect.FileDescriptor)
	collect = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			collect(imports.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	for _, s := range services {
		sd, err := client.ResolveService(s)
		if err != nil {
			return fail("service "+s+": ", err)
		}
		collect(sd.GetFile().UnwrapFile())
	}

	// As for compiled sources, a round trip through the wire format turns the linked options into
	// typed values whatever the reflection client built.
	data, err := proto.MarshalOptions{AllowPartial: true}.Marshal(set)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", origin, err)
	}
	if set, err = decodeSet(data); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", origin, err)
	}
	files, err := filesFromSet(set, origin)
	if err != nil {
		return nil, nil, err
	}
	return files, services, nil
}

// describeRPCError renders an error of the reflection exchange as "code: message", with the code
// in words ("unavailable", "deadline exceeded").
func describeRPCError(ctx context.Context, err error) string {
	code, msg := codes.Unknown, err.Error()
	if st, ok := status.FromError(err); ok {
		code, msg = st.Code(), st.Message()
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case ctx.Err() != nil:
		code = codes.Canceled
	case code == codes.Unimplemented:
		return "the server does not offer gRPC server reflection (grpc.reflection.v1 or v1alpha): " + msg
	case code == codes.Unknown || code == codes.OK:
		return msg
	}
	return codeWords(code) + ": " + msg
}

// codeWords spells a status code in lower-case words: DeadlineExceeded -> "deadline exceeded".
func codeWords(c codes.Code) string {
	var b strings.Builder
	for i, r := range c.String() {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte(' ')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// linkedDescriptors lets the reflection client take a file the gateway links (linkedPrefixes) that
// the server does not send from the gateway's linked copies.
type linkedDescriptors struct{}

func (linkedDescriptors) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	fd, ok := linkedFile(path)
	if !ok {
		return nil, protoregistry.NotFound
	}
	return fd, nil
}

func (linkedDescriptors) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
	if err != nil {
		return nil, err
	}
	if _, ok := linkedFile(d.ParentFile().Path()); !ok {
		return nil, protoregistry.NotFound
	}
	return d, nil
}
