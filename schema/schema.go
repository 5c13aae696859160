package schema

import (
	"github.com/vektah/gqlparser/v2/ast"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The scalars the schema declares besides GraphQL's built-in ones. Their formats are described in
// the package documentation and in the SDL itself.
const (
	ScalarUInt32   = "UInt32"
	ScalarInt64    = "Int64"
	ScalarUInt64   = "UInt64"
	ScalarBytes    = "Bytes"
	ScalarDateTime = "DateTime"
	ScalarDuration = "Duration"
	ScalarJSON     = "JSON"
)

// PlaceholderField is the Query field the schema declares when no method is a query, because GraphQL
// requires a Query type with at least one field. It has no RootField; it always resolves to null.
const PlaceholderField = "_empty"

// Schema is the GraphQL schema of a set of services and the plan for executing it: which method
// each root field calls, and how each GraphQL field maps to a protobuf field, a link or a scalar
// conversion. It is immutable and safe for concurrent use.
type Schema struct {
	sdl  string
	ast  *ast.Schema
	root map[string]*RootField // root field names are unique across the operation types
	ops  [3][]*RootField       // query, mutation, subscription, in SDL order

	objects     map[string]*Object // the first definition of each name
	inputs      map[string]*Input
	enums       map[string]*Enum
	objectsByMD map[protoreflect.MessageDescriptor]*Object
	inputsByMD  map[protoreflect.MessageDescriptor]*Input
}

// SDL returns the schema in GraphQL's schema definition language: root types first, then every
// other type sorted by name; fields in protobuf declaration order. The same services and options
// always give the same text.
func (s *Schema) SDL() string { return s.sdl }

// AST returns the schema as gqlparser loaded it from the SDL, with the prelude and introspection
// fields, ready for gqlgen's executor and gqlparser's query validation.
func (s *Schema) AST() *ast.Schema { return s.ast }

// RootField returns the root field name of operation type op (ast.Query, ast.Mutation or
// ast.Subscription), or nil when there is none.
func (s *Schema) RootField(op ast.Operation, name string) *RootField {
	if f := s.root[name]; f != nil && f.Operation == op {
		return f
	}
	return nil
}

// RootFields returns the root fields of operation type op in SDL order. The caller must not modify
// the slice.
func (s *Schema) RootFields(op ast.Operation) []*RootField {
	if i := opIndex(op); i >= 0 {
		return s.ops[i]
	}
	return nil
}

// ObjectType returns the output object type name, or nil.
//
// When registrations bring their own copies of a shared file (each its own
// shop/common/v1/money.proto), one GraphQL type has one Object per copy, each mapping the fields of
// its own descriptors: ObjectType returns the first. To read a message, follow RootField.Result and
// Field.Object from the method that produced it, or use ObjectOf with the message's descriptor; both
// give field descriptors that belong to the message at hand.
func (s *Schema) ObjectType(name string) *Object { return s.objects[name] }

// ObjectOf returns the object type of the message descriptor md, or nil when the schema has none
// for it (it is not reachable from a root field, or it maps to a scalar).
func (s *Schema) ObjectOf(md protoreflect.MessageDescriptor) *Object { return s.objectsByMD[md] }

// InputType returns the input object type name, or nil. As for ObjectType, when registrations
// bring their own copies of a file, the first copy's Input is returned; InputOf and Field.Input give
// the one matching a descriptor.
func (s *Schema) InputType(name string) *Input { return s.inputs[name] }

// InputOf returns the input object type of the message descriptor md, or nil.
func (s *Schema) InputOf(md protoreflect.MessageDescriptor) *Input { return s.inputsByMD[md] }

// Enum returns the enum type name, or nil.
func (s *Schema) Enum(name string) *Enum { return s.enums[name] }

// RootField is a field of Query, Mutation or Subscription: a call of one method.
type RootField struct {
	// Operation is ast.Query or ast.Mutation for a unary method, ast.Subscription for a
	// server-streaming one.
	Operation ast.Operation
	// Name is the field's name: the method's name in lowerCamel unless an override names it.
	Name string
	// Method is the method called.
	Method protoreflect.MethodDescriptor
	// Path is the method's gRPC path, "/package.Service/Method".
	Path string
	// Args maps the field's arguments to the fields of the request message (Args.Message). Its
	// Name is empty: arguments are not an input type.
	Args *Input
	// Result is how the response message (for a subscription: each message of the stream) maps
	// to the field's value. Root fields are nullable.
	Result Value
}

// Object is a GraphQL object type made from a protobuf message.
type Object struct {
	Name    string
	Message protoreflect.MessageDescriptor
	// Fields are in SDL order: the message's fields in declaration order (less INPUT_ONLY ones),
	// then its links in declaration order.
	Fields []*Field
	byName map[string]*Field
}

// Field returns the field name, or nil.
func (o *Object) Field(name string) *Field { return o.byName[name] }

// Input is a GraphQL input object type made from a protobuf message, or the arguments of a root
// field made from its request message.
type Input struct {
	// Name is the input type's name ("UserInput"); empty for root field arguments.
	Name    string
	Message protoreflect.MessageDescriptor
	// Fields are the message's fields in declaration order, less OUTPUT_ONLY ones.
	Fields []*Field
	// Oneofs are the message's oneofs that have fields here. GraphQL cannot say that at most one
	// of a oneof's fields may be set; the executor must check it (the descriptions say it).
	Oneofs []Oneof
	byName map[string]*Field
}

// Field returns the field (or argument) name, or nil.
func (in *Input) Field(name string) *Field { return in.byName[name] }

// Oneof is a protobuf oneof as it appears in an input: at most one of Fields may be set (non-null).
type Oneof struct {
	Desc protoreflect.OneofDescriptor
	// Fields are the GraphQL names of the oneof's members, in declaration order.
	Fields []string
}

// Field is a field of an object or input type, or an argument: a protobuf field, or a link.
type Field struct {
	// Name is the GraphQL name: the protobuf field's JSON name (its proto name when another field
	// of its message has the same JSON name), or the link's field name. The executor reads and
	// writes fields by it.
	Name string
	// Desc is the protobuf field; nil for a link.
	Desc protoreflect.FieldDescriptor
	// Value says how the field's values convert.
	Value
	// Oneof is the (non-synthetic) oneof the field belongs to, or nil.
	Oneof protoreflect.OneofDescriptor
	// Link is set for a field added by a link: its value comes from calling Link.Method.
	Link *LinkCall

	nonNull bool
}

// NonNull reports whether the field's GraphQL type is non-null (see the SDL). For an argument or
// an input field it means a value is required and null refused: gqlparser checks literals and
// variables' values, but a nullable variable with a default may stand where a non-null one is
// expected, and be given null, which the executor must then refuse.
func (f *Field) NonNull() bool { return f.nonNull }

// Value says how values of one protobuf type convert to values of one GraphQL type and back.
type Value struct {
	Kind Kind
	// Type is the GraphQL named type: a built-in or custom scalar, an object, input or enum type.
	// For KindFieldMask it is "String" and the GraphQL type is a list of strings.
	Type string
	// List is set for a repeated field (not a map): the GraphQL type is a list of Type. For a link
	// with a result field it says whether that field is repeated.
	List bool
	// Wrapper is set when the protobuf value is a google.protobuf wrapper message (StringValue,
	// Int64Value, ...) around a value of Kind, in its field number 1. Unset wrapper is null.
	Wrapper bool
	// Object is the object type of a KindMessage output value.
	Object *Object
	// Input is the input type of a KindMessage input value.
	Input *Input
	// Enum is the enum type of a KindEnum value.
	Enum *Enum
}

// Kind is how a protobuf value maps to a GraphQL value.
type Kind uint8

// The kinds of values. Each comment gives the protobuf types and the GraphQL type.
const (
	KindInvalid   Kind = iota
	KindBool           // bool: Boolean
	KindInt32          // int32, sint32, sfixed32: Int
	KindUInt32         // uint32, fixed32: UInt32
	KindInt64          // int64, sint64, sfixed64: Int64
	KindUInt64         // uint64, fixed64: UInt64
	KindFloat          // float, double: Float
	KindString         // string: String
	KindBytes          // bytes: Bytes
	KindEnum           // enum: the Enum's type, by value name
	KindMessage        // message: Object on output, Input on input
	KindEmpty          // google.protobuf.Empty, or a message with no fields in that direction: Boolean, true when set
	KindTimestamp      // google.protobuf.Timestamp: DateTime
	KindDuration       // google.protobuf.Duration: Duration
	KindFieldMask      // google.protobuf.FieldMask: [String!] of paths
	KindJSON           // google.protobuf.Struct, Value, ListValue, Any: JSON, in protobuf's JSON form
	KindMap            // a map field: JSON object, in protobuf's JSON form
)

var kindNames = [...]string{
	KindInvalid:   "invalid",
	KindBool:      "bool",
	KindInt32:     "int32",
	KindUInt32:    "uint32",
	KindInt64:     "int64",
	KindUInt64:    "uint64",
	KindFloat:     "float",
	KindString:    "string",
	KindBytes:     "bytes",
	KindEnum:      "enum",
	KindMessage:   "message",
	KindEmpty:     "empty",
	KindTimestamp: "timestamp",
	KindDuration:  "duration",
	KindFieldMask: "fieldmask",
	KindJSON:      "json",
	KindMap:       "map",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// Enum is a GraphQL enum type made from a protobuf enum: its values are the protobuf value names,
// the zero value (..._UNSPECIFIED) included.
type Enum struct {
	Name string
	Desc protoreflect.EnumDescriptor
	// Values are in declaration order, aliases included.
	Values   []EnumValue
	byName   map[string]protoreflect.EnumNumber
	byNumber map[protoreflect.EnumNumber]string
}

// EnumValue is one value of an enum.
type EnumValue struct {
	Name   string
	Number protoreflect.EnumNumber
}

// Number returns the number of the value name.
func (e *Enum) Number(name string) (protoreflect.EnumNumber, bool) {
	n, ok := e.byName[name]
	return n, ok
}

// ValueName returns the GraphQL value of number n: the first value declared with it. It reports
// false for a number the enum does not declare (an open enum may hold one); GraphQL has no way to
// say it.
func (e *Enum) ValueName(n protoreflect.EnumNumber) (string, bool) {
	name, ok := e.byNumber[n]
	return name, ok
}

// LinkCall is how a link field resolves: by calling Method with request fields taken from the
// parent message, or, when Batch is set, by collecting the calls into calls of the batch method.
type LinkCall struct {
	// Method is the method called; Path its gRPC path.
	Method protoreflect.MethodDescriptor
	Path   string
	// Args set request fields from the parent, sorted by request field name. With Batch there is
	// exactly one: the key.
	Args []LinkArg
	// ResultField, when set, is the field of the response the link returns instead of the response.
	ResultField protoreflect.FieldDescriptor
	// Batch is set when calls are collected into a batch method.
	Batch *BatchCall
}

// LinkArg sets one request field from a field path of the parent message.
type LinkArg struct {
	// Request is the field of Method's request message.
	Request protoreflect.FieldDescriptor
	// Source is the path in the parent message: all but the last are singular message fields, the
	// last a singular field of Request's type. An unset message on the way yields its zero value.
	Source []protoreflect.FieldDescriptor
}

// BatchCall is the batch method of a link: it takes the keys in the repeated RequestField and
// answers with results in the repeated ResponseField; each result's KeyField holds its key. The
// results are of the link method's response type. A key without a result fails its field with
// NOT_FOUND, as the link's method would.
type BatchCall struct {
	Method        protoreflect.MethodDescriptor
	Path          string
	RequestField  protoreflect.FieldDescriptor
	ResponseField protoreflect.FieldDescriptor
	KeyField      protoreflect.FieldDescriptor
}

func opIndex(op ast.Operation) int {
	switch op {
	case ast.Query:
		return 0
	case ast.Mutation:
		return 1
	case ast.Subscription:
		return 2
	}
	return -1
}
