package transcoder

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// oaSchema is a JSON Schema (2020-12, the dialect of OpenAPI 3.1). Fields are in the order they
// read best in the document; maps are written with sorted keys.
type oaSchema struct {
	Ref                  string               `json:"$ref,omitempty"`
	Type                 any                  `json:"type,omitempty"` // a type name, or a list of them
	Format               string               `json:"format,omitempty"`
	Pattern              string               `json:"pattern,omitempty"`
	Description          string               `json:"description,omitempty"`
	Default              any                  `json:"default,omitempty"` // a proto2 [default = ...], as protojson writes it
	Enum                 []string             `json:"enum,omitempty"`
	AnyOf                []*oaSchema          `json:"anyOf,omitempty"`
	Items                *oaSchema            `json:"items,omitempty"`
	Properties           map[string]*oaSchema `json:"properties,omitempty"`
	AdditionalProperties *oaSchema            `json:"additionalProperties,omitempty"`
	PropertyNames        *oaSchema            `json:"propertyNames,omitempty"`
	Required             []string             `json:"required,omitempty"`
	ReadOnly             bool                 `json:"readOnly,omitempty"`
	WriteOnly            bool                 `json:"writeOnly,omitempty"`
	Deprecated           bool                 `json:"deprecated,omitempty"`
	Oneof                string               `json:"x-oneof,omitempty"` // the oneof a field is a member of
}

// Names of the schemas the document always carries.
const (
	oaStatusName = "google.rpc.Status"
	oaAnyName    = "google.protobuf.Any"
)

// oaDurationPattern is protojson's form of a google.protobuf.Duration: seconds with up to nine
// fractional digits and an "s".
const oaDurationPattern = `^-?[0-9]+(\.[0-9]{1,9})?s$`

func oaRef(name string) *oaSchema { return &oaSchema{Ref: "#/components/schemas/" + name} }

// oaSchemaSet collects the component schemas of a document: a message or enum is added the first time
// a field refers to it and built when the set is drained, so recursive types terminate.
type oaSchemaSet struct {
	schemas map[string]*oaSchema
	pending []oaPending
	// nullUnset: an unset field with explicit presence is written as null (OpenAPIOptions.EmitUnpopulated).
	nullUnset bool
}

func newOASchemaSet(nullUnset bool) *oaSchemaSet {
	s := &oaSchemaSet{schemas: make(map[string]*oaSchema), nullUnset: nullUnset}
	s.schemas[oaStatusName] = oaStatus()
	s.schemas[oaAnyName] = oaAny()
	return s
}

// oaPending is a schema queued to be built: of a message or enum, or the partial form of a message.
type oaPending struct {
	d       protoreflect.Descriptor
	partial bool
}

// oaPartialSuffix names the partial form of a message's schema (oaSchemaSet.partial) after the
// message: "-" is in no proto name, so the name is no other message's.
const oaPartialSuffix = "-partial"

// oaPartialDoc describes the partial form of a message's schema.
const oaPartialDoc = "Partial: any of the fields may be left out, none is required, in the messages it nests too."

// ref returns a reference to the component schema of a message or enum, queueing it.
func (s *oaSchemaSet) ref(d protoreflect.Descriptor) *oaSchema {
	return s.queue(oaPending{d: d}, string(d.FullName()))
}

// partial returns a reference to the partial form of a message's schema, queueing it: the message
// with no field required, the messages its fields nest (oaNestsFields) partial in turn. It is the
// body of an update whose update_mask the front derives from the body's JSON keys, nested ones by
// their path, so that any of the fields, at any depth, makes a body.
func (s *oaSchemaSet) partial(md protoreflect.MessageDescriptor) *oaSchema {
	return s.queue(oaPending{d: md, partial: true}, string(md.FullName())+oaPartialSuffix)
}

func (s *oaSchemaSet) queue(p oaPending, name string) *oaSchema {
	if _, ok := s.schemas[name]; !ok {
		s.schemas[name] = nil // claimed; built by drain
		s.pending = append(s.pending, p)
	}
	return oaRef(name)
}

// drain builds every queued schema, and those they refer to in turn.
func (s *oaSchemaSet) drain() {
	for len(s.pending) > 0 {
		p := s.pending[len(s.pending)-1]
		s.pending = s.pending[:len(s.pending)-1]
		switch d := p.d.(type) {
		case protoreflect.MessageDescriptor:
			if p.partial {
				o := s.objectOf(d, nil, true)
				o.Description = oaJoin(o.Description, oaPartialDoc)
				s.schemas[string(d.FullName())+oaPartialSuffix] = o
			} else {
				s.schemas[string(d.FullName())] = s.object(d, nil)
			}
		case protoreflect.EnumDescriptor:
			s.schemas[string(d.FullName())] = oaEnum(d)
		}
	}
}

// object is the schema of a message as protojson writes it, without the fields skip names.
func (s *oaSchemaSet) object(md protoreflect.MessageDescriptor, skip map[protoreflect.Name]bool) *oaSchema {
	return s.objectOf(md, skip, false)
}

// objectOf is object, or with partial its partial form (see partial).
func (s *oaSchemaSet) objectOf(md protoreflect.MessageDescriptor, skip map[protoreflect.Name]bool, partial bool) *oaSchema {
	o := &oaSchema{Type: "object", Description: oaComments(md)}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if skip[fd.Name()] {
			continue
		}
		if o.Properties == nil {
			o.Properties = make(map[string]*oaSchema, fields.Len())
		}
		f := s.fieldOf(fd, partial)
		if s.nullUnset && oaNullWhenUnset(fd) {
			oaAdmitNull(f)
		}
		o.Properties[fd.JSONName()] = f
		if oaRequired(fd) && !partial {
			o.Required = append(o.Required, fd.JSONName())
		}
	}
	return o
}

// field is the schema of a field's JSON value, annotated from its comments, options and
// field_behavior. The schema is new: callers may change it.
func (s *oaSchemaSet) field(fd protoreflect.FieldDescriptor) *oaSchema {
	return s.fieldOf(fd, false)
}

// fieldOf is field, with partial a singular message field's value in its partial form, where that
// differs from the message's own schema (oaRequiresAny).
func (s *oaSchemaSet) fieldOf(fd protoreflect.FieldDescriptor, partial bool) *oaSchema {
	var f *oaSchema
	switch {
	case fd.IsMap():
		f = &oaSchema{Type: "object", AdditionalProperties: s.value(fd.MapValue()), PropertyNames: oaMapKey(fd.MapKey())}
	case fd.IsList():
		f = &oaSchema{Type: "array", Items: s.value(fd)}
	case partial && oaNestsFields(fd) && oaRequiresAny(fd.Message(), make(map[protoreflect.FullName]bool)):
		f = s.partial(fd.Message())
	default:
		f = s.value(fd)
	}
	if doc := oaFieldDoc(fd); doc != "" {
		f.Description = doc
	}
	for _, b := range FieldBehaviors(fd) {
		switch b {
		case annotations.FieldBehavior_OUTPUT_ONLY:
			f.ReadOnly = true
		case annotations.FieldBehavior_INPUT_ONLY:
			f.WriteOnly = true
		}
	}
	f.Deprecated = oaDeprecated(fd)
	if fd.HasDefault() && !fd.IsList() && !fd.IsMap() {
		f.Default = oaDefault(fd)
	}
	if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() {
		f.Oneof = string(o.Name())
	}
	return f
}

// oaNestsFields reports whether fd is a singular message written as the JSON object of its fields
// (no well-known type, nor Any): one whose fields a field mask derived from a JSON body names by
// their paths. The paths stop at lists, maps and other messages, which are set whole.
func oaNestsFields(fd protoreflect.FieldDescriptor) bool {
	md := fd.Message()
	return md != nil && !fd.IsList() && !fd.IsMap() && oaWellKnown(md.FullName()) == nil &&
		md.FullName() != oaAnyName && md.FullName() != oaStatusName
}

// oaRequiresAny reports whether md, or a message its fields nest (oaNestsFields), has a required
// field: whether its partial form differs from its schema. seen holds the messages on the way.
func oaRequiresAny(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if oaRequired(fd) || oaNestsFields(fd) && oaRequiresAny(fd.Message(), seen) {
			return true
		}
	}
	return false
}

// oaDefault is a field's declared default value ([default = ...] in proto2) as protojson writes the
// value: what a client reads for the field when it is unset, and what the front renders for it where
// response_body names it.
func oaDefault(fd protoreflect.FieldDescriptor) any {
	v := fd.Default()
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes())
	case protoreflect.EnumKind:
		if ev := fd.DefaultEnumValue(); ev != nil {
			return string(ev.Name())
		}
		return int64(v.Enum())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return v.Int()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return v.Uint()
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.FormatInt(v.Int(), 10)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.FormatUint(v.Uint(), 10)
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			return "NaN"
		case math.IsInf(f, 1):
			return "Infinity"
		case math.IsInf(f, -1):
			return "-Infinity"
		}
		bits := 64
		if fd.Kind() == protoreflect.FloatKind {
			bits = 32
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, bits))
	}
	return nil // messages and groups have no default
}

// oaNullWhenUnset reports whether protojson's EmitUnpopulated writes fd as null when it is unset: a
// field with explicit presence that is no member of a oneof (it leaves those out, proto3 optional
// fields included).
func oaNullWhenUnset(fd protoreflect.FieldDescriptor) bool {
	return fd.HasPresence() && fd.ContainingOneof() == nil && !fd.IsList() && !fd.IsMap()
}

// oaAdmitNull makes a field's schema admit null as well, as the nullable wrappers' schemas do: a type
// gains "null", a reference becomes one of it or null, an anyOf (a float's) gains a null branch.
// Annotations stay where they are. A list of types (a wrapper's) has "null" already, and so does a
// schema without type, reference or anyOf (any JSON value).
func oaAdmitNull(f *oaSchema) {
	switch t := f.Type.(type) {
	case string:
		if t != "null" {
			f.Type = []string{t, "null"}
		}
	case nil:
		switch {
		case f.Ref != "":
			f.AnyOf = []*oaSchema{{Ref: f.Ref}, {Type: "null"}}
			f.Ref = ""
		case f.AnyOf != nil && !slices.ContainsFunc(f.AnyOf, func(b *oaSchema) bool { return b.Type == "null" }):
			f.AnyOf = append(f.AnyOf, &oaSchema{Type: "null"})
		}
	}
}

// value is the schema of one value of a field: an element of a list, the value of a map, or the
// field itself.
func (s *oaSchemaSet) value(fd protoreflect.FieldDescriptor) *oaSchema {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return &oaSchema{Type: "boolean"}
	case protoreflect.StringKind:
		return &oaSchema{Type: "string"}
	case protoreflect.BytesKind:
		return &oaSchema{Type: "string", Format: "byte"}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return &oaSchema{Type: "integer", Format: "int32"}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return &oaSchema{Type: "integer", Format: "uint32"}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return &oaSchema{Type: "string", Format: "int64"}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return &oaSchema{Type: "string", Format: "uint64"}
	case protoreflect.FloatKind:
		return oaFloat("float")
	case protoreflect.DoubleKind:
		return oaFloat("double")
	case protoreflect.EnumKind:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			return &oaSchema{Type: "null"}
		}
		return s.ref(fd.Enum())
	default: // messages and groups
		md := fd.Message()
		if wk := oaWellKnown(md.FullName()); wk != nil {
			return wk
		}
		switch name := string(md.FullName()); name {
		case oaAnyName, oaStatusName:
			return oaRef(name)
		}
		return s.ref(md)
	}
}

// oaWellKnown is the schema of a well-known type that protojson writes as a JSON primitive or
// a free-form value, or nil for any other message.
func oaWellKnown(name protoreflect.FullName) *oaSchema {
	nullable := func(typ, format string) *oaSchema { return &oaSchema{Type: []string{typ, "null"}, Format: format} }
	switch name {
	case "google.protobuf.Timestamp":
		return &oaSchema{Type: "string", Format: "date-time"}
	case "google.protobuf.Duration":
		return &oaSchema{Type: "string", Pattern: oaDurationPattern,
			Description: `A duration in seconds with up to nine fractional digits, e.g. "1.5s".`}
	case "google.protobuf.FieldMask":
		return &oaSchema{Type: "string", Format: "field-mask",
			Description: `Field paths in lowerCamel, separated by commas, e.g. "displayName,address.city".`}
	case "google.protobuf.Struct":
		return &oaSchema{Type: "object"}
	case "google.protobuf.Value":
		return &oaSchema{} // any JSON value
	case "google.protobuf.ListValue":
		return &oaSchema{Type: "array"}
	case "google.protobuf.DoubleValue":
		return oaNullableFloat("double")
	case "google.protobuf.FloatValue":
		return oaNullableFloat("float")
	case "google.protobuf.Int64Value":
		return nullable("string", "int64")
	case "google.protobuf.UInt64Value":
		return nullable("string", "uint64")
	case "google.protobuf.Int32Value":
		return nullable("integer", "int32")
	case "google.protobuf.UInt32Value":
		return nullable("integer", "uint32")
	case "google.protobuf.BoolValue":
		return nullable("boolean", "")
	case "google.protobuf.StringValue":
		return nullable("string", "")
	case "google.protobuf.BytesValue":
		return nullable("string", "byte")
	}
	return nil
}

// oaFloatNames are the strings protojson writes, and the front reads, for the float and double
// values JSON has no number for.
var oaFloatNames = []string{"NaN", "Infinity", "-Infinity"}

// oaFloat is the schema of a float or double: a number, or one of oaFloatNames. Like an open enum's,
// it is an anyOf of the two forms, so a value and a declared default ("Infinity") of either fit.
func oaFloat(format string) *oaSchema {
	return &oaSchema{AnyOf: []*oaSchema{{Type: "number", Format: format}, {Type: "string", Enum: oaFloatNames}}}
}

// oaNullableFloat is the schema of a FloatValue or DoubleValue: a float, or null.
func oaNullableFloat(format string) *oaSchema {
	f := oaFloat(format)
	f.AnyOf = append(f.AnyOf, &oaSchema{Type: "null"})
	return f
}

// oaQueryable reports whether a message field can be written as one query parameter: a well-known
// type with a primitive JSON form (a wrapper of a float is one of two).
func oaQueryable(md protoreflect.MessageDescriptor) bool {
	wk := oaWellKnown(md.FullName())
	return wk != nil && (wk.Type != nil || wk.AnyOf != nil) && wk.Type != "object" && wk.Type != "array"
}

// oaMapKey constrains the property names of a map by its key type; JSON keys are strings.
func oaMapKey(key protoreflect.FieldDescriptor) *oaSchema {
	switch key.Kind() {
	case protoreflect.BoolKind:
		return &oaSchema{Enum: []string{"true", "false"}}
	case protoreflect.StringKind:
		return nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return &oaSchema{Pattern: "^[0-9]+$"}
	default:
		return &oaSchema{Pattern: "^-?[0-9]+$"}
	}
}

// oaEnumNumberDoc explains the numbers an open enum's schema admits.
const oaEnumNumberDoc = "A value by its number: how responses carry a value newer than the registered descriptor, " +
	"which has no name for it. Requests may give any value by number."

// oaEnum is the schema of an enum as protojson writes it: its values by name. An open enum (proto3)
// holds any number, and a value the registered descriptor does not know, newer than it, is written
// as its number: the schema admits those too. A closed enum (proto2) holds only its values.
func oaEnum(ed protoreflect.EnumDescriptor) *oaSchema {
	values := ed.Values()
	names := &oaSchema{Type: "string", Enum: make([]string, 0, values.Len())}
	var doc []string
	for i := range values.Len() {
		v := values.Get(i)
		names.Enum = append(names.Enum, string(v.Name()))
		if c := oaComments(v); c != "" {
			doc = append(doc, "- `"+string(v.Name())+"`: "+strings.ReplaceAll(c, "\n", " "))
		}
	}
	e := names
	if !ed.IsClosed() {
		e = &oaSchema{AnyOf: []*oaSchema{names, {Type: "integer", Format: "int32", Description: oaEnumNumberDoc}}}
	}
	e.Description = oaComments(ed)
	if len(doc) > 0 {
		e.Description = oaJoin(e.Description, strings.Join(doc, "\n"))
	}
	return e
}

func oaStatus() *oaSchema {
	return &oaSchema{
		Type:        "object",
		Description: "An error: a gRPC status code, a message for developers and details.",
		Properties: map[string]*oaSchema{
			"code":    {Type: "integer", Format: "int32", Description: "The gRPC status code, e.g. 5 for NOT_FOUND."},
			"message": {Type: "string", Description: "What went wrong, in English, for developers."},
			"details": {Type: "array", Items: oaRef(oaAnyName), Description: "Machine-readable details of the error."},
		},
	}
}

func oaAny() *oaSchema {
	return &oaSchema{
		Type: "object",
		Description: "A message of any type: its JSON fields and an `@type` naming the type " +
			"(type.googleapis.com/full.Name); a type with a JSON form of its own carries it in `value`.",
		Properties: map[string]*oaSchema{"@type": {Type: "string"}},
		Required:   []string{"@type"},
	}
}

// oaFieldDoc is the description of a field: its comments, and for a member of a oneof, which other
// fields it excludes.
func oaFieldDoc(fd protoreflect.FieldDescriptor) string {
	doc := oaComments(fd)
	oneof := fd.ContainingOneof()
	if oneof == nil || oneof.IsSynthetic() {
		return doc
	}
	fields := oneof.Fields()
	names := make([]string, fields.Len())
	for i := range fields.Len() {
		names[i] = "`" + fields.Get(i).JSONName() + "`"
	}
	return oaJoin(doc, "Member of oneof `"+string(oneof.Name())+"`: at most one of "+strings.Join(names, ", ")+" is set.")
}

func oaRequired(fd protoreflect.FieldDescriptor) bool {
	return fd.Cardinality() == protoreflect.Required || slices.Contains(FieldBehaviors(fd), annotations.FieldBehavior_REQUIRED)
}

// oaDeprecated reports the deprecated option of a field, method or service.
func oaDeprecated(d protoreflect.Descriptor) bool {
	type deprecatable interface{ GetDeprecated() bool }
	o, ok := d.Options().(deprecatable)
	return ok && o.GetDeprecated()
}

// oaComments returns the comments attached to a declaration in its file's source info, cleaned:
// the leading comment (the trailing one when there is none), dedented, without "(-- --)" internal
// notes. It returns "" when the descriptors carry no source info.
func oaComments(d protoreflect.Descriptor) string {
	f := d.ParentFile()
	if f == nil {
		return ""
	}
	loc := f.SourceLocations().ByDescriptor(d)
	c := loc.LeadingComments
	if strings.TrimSpace(c) == "" {
		c = loc.TrailingComments
	}
	return oaCleanComment(c)
}

func oaCleanComment(c string) string {
	if strings.TrimSpace(c) == "" {
		return ""
	}
	// Internal notes, per the API linter's convention: (-- ... --).
	for {
		i := strings.Index(c, "(--")
		if i < 0 {
			break
		}
		j := strings.Index(c[i:], "--)")
		if j < 0 {
			c = c[:i]
			break
		}
		c = c[:i] + c[i+j+3:]
	}
	lines := strings.Split(c, "\n")
	indent := -1
	for i, l := range lines {
		l = strings.TrimRight(l, " \t\r")
		lines[i] = l
		if l == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " \t"))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	var b strings.Builder
	blank := false
	for _, l := range lines {
		if l == "" {
			blank = b.Len() > 0
			continue
		}
		if blank {
			b.WriteString("\n\n")
		} else if b.Len() > 0 {
			b.WriteByte('\n')
		}
		blank = false
		b.WriteString(l[indent:])
	}
	return b.String()
}

// oaSplitSummary splits a comment into its first paragraph, on one line, and the rest.
func oaSplitSummary(doc string) (summary, rest string) {
	first, rest, _ := strings.Cut(doc, "\n\n")
	return strings.Join(strings.Fields(first), " "), strings.TrimSpace(rest)
}

func oaJoin(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "\n\n" + b
}
