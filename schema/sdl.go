package schema

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// The descriptions of the gateway's scalars.
var scalarDescriptions = map[string]string{
	ScalarUInt32:   "An unsigned 32-bit integer (protobuf uint32, fixed32), 0 to 4294967295, which GraphQL's Int cannot hold beyond 2147483647. A number on output; a number or a string holding one in decimal on input.",
	ScalarInt64:    "A signed 64-bit integer (protobuf int64, sint64, sfixed64). A string on output, e.g. \"-42\", so that JSON keeps its precision; a string or a number on input.",
	ScalarUInt64:   "An unsigned 64-bit integer (protobuf uint64, fixed64). A string on output, e.g. \"42\"; a string or a number on input.",
	ScalarBytes:    "Bytes (protobuf bytes), in standard base64 with padding. Input may also use the URL-safe alphabet and omit the padding.",
	ScalarDateTime: "A point in time (google.protobuf.Timestamp) in RFC 3339 form, in UTC on output: \"2024-05-01T12:30:00Z\", with 0, 3, 6 or 9 fractional digits.",
	ScalarDuration: "A span of time (google.protobuf.Duration): seconds with up to 9 fractional digits and the suffix \"s\", e.g. \"1.5s\" or \"-3s\".",
	ScalarJSON:     "Any JSON value: protobuf maps, google.protobuf.Struct, Value, ListValue and Any, in protobuf's JSON form.",
}

var scalarDirectives = map[string]string{
	ScalarDateTime: ` @specifiedBy(url: "https://www.rfc-editor.org/rfc/rfc3339")`,
}

// writeSDL renders the schema: the root types, then the other types sorted by name.
func writeSDL(s *Schema, scalars map[string]bool) string {
	var w sdlWriter
	w.root("Query", s.ops[0], true)
	w.root("Mutation", s.ops[1], false)
	w.root("Subscription", s.ops[2], false)

	type named struct {
		name  string
		write func()
	}
	var types []named
	for name, o := range s.objects {
		types = append(types, named{name, func() { w.object(o) }})
	}
	for name, in := range s.inputs {
		types = append(types, named{name, func() { w.input(in) }})
	}
	for name, e := range s.enums {
		types = append(types, named{name, func() { w.enum(e) }})
	}
	for name := range scalars {
		types = append(types, named{name, func() { w.scalar(name) }})
	}
	slices.SortFunc(types, func(a, b named) int { return strings.Compare(a.name, b.name) })
	for _, t := range types {
		t.write()
	}
	return w.String()
}

type sdlWriter struct {
	strings.Builder
	started bool
}

func (w *sdlWriter) open(keyword, name, description string) {
	if w.started {
		w.WriteByte('\n')
	}
	w.started = true
	w.description(description, "")
	fmt.Fprintf(w, "%s %s {\n", keyword, name)
}

func (w *sdlWriter) root(name string, fields []*RootField, required bool) {
	if len(fields) == 0 && !required {
		return
	}
	w.open("type", name, "")
	if len(fields) == 0 {
		w.description("Always null. GraphQL requires a Query type with a field, and none of the services' methods is a query.", "  ")
		w.WriteString("  " + PlaceholderField + ": Boolean\n")
	}
	for _, f := range fields {
		w.description(description(f.Method), "  ")
		w.WriteString("  " + f.Name)
		w.arguments(f.Args)
		w.WriteString(": " + valueRef(f.Result))
		if deprecated(f.Method) {
			w.WriteString(" @deprecated")
		}
		w.WriteByte('\n')
	}
	w.WriteString("}\n")
}

// arguments writes a root field's arguments: on one line when none has a description.
func (w *sdlWriter) arguments(args *Input) {
	if len(args.Fields) == 0 {
		return
	}
	descriptions := make([]string, len(args.Fields))
	multiline := false
	for i, f := range args.Fields {
		descriptions[i] = fieldDescription(f, args.Fields, input)
		multiline = multiline || descriptions[i] != ""
	}
	w.WriteByte('(')
	for i, f := range args.Fields {
		switch {
		case multiline:
			w.WriteString("\n")
			w.description(descriptions[i], "    ")
			w.WriteString("    ")
		case i > 0:
			w.WriteString(", ")
		}
		w.WriteString(f.Name + ": " + typeRef(f) + inputDeprecation(f))
	}
	if multiline {
		w.WriteString("\n  ")
	}
	w.WriteByte(')')
}

func (w *sdlWriter) object(o *Object) {
	w.open("type", o.Name, description(o.Message))
	for _, f := range o.Fields {
		w.description(fieldDescription(f, o.Fields, output), "  ")
		w.WriteString("  " + f.Name + ": " + typeRef(f))
		if f.Desc != nil && deprecated(f.Desc) {
			w.WriteString(" @deprecated")
		}
		w.WriteByte('\n')
	}
	w.WriteString("}\n")
}

func (w *sdlWriter) input(in *Input) {
	w.open("input", in.Name, description(in.Message))
	for _, f := range in.Fields {
		w.description(fieldDescription(f, in.Fields, input), "  ")
		w.WriteString("  " + f.Name + ": " + typeRef(f) + inputDeprecation(f) + "\n")
	}
	w.WriteString("}\n")
}

func (w *sdlWriter) enum(e *Enum) {
	w.open("enum", e.Name, description(e.Desc))
	values := e.Desc.Values()
	for _, v := range e.Values {
		vd := values.ByName(protoreflect.Name(v.Name))
		w.description(description(vd), "  ")
		w.WriteString("  " + v.Name)
		if deprecated(vd) {
			w.WriteString(" @deprecated")
		}
		w.WriteByte('\n')
	}
	w.WriteString("}\n")
}

func (w *sdlWriter) scalar(name string) {
	if w.started {
		w.WriteByte('\n')
	}
	w.started = true
	w.description(scalarDescriptions[name], "")
	w.WriteString("scalar " + name + scalarDirectives[name] + "\n")
}

// description writes text as a GraphQL description: a string on one line, a block string on several.
func (w *sdlWriter) description(text, indent string) {
	if text == "" {
		return
	}
	if !strings.Contains(text, "\n") {
		w.WriteString(indent + `"`)
		for _, r := range text {
			switch {
			case r == '"' || r == '\\':
				w.WriteByte('\\')
				w.WriteRune(r)
			case r < 0x20 && r != '\t':
				fmt.Fprintf(w, `\u%04x`, r)
			default:
				w.WriteRune(r)
			}
		}
		w.WriteString("\"\n")
		return
	}
	w.WriteString(indent + `"""` + "\n")
	for line := range strings.SplitSeq(text, "\n") {
		if line != "" {
			w.WriteString(indent + strings.ReplaceAll(line, `"""`, `\"""`))
		}
		w.WriteByte('\n')
	}
	w.WriteString(indent + `"""` + "\n")
}

// fieldDescription is the description of a field of an object or input type, or of an argument:
// the field's comments, and for a member of a oneof which other fields it excludes; for a link,
// what it calls.
func fieldDescription(f *Field, siblings []*Field, dir direction) string {
	if f.Link != nil {
		return linkDescription(f.Link)
	}
	text := description(f.Desc)
	if f.Oneof == nil {
		return text
	}
	names := strings.Join(members(siblings, f.Oneof), ", ")
	note := fmt.Sprintf("Part of oneof %s: at most one of %s is set.", f.Oneof.Name(), names)
	if dir == input {
		note = fmt.Sprintf("Part of oneof %s: set at most one of %s.", f.Oneof.Name(), names)
	}
	if text == "" {
		return note
	}
	return text + "\n\n" + note
}

func linkDescription(c *LinkCall) string {
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		src := make([]string, len(a.Source))
		for j, fd := range a.Source {
			src[j] = fieldName(fd)
		}
		args[i] = fieldName(a.Request) + ": " + strings.Join(src, ".")
	}
	text := fmt.Sprintf("Calls %s(%s)", c.Path[1:], strings.Join(args, ", "))
	if c.ResultField != nil {
		text += " and returns its " + fieldName(c.ResultField)
	}
	if c.Batch != nil {
		text += ", batched into " + c.Batch.Path[1:]
	}
	return text + "."
}

// typeRef is the GraphQL type of a field (see builder.field for which are non-null). Links are
// nullable.
func typeRef(f *Field) string {
	if f.Desc == nil {
		return valueRef(f.Value)
	}
	ref := valueRef(f.Value)
	if f.nonNull {
		return ref + "!"
	}
	return ref
}

// valueRef is the nullable GraphQL type of a value: a root field's result or a link's.
func valueRef(v Value) string {
	base := v.Type
	if v.Kind == KindFieldMask {
		base = "[String!]"
	}
	if v.List {
		return "[" + base + "!]"
	}
	return base
}

// inputDeprecation marks a deprecated input field or argument; GraphQL allows it only where the
// field is nullable.
func inputDeprecation(f *Field) string {
	if !f.nonNull && deprecated(f.Desc) {
		return " @deprecated"
	}
	return ""
}
