// Package protoopt reads custom options (google.api.http, field_behavior, the gateway's own) from
// descriptors however they hold them: typed, as dynamic messages (descriptors fresh from protocompile,
// where proto.GetExtension panics) or as unknown fields (a descriptor set decoded without the
// extension linked).
package protoopt

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Extension returns the value of extension xt in an options message, or nil when it is not set.
// When the options hold the extension as a typed value it is read directly; when they hold it as a
// dynamic message or as unknown fields, the options are re-encoded and decoded into a fresh options
// message with the linked extension types.
func Extension(opts proto.Message, xt protoreflect.ExtensionType, fresh func() proto.Message) (any, error) {
	if opts == nil {
		return nil, nil
	}
	m := opts.ProtoReflect()
	if !m.IsValid() {
		return nil, nil
	}
	num := xt.TypeDescriptor().Number()
	typed, foreign := false, false
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if !fd.IsExtension() || fd.Number() != num {
			return true
		}
		xd, ok := fd.(protoreflect.ExtensionTypeDescriptor)
		typed = ok && xd.Type() == xt
		foreign = !typed
		return false
	})
	switch {
	case typed:
		return proto.GetExtension(opts, xt), nil
	case !foreign && !hasUnknownField(m.GetUnknown(), num):
		return nil, nil
	}
	data, err := proto.MarshalOptions{AllowPartial: true}.Marshal(opts)
	if err != nil {
		return nil, err
	}
	decoded := fresh()
	if err := (proto.UnmarshalOptions{AllowPartial: true, Resolver: protoregistry.GlobalTypes}).Unmarshal(data, decoded); err != nil {
		return nil, err
	}
	if !proto.HasExtension(decoded, xt) {
		return nil, nil
	}
	return proto.GetExtension(decoded, xt), nil
}

// hasUnknownField reports whether raw unknown fields hold field num.
func hasUnknownField(raw protoreflect.RawFields, num protoreflect.FieldNumber) bool {
	for len(raw) > 0 {
		n, _, length := protowire.ConsumeField(raw)
		if length < 0 {
			return false
		}
		if n == num {
			return true
		}
		raw = raw[length:]
	}
	return false
}
