package transcoder

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/protogate/gateway/registry/protoopt"
)

// HTTPRules returns the google.api.http rule of a method followed by its additional_bindings, each
// without additional_bindings of its own. It returns nil for a method without the option, and an
// error when the option cannot be decoded, a binding has no HTTP method and path, or an additional
// binding has additional_bindings of its own: the annotation allows one level ("Nested bindings
// must not contain an additional_bindings field themselves"), and dropping the inner ones would
// leave routes the author wrote unserved.
//
// It reads the option however the descriptor holds it: as a typed value, as a dynamic message
// (descriptors fresh from protocompile, where proto.GetExtension panics) or as unknown fields (a
// descriptor set decoded without the extension linked). The rules returned are copies.
func HTTPRules(m protoreflect.MethodDescriptor) ([]*annotations.HttpRule, error) {
	v, err := protoopt.Extension(m.Options(), annotations.E_Http, func() proto.Message { return new(descriptorpb.MethodOptions) })
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
		if inner := r.GetAdditionalBindings(); i > 0 && len(inner) > 0 {
			method, path := RulePattern(r)
			innerMethod, innerPath := RulePattern(inner[0])
			return nil, fmt.Errorf("method %s: option google.api.http: additional binding %d (%s %s) has additional_bindings of its own (%s %s): only the method's rule may have them",
				m.FullName(), i, method, path, innerMethod, innerPath)
		}
		c := proto.CloneOf(r)
		c.AdditionalBindings = nil
		rules = append(rules, c)
	}
	return rules, nil
}

// RulePattern returns the HTTP method (upper-case) and path template of a rule, or empty strings
// when the rule has no pattern.
func RulePattern(rule *annotations.HttpRule) (method, path string) {
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return "GET", p.Get
	case *annotations.HttpRule_Put:
		return "PUT", p.Put
	case *annotations.HttpRule_Post:
		return "POST", p.Post
	case *annotations.HttpRule_Delete:
		return "DELETE", p.Delete
	case *annotations.HttpRule_Patch:
		return "PATCH", p.Patch
	case *annotations.HttpRule_Custom:
		return strings.ToUpper(p.Custom.GetKind()), p.Custom.GetPath()
	}
	return "", ""
}

// FieldBehaviors returns the google.api.field_behavior values of a field (REQUIRED, OUTPUT_ONLY, ...),
// or nil when it has none or they cannot be decoded. Like HTTPRules, it reads the option however the
// descriptor holds it.
func FieldBehaviors(f protoreflect.FieldDescriptor) []annotations.FieldBehavior {
	v, err := protoopt.Extension(f.Options(), annotations.E_FieldBehavior, func() proto.Message { return new(descriptorpb.FieldOptions) })
	if err != nil {
		return nil
	}
	behaviors, _ := v.([]annotations.FieldBehavior)
	return slices.Clone(behaviors)
}
