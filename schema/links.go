package schema

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// messageLinks returns the links of message md: those its (gateway.options.v1.graphql_link)
// options declare, less any that Options.Links redeclares, then those of Options.Links.
func (b *builder) messageLinks(md protoreflect.MessageDescriptor) []Link {
	if links, ok := b.linksOf[md.FullName()]; ok {
		return links
	}
	declared, err := messageLinks(md)
	if err != nil {
		b.problemf("message %s: option (gateway.options.v1.graphql_link): %v", md.FullName(), err)
	}
	configured := b.links[md.FullName()]
	links := make([]Link, 0, len(declared)+len(configured))
	for _, l := range declared {
		if !slices.ContainsFunc(configured, func(c Link) bool { return c.Field == l.Field }) {
			links = append(links, l)
		}
	}
	links = append(links, configured...)
	b.linksOf[md.FullName()] = links
	return links
}

// link resolves link l on object o into a field, or reports why it cannot.
func (b *builder) link(o *Object, l Link) *Field {
	where := fmt.Sprintf("link %s.%s", o.Message.FullName(), l.Field)
	if !validName(l.Field) {
		b.problemf("%s: field name %q is not a valid GraphQL name", where, l.Field)
		return nil
	}
	m := b.linkMethod(where, l.Method)
	if m == nil {
		return nil
	}
	call := &LinkCall{Method: m, Path: "/" + methodKey(l.Method)}
	ok := true
	for _, name := range slices.Sorted(maps.Keys(l.Args)) {
		arg, err := linkArg(m, o.Message, name, l.Args[name])
		if err != nil {
			b.problemf("%s: %v", where, err)
			ok = false
			continue
		}
		call.Args = append(call.Args, arg)
	}

	var v Value
	switch {
	case l.Batch != nil && l.ResultField != "":
		b.problemf("%s: a batch link cannot have a result field", where)
		return nil
	case l.Batch != nil:
		if !ok {
			return nil
		}
		if call.Batch = b.batch(where, m, l.Batch, call.Args); call.Batch == nil {
			return nil
		}
		v = b.message(m.Output(), output)
	case l.ResultField != "":
		rf := findField(m.Output(), l.ResultField)
		if rf == nil {
			b.problemf("%s: result field: %s has no field %q", where, m.Output().FullName(), l.ResultField)
			return nil
		}
		call.ResultField = rf
		v = b.value(rf, output)
	default:
		v = b.message(m.Output(), output)
	}
	if !ok {
		return nil
	}
	return &Field{Name: l.Field, Value: v, Link: call}
}

// linkMethod finds the unary method a link calls.
func (b *builder) linkMethod(where, name string) protoreflect.MethodDescriptor {
	key := methodKey(name)
	if key == "" {
		b.problemf("%s: %q is not a method name (package.Service/Method)", where, name)
		return nil
	}
	m := b.methods[key]
	switch {
	case m == nil:
		b.problemf("%s: unknown method %s", where, key)
		return nil
	case m.IsStreamingClient() || m.IsStreamingServer():
		b.problemf("%s: method %s is streaming; links call unary methods", where, key)
		return nil
	}
	return m
}

// linkArg resolves one argument of a link: request field name of m's request, set from path in
// parent.
func linkArg(m protoreflect.MethodDescriptor, parent protoreflect.MessageDescriptor, name, path string) (LinkArg, error) {
	rf := findField(m.Input(), name)
	if rf == nil {
		return LinkArg{}, fmt.Errorf("request %s has no field %q", m.Input().FullName(), name)
	}
	if rf.IsList() || rf.IsMap() {
		return LinkArg{}, fmt.Errorf("request field %s is repeated; an argument sets a singular field", rf.FullName())
	}
	src, err := fieldPath(parent, path)
	if err != nil {
		return LinkArg{}, err
	}
	if leaf := src[len(src)-1]; !sameType(rf, leaf) {
		return LinkArg{}, fmt.Errorf("request field %s (%s) cannot be set from %s (%s)", rf.FullName(), typeString(rf), leaf.FullName(), typeString(leaf))
	}
	return LinkArg{Request: rf, Source: src}, nil
}

// batch resolves the batch method of a link whose single argument is the key.
func (b *builder) batch(where string, m protoreflect.MethodDescriptor, bl *BatchLink, args []LinkArg) *BatchCall {
	bm := b.linkMethod(where+": batch", bl.Method)
	if bm == nil {
		return nil
	}
	if len(args) != 1 {
		b.problemf("%s: a batch link takes exactly one argument, its key; it has %d", where, len(args))
		return nil
	}
	key := args[0].Source[len(args[0].Source)-1]
	call := &BatchCall{Method: bm, Path: "/" + methodKey(bl.Method)}
	problems := len(b.problems)

	call.RequestField = findField(bm.Input(), bl.RequestField)
	switch rf := call.RequestField; {
	case rf == nil:
		b.problemf("%s: batch request %s has no field %q", where, bm.Input().FullName(), bl.RequestField)
	case !rf.IsList() || rf.IsMap() || !sameType(rf, key):
		b.problemf("%s: batch request field %s (%s) cannot take the keys from %s (%s)", where, rf.FullName(), typeString(rf), key.FullName(), typeString(key))
	}

	call.ResponseField = findField(bm.Output(), bl.ResponseField)
	switch rf := call.ResponseField; {
	case rf == nil:
		b.problemf("%s: batch response %s has no field %q", where, bm.Output().FullName(), bl.ResponseField)
	case !rf.IsList() || rf.IsMap() || rf.Message() == nil:
		b.problemf("%s: batch response field %s is not a repeated message field", where, rf.FullName())
	case rf.Message().FullName() != m.Output().FullName():
		b.problemf("%s: batch response field %s holds %s, but %s returns %s", where, rf.FullName(), rf.Message().FullName(), m.FullName(), m.Output().FullName())
	default:
		call.KeyField = findField(rf.Message(), bl.KeyField)
		switch kf := call.KeyField; {
		case kf == nil:
			b.problemf("%s: batch result %s has no field %q", where, rf.Message().FullName(), bl.KeyField)
		case kf.IsList() || kf.IsMap() || kf.Message() != nil || !sameType(kf, key):
			b.problemf("%s: batch key field %s (%s) cannot be matched with %s (%s)", where, kf.FullName(), typeString(kf), key.FullName(), typeString(key))
		}
	}
	if len(b.problems) > problems {
		return nil
	}
	return call
}

// findField finds a field of md by proto name or JSON name.
func findField(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	fields := md.Fields()
	if fd := fields.ByName(protoreflect.Name(name)); fd != nil {
		return fd
	}
	return fields.ByJSONName(name)
}

// fieldPath resolves a dotted path of singular fields in md; all but the last are messages.
func fieldPath(md protoreflect.MessageDescriptor, path string) ([]protoreflect.FieldDescriptor, error) {
	parts := strings.Split(path, ".")
	out := make([]protoreflect.FieldDescriptor, 0, len(parts))
	for i, name := range parts {
		fd := findField(md, name)
		switch {
		case fd == nil:
			return nil, fmt.Errorf("%s has no field %q", md.FullName(), name)
		case fd.IsList() || fd.IsMap():
			return nil, fmt.Errorf("field %s is repeated; a link reads singular fields", fd.FullName())
		case i < len(parts)-1 && fd.Message() == nil:
			return nil, fmt.Errorf("field %s is not a message, so %q goes nowhere", fd.FullName(), path)
		}
		out = append(out, fd)
		if i < len(parts)-1 {
			md = fd.Message()
		}
	}
	return out, nil
}

// sameType reports whether values of field x can be set in field y: the same protobuf type.
func sameType(x, y protoreflect.FieldDescriptor) bool {
	if x.Kind() != y.Kind() {
		return false
	}
	switch {
	case x.Enum() != nil:
		return x.Enum().FullName() == y.Enum().FullName()
	case x.Message() != nil:
		return x.Message().FullName() == y.Message().FullName()
	}
	return true
}

func typeString(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "map"
	case fd.Enum() != nil:
		return string(fd.Enum().FullName())
	case fd.Message() != nil:
		return string(fd.Message().FullName())
	}
	return fd.Kind().String()
}
