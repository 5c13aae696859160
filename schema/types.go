package schema

import (
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// value is how a field's values map, in direction dir.
func (b *builder) value(fd protoreflect.FieldDescriptor, dir direction) Value {
	if fd.IsMap() {
		b.scalars[ScalarJSON] = true
		return Value{Kind: KindMap, Type: ScalarJSON}
	}
	v := b.single(fd.Kind(), fd.Enum(), fd.Message(), dir)
	v.List = fd.IsList()
	return v
}

func (b *builder) single(k protoreflect.Kind, ed protoreflect.EnumDescriptor, md protoreflect.MessageDescriptor, dir direction) Value {
	switch k {
	case protoreflect.BoolKind:
		return Value{Kind: KindBool, Type: "Boolean"}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return Value{Kind: KindInt32, Type: "Int"}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		b.scalars[ScalarUInt32] = true
		return Value{Kind: KindUInt32, Type: ScalarUInt32}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		b.scalars[ScalarInt64] = true
		return Value{Kind: KindInt64, Type: ScalarInt64}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		b.scalars[ScalarUInt64] = true
		return Value{Kind: KindUInt64, Type: ScalarUInt64}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return Value{Kind: KindFloat, Type: "Float"}
	case protoreflect.StringKind:
		return Value{Kind: KindString, Type: "String"}
	case protoreflect.BytesKind:
		b.scalars[ScalarBytes] = true
		return Value{Kind: KindBytes, Type: ScalarBytes}
	case protoreflect.EnumKind:
		e := b.enum(ed)
		return Value{Kind: KindEnum, Type: e.Name, Enum: e}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return b.message(md, dir)
	}
	return Value{}
}

// wellKnown are the google.protobuf messages that map to scalars.
var wellKnown = map[protoreflect.FullName]Value{
	"google.protobuf.Timestamp": {Kind: KindTimestamp, Type: ScalarDateTime},
	"google.protobuf.Duration":  {Kind: KindDuration, Type: ScalarDuration},
	"google.protobuf.FieldMask": {Kind: KindFieldMask, Type: "String"},
	"google.protobuf.Struct":    {Kind: KindJSON, Type: ScalarJSON},
	"google.protobuf.Value":     {Kind: KindJSON, Type: ScalarJSON},
	"google.protobuf.ListValue": {Kind: KindJSON, Type: ScalarJSON},
	"google.protobuf.Any":       {Kind: KindJSON, Type: ScalarJSON},
	"google.protobuf.Empty":     {Kind: KindEmpty, Type: "Boolean"},
}

// isWrapper reports whether md is one of the google.protobuf wrapper messages.
func isWrapper(md protoreflect.MessageDescriptor) bool {
	switch md.FullName() {
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return true
	}
	return false
}

// message is how values of message md map, in direction dir.
func (b *builder) message(md protoreflect.MessageDescriptor, dir direction) Value {
	if v, ok := wellKnown[md.FullName()]; ok {
		if v.Type != "Boolean" && v.Type != "String" {
			b.scalars[v.Type] = true
		}
		return v
	}
	if isWrapper(md) {
		inner := md.Fields().ByNumber(1)
		v := b.single(inner.Kind(), nil, nil, dir)
		v.Wrapper = true
		return v
	}
	if dir == output {
		o := b.objects[md]
		if o == nil {
			if b.outputFieldCount(md) == 0 {
				return Value{Kind: KindEmpty, Type: "Boolean"}
			}
			o = b.object(md)
		}
		return Value{Kind: KindMessage, Type: o.Name, Object: o}
	}
	in := b.inputs[md]
	if in == nil {
		if b.inputFieldCount(md) == 0 {
			return Value{Kind: KindEmpty, Type: "Boolean"}
		}
		in = &Input{Name: b.typeName(md) + "Input", Message: md}
		b.claim(in.Name, "the input of message "+string(md.FullName()), Claim{Def: md.FullName(), Input: true})
		b.inputs[md] = in
		first := b.inputByName[in.Name]
		if first == nil {
			b.inputByName[in.Name] = in
		}
		b.fillInput(in)
		if first != nil && first.Message.FullName() == md.FullName() { // else a name collision, reported
			b.copies = append(b.copies, copyOf{md, &first.Fields, &in.Fields})
		}
	}
	return Value{Kind: KindMessage, Type: in.Name, Input: in}
}

func (b *builder) outputFieldCount(md protoreflect.MessageDescriptor) int {
	n := len(b.messageLinks(md))
	fields := md.Fields()
	for i := range fields.Len() {
		if b.behaviorsOf(fields.Get(i))&behaviorInputOnly == 0 {
			n++
		}
	}
	return n
}

func (b *builder) inputFieldCount(md protoreflect.MessageDescriptor) int {
	n := 0
	fields := md.Fields()
	for i := range fields.Len() {
		if b.behaviorsOf(fields.Get(i))&behaviorOutputOnly == 0 {
			n++
		}
	}
	return n
}

// object makes the object type of md: its fields, less INPUT_ONLY ones, then its links.
func (b *builder) object(md protoreflect.MessageDescriptor) *Object {
	o := &Object{Name: b.typeName(md), Message: md}
	b.claim(o.Name, "message "+string(md.FullName()), Claim{Def: md.FullName()})
	b.objects[md] = o
	first := b.objectByName[o.Name]
	if first == nil {
		b.objectByName[o.Name] = o
	}
	fields := md.Fields()
	o.byName = make(map[string]*Field, fields.Len())
	for i := range fields.Len() {
		fd := fields.Get(i)
		if b.behaviorsOf(fd)&behaviorInputOnly != 0 {
			continue
		}
		if f := b.field(fd, output); f != nil {
			o.Fields = append(o.Fields, f)
			o.byName[f.Name] = f
		}
	}
	for _, l := range b.messageLinks(md) {
		f := b.link(o, l)
		if f == nil {
			continue
		}
		if o.byName[f.Name] != nil {
			b.problemf("link %s.%s: %s already has a field %s", md.FullName(), l.Field, o.Name, f.Name)
			continue
		}
		o.Fields = append(o.Fields, f)
		o.byName[f.Name] = f
	}
	if first != nil && first.Message.FullName() == md.FullName() { // else a name collision, reported
		b.copies = append(b.copies, copyOf{md, &first.Fields, &o.Fields})
	}
	return o
}

// fillInput adds the fields of in.Message, less OUTPUT_ONLY ones, and its oneofs.
func (b *builder) fillInput(in *Input) {
	fields := in.Message.Fields()
	in.byName = make(map[string]*Field, fields.Len())
	for i := range fields.Len() {
		fd := fields.Get(i)
		if b.behaviorsOf(fd)&behaviorOutputOnly != 0 {
			continue
		}
		if f := b.field(fd, input); f != nil {
			in.Fields = append(in.Fields, f)
			in.byName[f.Name] = f
		}
	}
	oneofs := in.Message.Oneofs()
	for i := range oneofs.Len() {
		od := oneofs.Get(i)
		if od.IsSynthetic() {
			continue
		}
		if names := members(in.Fields, od); len(names) > 0 {
			in.Oneofs = append(in.Oneofs, Oneof{Desc: od, Fields: names})
		}
	}
}

// members returns the names of the fields of oneof od among fields.
func members(fields []*Field, od protoreflect.OneofDescriptor) []string {
	var names []string
	for _, f := range fields {
		if f.Oneof == od {
			names = append(names, f.Name)
		}
	}
	return names
}

func (b *builder) field(fd protoreflect.FieldDescriptor, dir direction) *Field {
	name := b.fieldNames(fd.ContainingMessage())[fd.Index()]
	if name == "" {
		return nil // reported by fieldNames
	}
	f := &Field{Name: name, Desc: fd, Value: b.value(fd, dir)}
	if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
		f.Oneof = od
	}
	// Output: repeated fields and maps are never null, nor are singular fields without presence
	// (proto3 scalars and enums); messages, oneof members and optional fields are nullable. Input:
	// everything is nullable except REQUIRED (or proto2 required) fields outside a oneof.
	if dir == output {
		f.nonNull = f.List || !fd.HasPresence() || fd.Cardinality() == protoreflect.Required
	} else {
		f.nonNull = f.Oneof == nil && (fd.Cardinality() == protoreflect.Required || b.behaviorsOf(fd)&behaviorRequired != 0)
	}
	return f
}

// fieldNames returns the GraphQL names of the fields of md, by field index (see fieldNames), and
// reports once per message the fields that cannot have a name: an empty string.
func (b *builder) fieldNames(md protoreflect.MessageDescriptor) []string {
	if names, ok := b.fieldNamesOf[md]; ok {
		return names
	}
	names := fieldNames(md)
	fields := md.Fields()
	byName := make(map[string][]string, len(names))
	for i, name := range names {
		byName[name] = append(byName[name], string(fields.Get(i).Name()))
	}
	for i, name := range names {
		fd := fields.Get(i)
		switch {
		case name == "":
			continue
		case len(byName[name]) > 1:
			if byName[name][0] == string(fd.Name()) { // report each clash once
				b.problemf("message %s: fields %s would have one GraphQL name, %s (fields whose JSON names agree take their proto names); rename one of them",
					md.FullName(), strings.Join(byName[name], " and "), name)
			}
		case validName(name):
			continue
		case name == fd.JSONName():
			b.problemf("field %s: its JSON name %q is not a valid GraphQL name", fd.FullName(), name)
		default:
			b.problemf("field %s: its JSON name %q is shared with another field, so it takes its proto name, which is not a valid GraphQL name; rename it",
				fd.FullName(), fd.JSONName())
		}
		names[i] = ""
	}
	b.fieldNamesOf[md] = names
	return names
}

// fieldNames returns the GraphQL names of the fields of md, by field index: the JSON names, except
// that fields sharing a JSON name (proto2 allows foo_bar and fooBar, both "fooBar") each take their
// proto name, so that neither depends on the order of the fields. The names are not checked.
func fieldNames(md protoreflect.MessageDescriptor) []string {
	fields := md.Fields()
	count := make(map[string]int, fields.Len())
	for i := range fields.Len() {
		count[fields.Get(i).JSONName()]++
	}
	names := make([]string, fields.Len())
	for i := range fields.Len() {
		fd := fields.Get(i)
		names[i] = fd.JSONName()
		if count[names[i]] > 1 {
			names[i] = string(fd.Name())
		}
	}
	return names
}

// fieldName is the GraphQL name of field fd (see fieldNames).
func fieldName(fd protoreflect.FieldDescriptor) string {
	return fieldNames(fd.ContainingMessage())[fd.Index()]
}

// enum makes the enum type of ed; its values are the protobuf value names.
func (b *builder) enum(ed protoreflect.EnumDescriptor) *Enum {
	if e := b.enums[ed.FullName()]; e != nil {
		return e
	}
	values := ed.Values()
	e := &Enum{
		Name:     b.typeName(ed),
		Desc:     ed,
		Values:   make([]EnumValue, 0, values.Len()),
		byName:   make(map[string]protoreflect.EnumNumber, values.Len()),
		byNumber: make(map[protoreflect.EnumNumber]string, values.Len()),
	}
	b.claim(e.Name, "enum "+string(ed.FullName()), Claim{Def: ed.FullName()})
	b.enums[ed.FullName()] = e
	for i := range values.Len() {
		v := values.Get(i)
		name := string(v.Name())
		if !validName(name) || name == "true" || name == "false" || name == "null" {
			b.problemf("enum value %s: %q cannot be a GraphQL enum value", v.FullName(), name)
			continue
		}
		e.Values = append(e.Values, EnumValue{Name: name, Number: v.Number()})
		e.byName[name] = v.Number()
		if _, ok := e.byNumber[v.Number()]; !ok {
			e.byNumber[v.Number()] = name
		}
	}
	return e
}

// breakRequiredCycles makes nullable the REQUIRED message fields of inputs that lie on a cycle of
// non-null fields (message Node { Node parent = 1 [REQUIRED]; }): GraphQL forbids such inputs, as
// no value could satisfy them. Every field of such a cycle is relaxed, so the result does not depend
// on the order of the types.
func (b *builder) breakRequiredCycles() {
	edges := func(in *Input) []*Field {
		var out []*Field
		for _, f := range in.Fields {
			if f.nonNull && !f.List && f.Input != nil {
				out = append(out, f)
			}
		}
		return out
	}
	reaches := func(from, to *Input) bool {
		seen := map[*Input]bool{from: true}
		stack := []*Input{from}
		for len(stack) > 0 {
			in := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if in == to {
				return true
			}
			for _, f := range edges(in) {
				if !seen[f.Input] {
					seen[f.Input] = true
					stack = append(stack, f.Input)
				}
			}
		}
		return false
	}
	var relax []*Field
	for _, in := range b.inputs {
		for _, f := range edges(in) {
			if reaches(f.Input, in) {
				relax = append(relax, f)
			}
		}
	}
	for _, f := range relax {
		f.nonNull = false
	}
}

// sameFields reports whether two definitions of a message (registrations' copies of one file) map
// to the same GraphQL fields.
func sameFields(x, y []*Field) bool {
	return slices.EqualFunc(x, y, func(a, b *Field) bool {
		return a.Name == b.Name && a.Kind == b.Kind && typeRef(a) == typeRef(b)
	})
}
