package schema

import (
	"maps"
	"slices"

	"github.com/vektah/gqlparser/v2/ast"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	optionsv1 "github.com/protogate/gateway/gen/gateway/options/v1"
	"github.com/protogate/gateway/registry/protoopt"
)

// The options Build reads from descriptors: the gateway's own (gateway/options/v1/options.proto) and
// the google.api ones the conventions use. Each is read however the descriptor holds it: as a typed
// value, as a dynamic message (descriptors fresh from protocompile, where proto.GetExtension
// panics) or as unknown fields (a descriptor set decoded without the extension linked).

func newMethodOptions() proto.Message  { return new(descriptorpb.MethodOptions) }
func newServiceOptions() proto.Message { return new(descriptorpb.ServiceOptions) }
func newMessageOptions() proto.Message { return new(descriptorpb.MessageOptions) }
func newFieldOptions() proto.Message   { return new(descriptorpb.FieldOptions) }

// methodOption returns a method's (gateway.options.v1.graphql) option, or nil.
func methodOption(m protoreflect.MethodDescriptor) (*optionsv1.GraphQLMethod, error) {
	v, err := protoopt.Extension(m.Options(), optionsv1.E_Graphql, newMethodOptions)
	o, _ := v.(*optionsv1.GraphQLMethod)
	return o, err
}

// serviceOption returns a service's (gateway.options.v1.graphql_service) option, or nil.
func serviceOption(s protoreflect.ServiceDescriptor) (*optionsv1.GraphQLService, error) {
	v, err := protoopt.Extension(s.Options(), optionsv1.E_GraphqlService, newServiceOptions)
	o, _ := v.(*optionsv1.GraphQLService)
	return o, err
}

// messageLinks returns the links a message declares with (gateway.options.v1.graphql_link).
func messageLinks(md protoreflect.MessageDescriptor) ([]Link, error) {
	v, err := protoopt.Extension(md.Options(), optionsv1.E_GraphqlLink, newMessageOptions)
	if err != nil {
		return nil, err
	}
	opts, _ := v.([]*optionsv1.GraphQLLink)
	links := make([]Link, 0, len(opts))
	for _, o := range opts {
		l := Link{
			OnType:      string(md.FullName()),
			Field:       o.GetField(),
			Method:      o.GetMethod(),
			Args:        maps.Clone(o.GetArgs()),
			ResultField: o.GetResultField(),
		}
		if b := o.GetBatch(); b != nil {
			l.Batch = &BatchLink{Method: b.GetMethod(), RequestField: b.GetRequestField(), ResponseField: b.GetResponseField(), KeyField: b.GetKeyField()}
		}
		links = append(links, l)
	}
	return links, nil
}

func operationOf(op optionsv1.Operation) ast.Operation {
	switch op {
	case optionsv1.Operation_OPERATION_QUERY:
		return ast.Query
	case optionsv1.Operation_OPERATION_MUTATION:
		return ast.Mutation
	}
	return ""
}

// hasGetBinding reports whether a method has a google.api.http binding with the GET verb, its
// additional bindings included.
func hasGetBinding(m protoreflect.MethodDescriptor) bool {
	v, _ := protoopt.Extension(m.Options(), annotations.E_Http, newMethodOptions)
	rule, _ := v.(*annotations.HttpRule)
	if rule == nil {
		return false
	}
	return rule.GetGet() != "" || slices.ContainsFunc(rule.GetAdditionalBindings(), func(r *annotations.HttpRule) bool { return r.GetGet() != "" })
}

// behaviors are the google.api.field_behavior values the schema acts on.
type behaviors uint8

const (
	behaviorRequired behaviors = 1 << iota
	behaviorOutputOnly
	behaviorInputOnly
)

func fieldBehaviors(f protoreflect.FieldDescriptor) behaviors {
	v, _ := protoopt.Extension(f.Options(), annotations.E_FieldBehavior, newFieldOptions)
	list, _ := v.([]annotations.FieldBehavior)
	var b behaviors
	for _, fb := range list {
		switch fb {
		case annotations.FieldBehavior_REQUIRED:
			b |= behaviorRequired
		case annotations.FieldBehavior_OUTPUT_ONLY:
			b |= behaviorOutputOnly
		case annotations.FieldBehavior_INPUT_ONLY:
			b |= behaviorInputOnly
		}
	}
	return b
}

// deprecated reports whether a field, method or enum value has the option deprecated = true.
func deprecated(d protoreflect.Descriptor) bool {
	switch o := d.Options().(type) {
	case *descriptorpb.FieldOptions:
		return o.GetDeprecated()
	case *descriptorpb.MethodOptions:
		return o.GetDeprecated()
	case *descriptorpb.EnumValueOptions:
		return o.GetDeprecated()
	}
	return false
}
