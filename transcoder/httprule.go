package transcoder

import (
	"fmt"
	"slices"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// HTTPRules returns the google.api.http rule of a method followed by its additional_bindings, each
// without additional_bindings of its own (those of a binding are ignored, as the annotation's docs
// say). It returns nil for a method without the option, and an error when the option cannot be
// decoded or a binding has no HTTP method and path.
//
// It reads the option however the descriptor holds it: as a typed value, as a dynamic message
// (descriptors fresh from protocompile, where proto.GetExtension panics) or as unknown fields (a
// descriptor set decoded without the extension linked). The rules returned are copies.
func HTTPRules(m protoreflect.MethodDescriptor) ([]*annotations.HttpRule, error) {
	v, err := extensionOf(m.Options(), annotations.E_Http, func() proto.Message { return new(descriptorpb.MethodOptions) })
	if err != nil {
		return nil, fmt.Errorf("method %s: option google.api.http: %w", m.FullName(), err)
	}
	rule, _ := v.(*annotations.HttpRule)
	if rule == nil {
		return nil, nil
	}
	rules := make([]*annotations.HttpRule, 0, 1+len(rule.GetAdditionalBindings()))
	for i, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
		if r.GetPattern() == nil {
			if i == 0 {
				return nil, fmt.Errorf("method %s: option google.api.http: no HTTP method and path", m.FullName())
			}
			return nil, fmt.Errorf("method %s: option google.api.http: additional binding %d: no HTTP method and path", m.FullName(), i)
		}
		c := proto.CloneOf(r)
		c.AdditionalBindings = nil
		rules = append(rules, c)
	}
	return rules, nil
}

// FieldBehaviors returns the google.api.field_behavior values of a field (REQUIRED, OUTPUT_ONLY, ...),
// or nil when it has none or they cannot be decoded. Like HTTPRules, it reads the option however the
// descriptor holds it.
func FieldBehaviors(f protoreflect.FieldDescriptor) []annotations.FieldBehavior {
	v, err := extensionOf(f.Options(), annotations.E_FieldBehavior, func() proto.Message { return new(descriptorpb.FieldOptions) })
	if err != nil {
		return nil
	}
	behaviors, _ := v.([]annotations.FieldBehavior)
	return slices.Clone(behaviors)
}

// extensionOf returns the value of extension xt in an options message, or nil when it is not set.
// When the options hold the extension as a typed value it is read directly; when they hold it as a
// dynamic message or as unknown fields, the options are re-encoded and decoded into a fresh options
// message with the linked extension types.
func extensionOf(opts proto.Message, xt protoreflect.ExtensionType, fresh func() proto.Message) (any, error) {
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
