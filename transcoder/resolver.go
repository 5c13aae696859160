package transcoder

import (
	"errors"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// TypeResolver resolves message types (for google.protobuf.Any) and extensions, as
// protoregistry.Types and dynamicpb.Types do.
type TypeResolver interface {
	protoregistry.MessageTypeResolver
	protoregistry.ExtensionTypeResolver
}

// resolver looks types up in the snapshot's registered types first, then in the types linked into the
// gateway (google.rpc error details, well-known types).
type resolver struct {
	local TypeResolver
}

func (r resolver) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	if r.local != nil {
		if mt, err := r.local.FindMessageByName(name); err == nil || !errors.Is(err, protoregistry.NotFound) {
			return mt, err
		}
	}
	return protoregistry.GlobalTypes.FindMessageByName(name)
}

func (r resolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if r.local != nil {
		if mt, err := r.local.FindMessageByURL(url); err == nil || !errors.Is(err, protoregistry.NotFound) {
			return mt, err
		}
	}
	return protoregistry.GlobalTypes.FindMessageByURL(url)
}

func (r resolver) FindExtensionByName(field protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if r.local != nil {
		if xt, err := r.local.FindExtensionByName(field); err == nil || !errors.Is(err, protoregistry.NotFound) {
			return xt, err
		}
	}
	return protoregistry.GlobalTypes.FindExtensionByName(field)
}

func (r resolver) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if r.local != nil {
		if xt, err := r.local.FindExtensionByNumber(message, field); err == nil || !errors.Is(err, protoregistry.NotFound) {
			return xt, err
		}
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
}
